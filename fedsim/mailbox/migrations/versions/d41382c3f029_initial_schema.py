"""Initial schema: every table as of the move to Alembic (issue #14).

Revision ID: d41382c3f029
Revises: (none, the first revision)
Create Date: 2026-11-29 10:24:52.038857

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'd41382c3f029'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('mail_from', sa.String(), nullable=False),
    sa.Column('rcpt_tos', sa.String(), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('message')
