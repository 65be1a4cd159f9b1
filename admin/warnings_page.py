"""The warnings page (/admin/warnings, 红黄牌预警): the cards of the units in the reader's scope
(`access.card_units`) with their reasons; the cases behind a reason are listed as far as the
reader may see them (the rest only counted). The office may recompute at once."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, url_for

from admin import deadlines
from admin.access import card_units, may_do, visible_cases
from admin.blueprint import bp
from admin.round_rules import card_rules, reminder_days
from admin.warnings import LEVEL_NAMES, RULE_NAMES, compute_cards
from core import clock
from core.app import db_session
from core.models import Case, Round, Unit, UnitCard
from core.models.org import Role

UNITS = {"overdue": "件", "unsatisfied": "次", "escalated": "件"}


@dataclass
class Reason:
    level: str
    text: str
    cases: list[str]
    hidden: int  # cases behind the reason the reader may not see
    campaign: int | None = None


@bp.app_template_global("desk_notice_count")
def desk_notice_count() -> int:
    """The unit liaison's deadline notices (shown in the header); 0 for everyone else."""
    staff = g.get("staff")
    if staff is None or Role(staff.role) != Role.unit_liaison:
        return 0
    return len(deadlines.unit_notices(db_session(), staff.unit_id))


@bp.app_template_global("beijing_today")
def beijing_today():
    return clock.today()


def describe(reason: dict) -> str:
    level = LEVEL_NAMES[reason["level"]]
    name = RULE_NAMES[reason["rule"]]
    if reason["rule"] == "survey_rate":
        return (f"{name}：满意率{reason['rate']:.1%}（有效回答{reason['answers']}份，"
                f"{level}线为低于{reason['threshold']:.0%}）")
    unit = UNITS[reason["rule"]]
    return f"{name}{reason['count']}{unit}（{level}线为{reason['threshold']}{unit}及以上）"


@bp.get("/warnings")
def warnings():
    s = db_session()
    staff = g.staff
    if not may_do(staff, "warnings"):
        abort(404)
    cards = s.execute(sa.select(UnitCard, Unit.path, Round.name).join(Unit, Unit.id == UnitCard.unit_id)
                      .join(Round, Round.id == UnitCard.round_id).where(card_units(staff))
                      .order_by(sa.case((UnitCard.level == "red", 0), else_=1), Round.id.desc(), Unit.path)).all()
    wanted = {i for card, _, _ in cards for r in card.reasons for i in r.get("cases", [])}
    visible = dict(s.execute(visible_cases(staff).with_only_columns(Case.id, Case.tracking_no)
                             .where(Case.id.in_(wanted))).all()) if wanted else {}
    rows = []
    for card, path, round_name in cards:
        reasons = [Reason(r["level"], describe(r), [visible[i] for i in r.get("cases", []) if i in visible],
                          sum(1 for i in r.get("cases", []) if i not in visible), r.get("campaign"))
                   for r in card.reasons]
        rows.append((card, path, round_name, reasons))
    rounds = s.scalars(sa.select(Round).order_by(Round.start.desc())).all()
    settings = [(r.name, reminder_days(r.reminder_days), card_rules(r.card_rules)) for r in rounds]
    return render_template("admin/warnings.html", rows=rows, levels=LEVEL_NAMES, settings=settings,
                           office=Role(staff.role) == Role.office_admin, campaigns=may_do(staff, "campaigns"),
                           notices=deadlines.unit_notices(s, staff.unit_id))


@bp.post("/warnings/refresh")
def refresh_warnings():
    s = db_session()
    if Role(g.staff.role) != Role.office_admin or not g.staff.active:
        abort(404)
    tally = compute_cards(s)
    s.commit()
    flash(f"已重新计算：红牌{tally['red']}个，黄牌{tally['yellow']}个，解除{tally['cleared']}个", "ok")
    return redirect(url_for("admin.warnings"))
