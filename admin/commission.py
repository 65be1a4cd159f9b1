"""The discipline commission's side (纪委监委): the outcome of each transferred clue, and the
reconciliation list (对账销号): every transferred clue without an outcome, oldest transfer first."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin import handling
from admin.access import visible_cases
from admin.handling import Refused
from core import clock, lifecycle
from core.models import Case, CaseEvent, ClueOutcome, Staff
from core.models.case import CaseStatus as S
from core.models.desk import OUTCOMES


@dataclass(frozen=True)
class Pending:
    case: Case
    transferred_at: datetime  # UTC, as stored

    @property
    def days(self) -> int:
        """Days since the transfer, by Beijing dates."""
        return (clock.today() - clock.local(self.transferred_at).date()).days


def record_outcome(s: Session, staff: Staff, case: Case, outcome: str, decided_on: str, note: str | None) -> ClueOutcome:
    if outcome not in OUTCOMES:
        raise Refused("请选择处置结果")
    try:
        day = date.fromisoformat(decided_on)
    except (TypeError, ValueError):
        raise Refused("请填写处置日期") from None
    if day > clock.today():
        raise Refused("处置日期不能晚于今天")
    note = handling.text_field(note, "说明", required=False)
    row = ClueOutcome(case_id=case.id, outcome=outcome, decided_on=day, note=note, staff_id=staff.id)
    s.add(row)
    lifecycle.record(s, case, lifecycle.Actor.staff(staff.id), "clue_outcome",
                     f"纪委监委处置结果：{OUTCOMES[outcome]}（{day:%Y-%m-%d}）" + (f"；{note}" if note else ""))
    return row


def outcomes(s: Session, case: Case) -> list[ClueOutcome]:
    return list(s.scalars(sa.select(ClueOutcome).where(ClueOutcome.case_id == case.id).order_by(ClueOutcome.id)))


def unreconciled(s: Session, staff: Staff, limit: int = 500) -> list[Pending]:
    """Transferred clues `staff` may record an outcome for and that have none, oldest first."""
    first = (sa.select(CaseEvent.case_id, sa.func.min(CaseEvent.at).label("at"))
             .where(CaseEvent.to_status == S.transferred.value,
                    sa.or_(CaseEvent.from_status.is_(None), CaseEvent.from_status != S.transferred.value))
             .group_by(CaseEvent.case_id).subquery())
    stmt = (visible_cases(staff, "read_outcome").join(first, first.c.case_id == Case.id)
            .where(~sa.exists().where(ClueOutcome.case_id == Case.id))
            .add_columns(first.c.at).order_by(first.c.at, Case.id).limit(limit))
    return [Pending(case, at) for case, at in s.execute(stmt)]
