"""Deadlines (办理期限): reminders to a unit before a handover falls due, and overdue handovers.

A handover runs while its case is still `handed_over` and it is the case's latest handover (a
reply, a verification or a transfer ends it). `remind_due_handovers` (periodic) records a
reminder for the unit once per handover and reminder day (the round's `reminder_days`, default
3 days before); the unit's liaison reads them on the desk (`unit_notices`), with its overdue
handovers. The inbox marks overdue cases (`overdue_case_ids`); its 超期 filter lists them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from admin import round_rules
from core import clock
from core.models import Case, DeadlineReminder, Handover, Round
from core.models.case import CaseStatus as S

LOOKAHEAD = 60  # days: no reminder is set further ahead than this


def running() -> sa.Select:
    """`select(Handover)` of the handovers that run: the case's latest, the case still handed over."""
    later = aliased(Handover)
    latest = sa.select(sa.func.max(later.id)).where(later.case_id == Case.id).scalar_subquery()
    return (sa.select(Handover).join(Case, Case.id == Handover.case_id)
            .where(Case.status == S.handed_over.value, Handover.id == latest))


def send_reminders(s: Session, today: date | None = None) -> int:
    """Record the reminders due today (idempotent: one per handover and reminder day). When runs
    were missed, only the nearest reminder day is recorded, not each one skipped."""
    today = today or clock.today()
    rows = s.execute(running().add_columns(Round.reminder_days)
                     .outerjoin(Round, Round.id == Case.round_id)
                     .where(Handover.due_on >= today, Handover.due_on <= today + timedelta(days=LOOKAHEAD))).all()
    made = 0
    for handover, stored in rows:
        left = (handover.due_on - today).days
        days = [d for d in round_rules.reminder_days(stored) if left <= d]
        if not days:
            continue
        day = min(days)
        exists = s.scalar(sa.select(DeadlineReminder.id).where(DeadlineReminder.handover_id == handover.id,
                                                               DeadlineReminder.days_before == day))
        if exists is None:
            s.add(DeadlineReminder(handover_id=handover.id, unit_id=handover.unit_id, days_before=day,
                                   due_on=handover.due_on))
            made += 1
    s.flush()
    return made


def remind_due_handovers() -> int:
    """Periodic (admin's init_app): today's deadline reminders."""
    from core.app import database

    with database().session() as s:
        made = send_reminders(s)
        s.commit()
    return made


@dataclass(frozen=True)
class Notice:
    tracking_no: str
    due_on: date
    days_left: int  # negative: overdue by that many days

    @property
    def overdue(self) -> bool:
        return self.days_left < 0

    def __str__(self) -> str:
        if self.days_left < 0:
            return f"{self.tracking_no} 已超期{-self.days_left}天（办理期限{self.due_on:%Y-%m-%d}）"
        when = "今天到期" if self.days_left == 0 else f"还有{self.days_left}天到期"
        return f"{self.tracking_no} {when}（办理期限{self.due_on:%Y-%m-%d}）"


def unit_notices(s: Session, unit_id: int | None, today: date | None = None) -> list[Notice]:
    """What the unit's liaison is told on the desk: its running handovers past due, and those a
    reminder was recorded for, most urgent first."""
    if unit_id is None:
        return []
    today = today or clock.today()
    reminded = sa.exists().where(DeadlineReminder.handover_id == Handover.id)
    rows = s.execute(running().with_only_columns(Case.tracking_no, Handover.due_on)
                     .where(Handover.unit_id == unit_id, sa.or_(Handover.due_on < today, reminded))
                     .order_by(Handover.due_on, Case.id)).all()
    return [Notice(no, due, (due - today).days) for no, due in rows]


def overdue_case_ids(s: Session, case_ids: list[int], today: date | None = None) -> set[int]:
    """Of `case_ids`, the cases whose running handover is past its due date (marked 超期)."""
    if not case_ids:
        return set()
    today = today or clock.today()
    return set(s.scalars(running().with_only_columns(Handover.case_id)
                         .where(Handover.case_id.in_(case_ids), Handover.due_on < today)))


def overdue_by_unit(s: Session, cases: sa.ColumnElement[bool], today: date) -> dict[int, list[int]]:
    """unit id → the case ids of its running handovers past due, among `cases` (a condition)."""
    out: dict[int, list[int]] = {}
    for unit_id, case_id in s.execute(running().with_only_columns(Handover.unit_id, Handover.case_id)
                                      .where(Handover.due_on < today, cases).order_by(Handover.case_id)):
        out.setdefault(unit_id, []).append(case_id)
    return out
