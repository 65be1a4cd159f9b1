"""qr codes: retired_at (a poster the deployment file no longer lists)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('qr_codes') as batch_op:
        batch_op.add_column(sa.Column('retired_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('qr_codes') as batch_op:
        batch_op.drop_column('retired_at')
