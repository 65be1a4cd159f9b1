"""Giving cases to a member (分派), one or many at once: each case through `access` (the
"assign" rule: in scope and still undecided), each a lifecycle move or record of its own, and
never to a member whose home unit is the case's unit, above it or under it (回避)."""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin.access import GROUP, visible_cases
from core import lifecycle
from core.models import Case, Staff, Unit
from core.models.case import CaseStatus as S
from core.models.org import Role


@dataclass
class Assigned:
    done: list[str] = field(default_factory=list)  # tracking numbers
    refused: list[tuple[str, str]] = field(default_factory=list)  # (tracking number, why)


def candidates(s: Session, staff: Staff) -> list[Staff]:
    """Whom `staff` may give cases to: the office anyone in a group, a group its own members."""
    stmt = sa.select(Staff).where(Staff.active.is_(True), Staff.role.in_([r.value for r in GROUP]),
                                  Staff.group_id.is_not(None))
    if Role(staff.role) != Role.office_admin:
        if staff.group_id is None or Role(staff.role) not in GROUP:
            return []
        stmt = stmt.where(Staff.group_id == staff.group_id)
    return list(s.scalars(stmt.order_by(Staff.group_id, Staff.id)))


def assign(s: Session, staff: Staff, case_ids: list[int], assignee_id: int) -> Assigned:
    result = Assigned()
    target = next((m for m in candidates(s, staff) if m.id == assignee_id), None)
    allowed = {c.id: c for c in s.scalars(visible_cases(staff, "assign").where(Case.id.in_(case_ids)))}
    for case_id in case_ids:
        case = allowed.get(case_id)
        if case is None:
            # Out of scope or already decided: named only when the member may see it at all.
            seen = s.scalar(visible_cases(staff).where(Case.id == case_id))
            if seen is not None:
                result.refused.append((seen.tracking_no, "已办理，不能再分派"))
            continue
        why = _refusal(s, staff, case, target)
        if why:
            result.refused.append((case.tracking_no, why))
            continue
        note = f"分派给{target.name}"
        if case.assignee_id == target.id:
            result.done.append(case.tracking_no)
            continue
        case.assignee_id = target.id
        actor = lifecycle.Actor.staff(staff.id)
        if S(case.status) == S.assigned:
            lifecycle.record(s, case, actor, "reassigned", note)
        else:
            lifecycle.move(s, case, S.assigned, actor, "assigned", note)
        result.done.append(case.tracking_no)
    s.flush()
    return result


def _refusal(s: Session, staff: Staff, case: Case, target: Staff | None) -> str | None:
    if target is None:
        return "不能分派给该人员"
    if case.group_id is not None and target.group_id != case.group_id:
        return "只能分派给本案巡察组的人员"
    if case.group_id is None and Role(staff.role) != Role.office_admin and target.group_id != staff.group_id:
        return "只能分派给本组人员"
    if case.unit_id and target.home_unit_id and related_units(s, case.unit_id, target.home_unit_id):
        return f"{target.name}来自被反映单位，须回避"
    return None


def related_units(s: Session, a: int, b: int) -> bool:
    """Same unit, or one contains the other (a township and its village)."""
    pa, pb = s.get(Unit, a).path, s.get(Unit, b).path
    return pa == pb or pa.startswith(pb + "/") or pb.startswith(pa + "/")
