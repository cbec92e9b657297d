"""Initial schema: every table as of the move to Alembic (issue #14).

Revision ID: 7c60635c24f1
Revises: (none, the first revision)
Create Date: 2026-11-29 10:24:51.963120

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '7c60635c24f1'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nrn', sa.String(length=11), nullable=False),
    sa.Column('given_name', sa.String(), nullable=False),
    sa.Column('surname', sa.String(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('cerbere_username', sa.String(length=64), nullable=True),
    sa.Column('contexts', sa.JSON(), nullable=False),
    sa.Column('cerbere_password_hash', sa.String(length=255), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('cerbere_username'),
    sa.UniqueConstraint('nrn')
    )
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_email'), ['email'], unique=False)

    op.create_table('activation_link',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('dossier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('demarche_code', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('notification',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('saml_outstanding_request',
    sa.Column('request_id', sa.String(length=100), nullable=False),
    sa.Column('relay_state', sa.String(length=100), nullable=False),
    sa.Column('next_url', sa.String(length=2000), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('request_id')
    )
    with op.batch_alter_table('saml_outstanding_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saml_outstanding_request_relay_state'), ['relay_state'], unique=True)

    op.create_table('saml_pending_authn',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('saml_seen_assertion',
    sa.Column('assertion_id', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('assertion_id')
    )
    op.create_table('saml_seen_authn_request',
    sa.Column('sp_entity_id', sa.String(length=500), nullable=False),
    sa.Column('request_id', sa.String(length=200), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sp_entity_id', 'request_id')
    )
    with op.batch_alter_table('saml_seen_authn_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saml_seen_authn_request_expires_at'), ['expires_at'], unique=False)

    op.create_table('saml_seen_logout_request',
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('request_id', sa.String(length=200), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('issuer', 'request_id')
    )
    with op.batch_alter_table('saml_seen_logout_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_saml_seen_logout_request_expires_at'), ['expires_at'], unique=False)

    op.create_table('web_session',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id_hash')
    )
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_session_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('web_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_session_expires_at'))

    op.drop_table('web_session')
    with op.batch_alter_table('saml_seen_logout_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saml_seen_logout_request_expires_at'))

    op.drop_table('saml_seen_logout_request')
    with op.batch_alter_table('saml_seen_authn_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saml_seen_authn_request_expires_at'))

    op.drop_table('saml_seen_authn_request')
    op.drop_table('saml_seen_assertion')
    op.drop_table('saml_pending_authn')
    with op.batch_alter_table('saml_outstanding_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_saml_outstanding_request_relay_state'))

    op.drop_table('saml_outstanding_request')
    op.drop_table('notification')
    op.drop_table('dossier')
    op.drop_table('document')
    op.drop_table('activation_link')
    with op.batch_alter_table('account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_email'))

    op.drop_table('account')
