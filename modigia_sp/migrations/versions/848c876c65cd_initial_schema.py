"""Initial schema: every table as of the move to Alembic (issue #14).

Revision ID: 848c876c65cd
Revises: (none, the first revision)
Create Date: 2026-11-29 10:24:52.009207

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '848c876c65cd'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name_id', sa.String(length=200), nullable=False),
    sa.Column('idp_entity_id', sa.String(length=500), nullable=False),
    sa.Column('cerbere_username', sa.String(), nullable=False),
    sa.Column('given_name', sa.String(), nullable=False),
    sa.Column('surname', sa.String(), nullable=False),
    sa.Column('email', sa.String(), nullable=False),
    sa.Column('context', sa.String(), nullable=False),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name_id')
    )
    op.create_table('contact_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('enrolment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course', sa.String(length=40), nullable=False),
    sa.Column('enrolled_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'course')
    )
    op.create_table('lesson_completion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course', sa.String(length=40), nullable=False),
    sa.Column('lesson', sa.String(length=40), nullable=False),
    sa.Column('completed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'lesson')
    )
    op.create_table('policy_acceptance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('document', sa.String(length=40), nullable=False),
    sa.Column('version', sa.String(length=20), nullable=False),
    sa.Column('accepted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'document', 'version')
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
    op.drop_table('policy_acceptance')
    op.drop_table('lesson_completion')
    op.drop_table('enrolment')
    op.drop_table('contact_message')
    op.drop_table('user')
