"""Initial schema: every table as of the move to Alembic (issue #14).

Revision ID: e3b630b83f1c
Revises: (none, the first revision)
Create Date: 2026-11-29 10:24:51.628777

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e3b630b83f1c'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('citizen',
    sa.Column('nrn', sa.String(length=11), nullable=False),
    sa.Column('persona_id', sa.String(length=50), nullable=False),
    sa.Column('given_name', sa.String(), nullable=False),
    sa.Column('surname', sa.String(), nullable=False),
    sa.Column('email', sa.String(), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('fedid', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('nrn'),
    sa.UniqueConstraint('fedid'),
    sa.UniqueConstraint('persona_id')
    )
    op.create_table('eid_spent_challenge',
    sa.Column('nonce_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('nonce_hash')
    )
    op.create_table('itsme_assertion_jti',
    sa.Column('jti', sa.String(length=200), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )
    op.create_table('bel_registration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('nrn', sa.String(length=11), nullable=False),
    sa.Column('nationality', sa.String(length=80), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('link_digest', sa.String(length=64), nullable=False),
    sa.Column('paper_code_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('code_attempts', sa.Integer(), nullable=False),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['nrn'], ['citizen.nrn'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('link_digest')
    )
    op.create_table('csam_account',
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('nrn', sa.String(length=11), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['nrn'], ['citizen.nrn'], ),
    sa.PrimaryKeyConstraint('username'),
    sa.UniqueConstraint('nrn')
    )
    op.create_table('eid_card',
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('holder_nrn', sa.String(length=11), nullable=False),
    sa.Column('pin_digest', sa.String(length=64), nullable=False),
    sa.Column('failed_pin_tries', sa.Integer(), nullable=False),
    sa.Column('blocked_at', sa.DateTime(), nullable=True),
    sa.Column('puk_digest', sa.String(length=64), nullable=True),
    sa.Column('failed_puk_tries', sa.Integer(), nullable=False),
    sa.Column('cert_serial', sa.String(length=64), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['holder_nrn'], ['citizen.nrn'], ),
    sa.PrimaryKeyConstraint('number')
    )
    op.create_table('email_code_challenge',
    sa.Column('id', sa.String(length=43), nullable=False),
    sa.Column('nrn', sa.String(length=11), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('replaced_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['nrn'], ['citizen.nrn'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('itsme_phone',
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('nrn', sa.String(length=11), nullable=False),
    sa.Column('code_digest', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['nrn'], ['citizen.nrn'], ),
    sa.PrimaryKeyConstraint('phone')
    )
    op.create_table('bel_submission',
    sa.Column('request_digest', sa.String(length=64), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('salt', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['bel_registration.id'], ),
    sa.PrimaryKeyConstraint('request_digest')
    )
    op.create_table('csam_app_code',
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('confirmed', sa.Boolean(), nullable=False),
    sa.Column('last_step', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['username'], ['csam_account.username'], ),
    sa.PrimaryKeyConstraint('username')
    )
    op.create_table('csam_app_code_login',
    sa.Column('id', sa.String(length=43), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['username'], ['csam_account.username'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('itsme_authorization',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=100), nullable=False),
    sa.Column('redirect_uri', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=200), nullable=False),
    sa.Column('nonce', sa.String(length=200), nullable=False),
    sa.Column('acr', sa.String(length=100), nullable=False),
    sa.Column('claims', sa.String(length=2000), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('phone_link_digest', sa.String(length=64), nullable=True),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('code_expires_at', sa.DateTime(), nullable=True),
    sa.Column('code_used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['phone'], ['itsme_phone.phone'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('phone_link_digest')
    )
    op.create_table('itsme_access_token',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('authorization_id', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['authorization_id'], ['itsme_authorization.id'], ),
    sa.PrimaryKeyConstraint('digest')
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
    op.drop_table('itsme_access_token')
    op.drop_table('itsme_authorization')
    op.drop_table('csam_app_code_login')
    op.drop_table('csam_app_code')
    op.drop_table('bel_submission')
    op.drop_table('itsme_phone')
    op.drop_table('email_code_challenge')
    op.drop_table('eid_card')
    op.drop_table('csam_account')
    op.drop_table('bel_registration')
    op.drop_table('itsme_assertion_jti')
    op.drop_table('eid_spent_challenge')
    op.drop_table('citizen')
