"""retention of reporter identity: the office's period (days after a case closed, default 180)
and when a case's reporter identity was purged; the inbox's status filter gets its keyset index

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("offices", sa.Column("identity_retention_days", sa.Integer(), nullable=False, server_default="180"))
    op.add_column("cases", sa.Column("identity_purged_at", sa.DateTime(), nullable=True))
    op.create_index("ix_cases_status_created_at_id", "cases", ["status", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_status_created_at_id", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("identity_purged_at")
    with op.batch_alter_table("offices") as batch:
        batch.drop_column("identity_retention_days")
