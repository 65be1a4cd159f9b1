"""the staff desk's foundation: accounts for every role (active or not, a unit liaison's unit,
the commission's name), server-side desk sessions, handovers to units with their due date, and
the search terms of each case's text with their index (GIN on PostgreSQL, FTS5 on SQLite)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

PG_INDEX = ("CREATE INDEX ix_case_search_terms ON case_search "
            "USING gin (array_to_tsvector(string_to_array(terms, ' ')))")
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE case_search_fts USING fts5(terms, content='case_search', content_rowid='case_id')",
    "CREATE TRIGGER case_search_ai AFTER INSERT ON case_search BEGIN "
    "INSERT INTO case_search_fts(rowid, terms) VALUES (new.case_id, new.terms); END",
    "CREATE TRIGGER case_search_ad AFTER DELETE ON case_search BEGIN "
    "INSERT INTO case_search_fts(case_search_fts, rowid, terms) VALUES ('delete', old.case_id, old.terms); END",
    "CREATE TRIGGER case_search_au AFTER UPDATE ON case_search BEGIN "
    "INSERT INTO case_search_fts(case_search_fts, rowid, terms) VALUES ('delete', old.case_id, old.terms); "
    "INSERT INTO case_search_fts(rowid, terms) VALUES (new.case_id, new.terms); END",
]


def upgrade() -> None:
    with op.batch_alter_table('offices') as batch_op:
        batch_op.add_column(sa.Column('commission_name', sa.String(length=100), nullable=True))
    with op.batch_alter_table('staff') as batch_op:
        batch_op.add_column(sa.Column('unit_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_staff_unit_id_units'), 'units', ['unit_id'], ['id'])
    op.create_table(
        'staff_sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_sessions_staff_id_staff'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_staff_sessions')),
    )
    op.create_index(op.f('ix_staff_sessions_staff_id'), 'staff_sessions', ['staff_id'], unique=False)
    op.create_table(
        'handovers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('staff_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_handovers_case_id_cases')),
        sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_handovers_staff_id_staff')),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_handovers_unit_id_units')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_handovers')),
    )
    op.create_index(op.f('ix_handovers_case_id'), 'handovers', ['case_id'], unique=False)
    op.create_index(op.f('ix_handovers_unit_id'), 'handovers', ['unit_id'], unique=False)
    op.create_table(
        'case_search',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('terms', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_search_case_id_cases'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_search')),
    )
    op.create_index('ix_cases_created_at_id', 'cases', ['created_at', 'id'], unique=False)
    op.create_index('ix_cases_priority_created_at_id', 'cases', ['priority', 'created_at', 'id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_INDEX)
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)
    _index_existing_cases()


def _index_existing_cases() -> None:
    from core.search import terms

    conn = op.get_bind()
    table = sa.table('case_search', sa.column('case_id'), sa.column('terms'))
    last = 0
    while True:
        rows = conn.execute(sa.text("SELECT id, text FROM cases WHERE id > :last ORDER BY id LIMIT 1000"),
                            {"last": last}).all()
        if not rows:
            return
        conn.execute(sa.insert(table), [{"case_id": i, "terms": " ".join(terms(t or ""))} for i, t in rows])
        last = rows[-1][0]


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX ix_case_search_terms")
    else:
        for trigger in ("case_search_ai", "case_search_ad", "case_search_au"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE case_search_fts")
    op.drop_index('ix_cases_priority_created_at_id', table_name='cases')
    op.drop_index('ix_cases_created_at_id', table_name='cases')
    op.drop_table('case_search')
    op.drop_index(op.f('ix_handovers_unit_id'), table_name='handovers')
    op.drop_index(op.f('ix_handovers_case_id'), table_name='handovers')
    op.drop_table('handovers')
    op.drop_index(op.f('ix_staff_sessions_staff_id'), table_name='staff_sessions')
    op.drop_table('staff_sessions')
    with op.batch_alter_table('staff') as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_staff_unit_id_units'), type_='foreignkey')
        batch_op.drop_column('active')
        batch_op.drop_column('unit_id')
    with op.batch_alter_table('offices') as batch_op:
        batch_op.drop_column('commission_name')
