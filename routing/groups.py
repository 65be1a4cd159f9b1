"""Which group inspects a unit, and which of its members may take a case (conflict of interest)."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.lifecycle import UNDISPOSED
from core.models import Case, Group, Round, Staff, group_units
from core.models.org import Role
from routing.places import Gazetteer

# Who takes a new case first: the group's liaison (联络员) triages, the leader last.
ROLE_ORDER = {Role.group_liaison.value: 0, Role.group_member.value: 1, Role.group_deputy.value: 2,
              Role.group_leader.value: 3, Role.group_office.value: 4}
OPEN = [s.value for s in UNDISPOSED]


def inspecting_group(s: Session, gaz: Gazetteer, unit_id: int, today: date) -> Group | None:
    """The group inspecting the unit (or the nearest of its ancestors) in an active round."""
    lineage = gaz.lineage(unit_id)
    rows = s.execute(
        sa.select(Group, group_units.c.unit_id).join(group_units, group_units.c.group_id == Group.id)
        .join(Round, Group.round_id == Round.id)
        .where(group_units.c.unit_id.in_(lineage), Round.start <= today, Round.end >= today)).all()
    if not rows:
        return None
    return min(rows, key=lambda r: lineage.index(r[1]))[0]


def choose_assignee(s: Session, gaz: Gazetteer, group_id: int, unit_id: int | None) -> tuple[Staff | None, list[str]]:
    """A member of the group to take the case, never one whose home unit is the case's unit (or
    contains it, or lies in it): returns the staff member (None if all conflict) and who was
    set aside for that reason."""
    staff = list(s.scalars(sa.select(Staff).where(Staff.group_id == group_id)))
    conflicted = [m for m in staff if unit_id and m.home_unit_id and gaz.related(m.home_unit_id, unit_id)]
    free = [m for m in staff if m not in conflicted]
    if not free:
        return None, [m.login for m in conflicted]
    load = dict(s.execute(sa.select(Case.assignee_id, sa.func.count()).where(
        Case.assignee_id.in_([m.id for m in free]), Case.status.in_(OPEN)).group_by(Case.assignee_id)).all())
    pick = min(free, key=lambda m: (ROLE_ORDER.get(m.role, 9), load.get(m.id, 0), m.id))
    return pick, [m.login for m in conflicted]
