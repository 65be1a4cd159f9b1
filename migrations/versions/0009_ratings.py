"""ratings: the citizen's 满意 / 基本满意 / 不满意 (and why), once per case and round of reply,
with the case's unit at rating time and whether it escalated the case to the office

Revision ID: 0009
Revises: 0008 (0007 on its branch; re-chained in cards after the outbox's 0008)
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'ratings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('reply_round', sa.Integer(), nullable=False),
        sa.Column('score', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('via', sa.String(length=8), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=True),
        sa.Column('escalated', sa.Boolean(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("score IN ('satisfied', 'basically', 'unsatisfied')", name=op.f('ck_ratings_score')),
        sa.CheckConstraint("via IN ('chat', 'h5')", name=op.f('ck_ratings_via')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_ratings_case_id_cases')),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_ratings_unit_id_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
        sa.UniqueConstraint('case_id', 'reply_round', name='uq_ratings_case_id_reply_round'),
    )
    with op.batch_alter_table('ratings') as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ratings_unit_id'), ['unit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ratings_at'), ['at'], unique=False)


def downgrade() -> None:
    op.drop_table('ratings')
