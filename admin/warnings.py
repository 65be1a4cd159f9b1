"""Yellow and red cards (红黄牌预警) per unit and round, computed by a periodic job.

A unit's figures in a round: its handovers running past their due date (`overdue`), the 不满意
ratings on its cases (`unsatisfied`), its cases escalated to the office by a second 不满意
(`escalated`), and its latest survey campaign's satisfaction rate (`survey_rate`, once the
campaign has the round's minimum of answers). Each figure is held against the round's
thresholds (`admin.round_rules`); the card is red when any red rule fires, else yellow when any
yellow rule fires. The card is stored with its reasons (every rule that fired, the figure, the
threshold, the cases or the campaign behind it); a unit back under every threshold loses it.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin import deadlines, round_rules
from core import clock
from core.db import utcnow
from core.models import Case, Rating, Round, SurveyCampaign, UnitCard
from intake import campaigns

KEEP_AFTER_END = 180  # days after its end a round's cards are still computed (rectification goes on)
RULE_NAMES = {"overdue": "交办事项逾期未办结", "unsatisfied": "群众评价不满意", "escalated": "二次不满意升级督办",
              "survey_rate": "满意度测评满意率偏低"}
LEVEL_NAMES = {"yellow": "黄牌", "red": "红牌"}


def rounds_in_force(s: Session, today: date) -> list[Round]:
    return list(s.scalars(sa.select(Round).where(Round.start <= today,
                                                 Round.end >= today - timedelta(days=KEEP_AFTER_END))))


def unsatisfied_by_unit(s: Session, cases: sa.ColumnElement[bool]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """unit id → the case ids of its 不满意 ratings (a case once per rating), and → its cases a
    second 不满意 escalated to the office (the rating marked `escalated`, `intake.ratings`)."""
    unsatisfied: dict[int, list[int]] = {}
    escalated: dict[int, list[int]] = {}
    rows = s.execute(sa.select(Rating.unit_id, Rating.case_id, Rating.escalated).join(Case, Case.id == Rating.case_id)
                     .where(Rating.score == "unsatisfied", Rating.unit_id.is_not(None), cases)
                     .order_by(Rating.case_id, Rating.id))
    for unit_id, case_id, was_escalated in rows:
        unsatisfied.setdefault(unit_id, []).append(case_id)
        if was_escalated and case_id not in escalated.get(unit_id, []):
            escalated.setdefault(unit_id, []).append(case_id)
    return unsatisfied, escalated


def latest_surveys(s: Session, round_id: int) -> dict[int, tuple[SurveyCampaign, campaigns.Figures]]:
    """unit id → its latest campaign in the round and the campaign's figures."""
    out = {}
    for campaign in s.scalars(sa.select(SurveyCampaign).where(SurveyCampaign.round_id == round_id)
                              .order_by(SurveyCampaign.id)):
        out[campaign.unit_id] = campaign  # the latest wins
    return {unit_id: (c, campaigns.figures(s, c.id)) for unit_id, c in out.items()}


def judge(rules: dict, counts: dict[str, list[int]], survey: tuple[SurveyCampaign, campaigns.Figures] | None
          ) -> tuple[str | None, list[dict[str, Any]]]:
    """The card (None, "yellow" or "red") and its reasons, from a unit's figures."""
    reasons = []
    for rule in round_rules.COUNT_RULES:
        cases = counts.get(rule) or []
        fired = [lv for lv in round_rules.LEVELS if rules[lv].get(rule) and len(cases) >= rules[lv][rule]]
        if fired:
            level = fired[-1]  # red when both
            reasons.append({"rule": rule, "level": level, "count": len(cases), "threshold": rules[level][rule],
                            "cases": sorted(set(cases))})
    if survey is not None:
        campaign, fig = survey
        if fig.rate is not None and fig.counted >= rules["survey_min_answers"]:
            fired = [lv for lv in round_rules.LEVELS if rules[lv].get("survey_rate") and fig.rate < rules[lv]["survey_rate"]]
            if fired:
                level = fired[-1]
                reasons.append({"rule": "survey_rate", "level": level, "rate": round(fig.rate, 4),
                                "answers": fig.counted, "threshold": rules[level]["survey_rate"],
                                "campaign": campaign.id})
    if not reasons:
        return None, []
    level = "red" if any(r["level"] == "red" for r in reasons) else "yellow"
    return level, reasons


def compute_round(s: Session, rnd: Round, today: date) -> dict[str, int]:
    rules = round_rules.card_rules(rnd.card_rules)
    cases = campaigns.round_cases(rnd)
    overdue = deadlines.overdue_by_unit(s, cases, today)
    unsatisfied, escalated = unsatisfied_by_unit(s, cases)
    surveys = latest_surveys(s, rnd.id)
    existing = {c.unit_id: c for c in s.scalars(sa.select(UnitCard).where(UnitCard.round_id == rnd.id))}
    now, tally = utcnow(), {"yellow": 0, "red": 0, "cleared": 0}
    for unit_id in set(overdue) | set(unsatisfied) | set(surveys) | set(existing):
        level, reasons = judge(rules, {"overdue": overdue.get(unit_id, []), "unsatisfied": unsatisfied.get(unit_id, []),
                                       "escalated": escalated.get(unit_id, [])}, surveys.get(unit_id))
        card = existing.get(unit_id)
        if level is None:
            if card is not None:
                s.delete(card)
                tally["cleared"] += 1
            continue
        tally[level] += 1
        if card is None:
            s.add(UnitCard(round_id=rnd.id, unit_id=unit_id, level=level, reasons=reasons, issued_at=now,
                           computed_at=now))
            continue
        if card.level != level:
            card.level, card.issued_at = level, now
        if card.reasons != reasons:
            card.reasons = reasons
        card.computed_at = now
    s.flush()
    return tally


def compute_cards(s: Session, today: date | None = None) -> dict[str, int]:
    today = today or clock.today()
    total = {"yellow": 0, "red": 0, "cleared": 0}
    for rnd in rounds_in_force(s, today):
        for k, v in compute_round(s, rnd, today).items():
            total[k] += v
    return total


def refresh_cards() -> dict[str, int]:
    """Periodic (admin's init_app, RQ's cron): every unit's card in the rounds in force."""
    from core.app import database

    with database().session() as s:
        tally = compute_cards(s)
        s.commit()
    return tally
