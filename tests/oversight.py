"""Helpers for the deadline, warning and survey tests: cases handed over through the desk's own
service with a chosen due date, replies and ratings through the product's services."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from admin import handling
from core import clock
from core.models import Handover, Round, Unit
from core.models.case import CaseStatus as S
from intake import ratings
from tests.desk import make_case, staff

DEMO_ROUND = "十三届县委第九轮巡察"


def unit_id(db, path: str) -> int:
    return db.scalar(sa.select(Unit.id).where(Unit.path == path))


def demo_round(db) -> Round:
    return db.scalar(sa.select(Round).where(Round.name == DEMO_ROUND))


def handed(db, vault, text: str, unit: str, due_in: int, group: str = "G1", member: str = "zhang",
           to: str | None = None, **values):
    """A case about `unit` handed over (to `unit`, or `to`) by the group's member
    (admin.handling.hand_over), due `due_in` days from
    today (negative: already past; the due date is then set on the stored handover, as the desk
    refuses a past date)."""
    case = make_case(db, text, unit=unit, group=group, status=S.assigned, round_id=demo_round(db).id, **values)
    who = staff(db, member)
    today = clock.today()
    h = handling.hand_over(db, who, case, vault, unit_id(db, to or unit), str(today + timedelta(days=max(due_in, 0))), text)
    db.flush()
    if due_in < 0:
        h.due_on = today + timedelta(days=due_in)
    db.commit()
    return case


def reply(db, case, text: str = "已整改完毕", member: str = "zhang") -> None:
    handling.reply(db, staff(db, member), case, text)
    db.commit()


def rate(db, case, score: str, reason: str | None = None) -> None:
    ratings.rate(db, case, score, reason, "h5")
    db.commit()


def handover_of(db, case) -> Handover:
    return db.scalar(sa.select(Handover).where(Handover.case_id == case.id).order_by(Handover.id.desc()).limit(1))


def day(offset: int) -> date:
    return clock.today() + timedelta(days=offset)
