"""lifecycle: statuses checked by the database (with `rated`), events name their staff member,
staff roles named apart (the group's liaison vs. the unit's and the commission's)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

STATUSES = ("received", "assigned", "handed_over", "transferred", "referred", "verifying", "filed",
            "rejected", "replied", "closed", "merged", "reopened", "rated")
ROLES = ("group_leader", "group_deputy", "group_member", "group_liaison", "group_office", "office_admin",
         "auditor", "unit_liaison", "commission_liaison")
# The deployment file's group roles, as stored before this revision.
OLD_ROLES = {"leader": "group_leader", "deputy": "group_deputy", "member": "group_member",
             "liaison": "group_liaison", "office": "group_office"}


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table('case_events') as batch_op:
        batch_op.add_column(sa.Column('staff_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_case_events_staff_id_staff'), 'staff', ['staff_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_case_events_staff_id'), ['staff_id'], unique=False)
    # "staff:<login>" becomes actor "staff" with a reference to the member.
    op.execute("UPDATE case_events SET staff_id = (SELECT staff.id FROM staff WHERE 'staff:' || staff.login = "
               "case_events.actor) WHERE actor LIKE 'staff:%'")
    op.execute("UPDATE case_events SET actor = 'staff' WHERE actor LIKE 'staff:%'")
    for old, new in OLD_ROLES.items():
        op.execute(f"UPDATE staff SET role = '{new}' WHERE role = '{old}'")
    with op.batch_alter_table('staff') as batch_op:
        batch_op.create_check_constraint(op.f('ck_staff_role'), _in('role', ROLES))
    with op.batch_alter_table('cases') as batch_op:
        batch_op.create_check_constraint(op.f('ck_cases_status'), _in('status', STATUSES))


def downgrade() -> None:
    with op.batch_alter_table('cases') as batch_op:
        batch_op.drop_constraint(op.f('ck_cases_status'), type_='check')
    with op.batch_alter_table('staff') as batch_op:
        batch_op.drop_constraint(op.f('ck_staff_role'), type_='check')
    for old, new in OLD_ROLES.items():
        op.execute(f"UPDATE staff SET role = '{old}' WHERE role = '{new}'")
    op.execute("UPDATE case_events SET actor = 'staff:' || (SELECT login FROM staff WHERE staff.id = "
               "case_events.staff_id) WHERE staff_id IS NOT NULL")
    with op.batch_alter_table('case_events') as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_staff_id'))
        batch_op.drop_constraint(batch_op.f('fk_case_events_staff_id_staff'), type_='foreignkey')
        batch_op.drop_column('staff_id')
