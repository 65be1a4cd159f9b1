"""deadlines and warnings, survey campaigns: deadline reminders (once per handover and
reminder day), the units' yellow and red cards with their reasons, survey campaigns with their
recipients (personal link tokens as sha256) and answers; the round's reminder days and card
thresholds (null: the defaults)

Revision ID: 0010
Revises: 0009 (0007 on main; re-chained after the ratings' 0009)
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unit_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("level IN ('yellow', 'red')", name=op.f('ck_unit_cards_level')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_unit_cards_round_id_rounds')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_unit_cards_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_cards')),
    sa.UniqueConstraint('round_id', 'unit_id', name=op.f('uq_unit_cards_round_id'))
    )
    with op.batch_alter_table('unit_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_cards_unit_id'), ['unit_id'], unique=False)

    op.create_table('survey_campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=200), nullable=False),
    sa.Column('closes_on', sa.Date(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('fanned_out_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['staff.id'], name=op.f('fk_survey_campaigns_created_by_staff')),
    sa.ForeignKeyConstraint(['round_id'], ['rounds.id'], name=op.f('fk_survey_campaigns_round_id_rounds')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_survey_campaigns_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_campaigns')),
    sa.UniqueConstraint('code', name=op.f('uq_survey_campaigns_code'))
    )
    with op.batch_alter_table('survey_campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_campaigns_round_id'), ['round_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_campaigns_unit_id'), ['unit_id'], unique=False)

    op.create_table('survey_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=8), nullable=False),
    sa.Column('score', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('device_hash', sa.String(length=64), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("score IN ('satisfied', 'basically', 'unsatisfied')", name=op.f('ck_survey_answers_score')),
    sa.CheckConstraint("state IN ('counted', 'repeated', 'late')", name=op.f('ck_survey_answers_state')),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaigns.id'], name=op.f('fk_survey_answers_campaign_id_survey_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_answers'))
    )
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_answers_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_survey_answers_device_hash'), ['device_hash'], unique=False)

    op.create_table('survey_recipients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.Column('answered', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['survey_campaigns.id'], name=op.f('fk_survey_recipients_campaign_id_survey_campaigns')),
    sa.ForeignKeyConstraint(['reporter_id'], ['reporters.id'], name=op.f('fk_survey_recipients_reporter_id_reporters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_recipients')),
    sa.UniqueConstraint('campaign_id', 'reporter_id', name=op.f('uq_survey_recipients_campaign_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_survey_recipients_token_hash'))
    )
    with op.batch_alter_table('survey_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_recipients_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('deadline_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handover_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['handover_id'], ['handovers.id'], name=op.f('fk_deadline_reminders_handover_id_handovers')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_deadline_reminders_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deadline_reminders')),
    sa.UniqueConstraint('handover_id', 'days_before', name=op.f('uq_deadline_reminders_handover_id'))
    )
    with op.batch_alter_table('deadline_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_reminders_handover_id'), ['handover_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_reminders_unit_id'), ['unit_id'], unique=False)

    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminder_days', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('card_rules', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('rounds', schema=None) as batch_op:
        batch_op.drop_column('card_rules')
        batch_op.drop_column('reminder_days')

    with op.batch_alter_table('deadline_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_reminders_unit_id'))
        batch_op.drop_index(batch_op.f('ix_deadline_reminders_handover_id'))

    op.drop_table('deadline_reminders')
    with op.batch_alter_table('survey_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_recipients_campaign_id'))

    op.drop_table('survey_recipients')
    with op.batch_alter_table('survey_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_answers_device_hash'))
        batch_op.drop_index(batch_op.f('ix_survey_answers_campaign_id'))

    op.drop_table('survey_answers')
    with op.batch_alter_table('survey_campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_campaigns_unit_id'))
        batch_op.drop_index(batch_op.f('ix_survey_campaigns_round_id'))

    op.drop_table('survey_campaigns')
    with op.batch_alter_table('unit_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_cards_unit_id'))

    op.drop_table('unit_cards')
