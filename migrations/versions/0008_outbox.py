"""the outbox: every message to a citizen (reply, status, rating, survey, reminder) as a row,
delivered by a job (customer-service text within 48 hours, else a template message); one message
in flight per recipient, enforced by a partial unique index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('reporter_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=12), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('link_path', sa.String(length=300), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('via', sa.String(length=10), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('msgid', sa.BigInteger(), nullable=True),
        sa.Column('receipt', sa.String(length=40), nullable=True),
        sa.Column('next_at', sa.DateTime(), nullable=False),
        sa.Column('claim', sa.String(length=32), nullable=True),
        sa.Column('lease_until', sa.DateTime(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sending_at', sa.DateTime(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.CheckConstraint("purpose IN ('reply', 'status', 'rating', 'survey', 'reminder')", name=op.f('ck_outbox_purpose')),
        sa.CheckConstraint("status IN ('queued', 'claimed', 'sending', 'sent', 'failed', 'unknown')", name=op.f('ck_outbox_status')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_outbox_case_id_cases')),
        sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], name=op.f('fk_outbox_reporter_id_reporters')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    )
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_case_id'), ['case_id'], unique=False)
        batch_op.create_index('ix_outbox_lease', ['lease_until'], unique=False, postgresql_where=sa.text("status IN ('claimed', 'sending')"), sqlite_where=sa.text("status IN ('claimed', 'sending')"))
        batch_op.create_index(batch_op.f('ix_outbox_msgid'), ['msgid'], unique=False)
        batch_op.create_index('ix_outbox_reporter_open', ['reporter_id', 'id'], unique=False, postgresql_where=sa.text("status IN ('queued', 'claimed', 'sending')"), sqlite_where=sa.text("status IN ('queued', 'claimed', 'sending')"))
        batch_op.create_index(batch_op.f('ix_outbox_status'), ['status'], unique=False)
        batch_op.create_index('ix_outbox_waiting', ['next_at', 'id'], unique=False, postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))
        batch_op.create_index('uq_outbox_in_flight', ['reporter_id'], unique=True, postgresql_where=sa.text("status IN ('claimed', 'sending')"), sqlite_where=sa.text("status IN ('claimed', 'sending')"))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch_op:
        batch_op.drop_index('uq_outbox_in_flight', postgresql_where=sa.text("status IN ('claimed', 'sending')"), sqlite_where=sa.text("status IN ('claimed', 'sending')"))
        batch_op.drop_index('ix_outbox_waiting', postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))
        batch_op.drop_index(batch_op.f('ix_outbox_status'))
        batch_op.drop_index('ix_outbox_reporter_open', postgresql_where=sa.text("status IN ('queued', 'claimed', 'sending')"), sqlite_where=sa.text("status IN ('queued', 'claimed', 'sending')"))
        batch_op.drop_index(batch_op.f('ix_outbox_msgid'))
        batch_op.drop_index('ix_outbox_lease', postgresql_where=sa.text("status IN ('claimed', 'sending')"), sqlite_where=sa.text("status IN ('claimed', 'sending')"))
        batch_op.drop_index(batch_op.f('ix_outbox_case_id'))

    op.drop_table('outbox')
