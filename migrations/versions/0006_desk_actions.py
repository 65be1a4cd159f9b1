"""the desk's actions: merged cases point at their main case, a handover keeps the text as handed,
the office's reply templates, units' reports (progress, proposed replies) with evidence files,
the commission's outcomes for transferred clues

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases') as batch_op:
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_cases_merged_into_id_cases'), 'cases', ['merged_into_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_cases_merged_into_id'), ['merged_into_id'], unique=False)
    with op.batch_alter_table('handovers') as batch_op:
        batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))
    op.create_table(
        'reply_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=60), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reply_templates')),
        sa.UniqueConstraint('title', name=op.f('uq_reply_templates_title')),
    )
    op.create_table(
        'unit_reports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('handover_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('progress', 'proposal')", name=op.f('ck_unit_reports_kind')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_unit_reports_case_id_cases')),
        sa.ForeignKeyConstraint(['decided_by'], ['staff.id'], name=op.f('fk_unit_reports_decided_by_staff')),
        sa.ForeignKeyConstraint(['handover_id'], ['handovers.id'], name=op.f('fk_unit_reports_handover_id_handovers')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_unit_reports_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_reports')),
    )
    op.create_index(op.f('ix_unit_reports_case_id'), 'unit_reports', ['case_id'], unique=False)
    op.create_index(op.f('ix_unit_reports_handover_id'), 'unit_reports', ['handover_id'], unique=False)
    op.create_table(
        'evidence_files',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('report_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('storage_path', sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_evidence_files_case_id_cases')),
        sa.ForeignKeyConstraint(['report_id'], ['unit_reports.id'], name=op.f('fk_evidence_files_report_id_unit_reports')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_files')),
    )
    op.create_index(op.f('ix_evidence_files_case_id'), 'evidence_files', ['case_id'], unique=False)
    op.create_index(op.f('ix_evidence_files_report_id'), 'evidence_files', ['report_id'], unique=False)
    op.create_table(
        'clue_outcomes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('decided_on', sa.Date(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_clue_outcomes_case_id_cases')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_clue_outcomes_staff_id_staff')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_clue_outcomes')),
    )
    op.create_index(op.f('ix_clue_outcomes_case_id'), 'clue_outcomes', ['case_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_clue_outcomes_case_id'), table_name='clue_outcomes')
    op.drop_table('clue_outcomes')
    op.drop_index(op.f('ix_evidence_files_report_id'), table_name='evidence_files')
    op.drop_index(op.f('ix_evidence_files_case_id'), table_name='evidence_files')
    op.drop_table('evidence_files')
    op.drop_index(op.f('ix_unit_reports_handover_id'), table_name='unit_reports')
    op.drop_index(op.f('ix_unit_reports_case_id'), table_name='unit_reports')
    op.drop_table('unit_reports')
    op.drop_table('reply_templates')
    with op.batch_alter_table('handovers') as batch_op:
        batch_op.drop_column('text')
    with op.batch_alter_table('cases') as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_merged_into_id'))
        batch_op.drop_constraint(batch_op.f('fk_cases_merged_into_id_cases'), type_='foreignkey')
        batch_op.drop_column('merged_into_id')
