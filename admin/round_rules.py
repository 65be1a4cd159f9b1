"""A round's deadline and warning settings (the deployment file's `round:` section), their
defaults and what they mean.

```yaml
round: {name: ..., start: ..., end: ..., handover_days: 15,
        reminder_days: [3, 1],             # remind the unit 3 and 1 days before a handover is due
        cards:                             # 红黄牌预警: a unit gets the card when one rule fires
          yellow: {overdue: 1, unsatisfied: 2, escalated: 0, survey_rate: 0.8}
          red:    {overdue: 3, unsatisfied: 4, escalated: 1, survey_rate: 0.6}
          survey_min_answers: 10}
```

- `overdue`: handovers to the unit still running past their due date, at least this many;
- `unsatisfied`: 不满意 ratings on the unit's cases, at least this many;
- `escalated`: cases of the unit escalated to the office by a second 不满意, at least this many;
- `survey_rate`: the satisfaction rate (满意+基本满意 over counted answers) of the unit's latest
  survey campaign in the round is below this, once it has `survey_min_answers` answers.

A rule given 0 (or null) is off. What the file leaves out keeps its default.
"""
from __future__ import annotations

from copy import deepcopy
from typing import Any

DEFAULT_REMINDER_DAYS = [3]
COUNT_RULES = ("overdue", "unsatisfied", "escalated")
RATE_RULES = ("survey_rate",)
DEFAULT_CARD_RULES: dict[str, Any] = {
    "yellow": {"overdue": 1, "unsatisfied": 2, "escalated": 0, "survey_rate": 0.8},
    # A second 不满意 on one case escalates it to the office: a red card on the unit (DESIGN).
    "red": {"overdue": 3, "unsatisfied": 4, "escalated": 1, "survey_rate": 0.6},
    "survey_min_answers": 10,
}
LEVELS = ("yellow", "red")


class RulesError(ValueError):
    pass


def parse_reminder_days(value: Any) -> list[int] | None:
    """`reminder_days: 3` or `[3, 1]` (days before the due date); absent: None (the default)."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    try:
        days = sorted({int(v) for v in values}, reverse=True)
    except (TypeError, ValueError):
        raise RulesError(f"round: reminder_days must be days before the due date, like 3 or [3, 1], not {value!r}") \
            from None
    if any(d < 0 or d > 60 for d in days):
        raise RulesError(f"round: reminder_days must be between 0 and 60, not {value!r}")
    return days


def parse_card_rules(value: Any) -> dict | None:
    """The file's `cards:` merged over the defaults; absent: None (the defaults)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RulesError(f"round: cards must be a mapping (yellow, red, survey_min_answers), not {value!r}")
    unknown = set(value) - {*LEVELS, "survey_min_answers"}
    if unknown:
        raise RulesError(f"round: cards: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    rules = deepcopy(DEFAULT_CARD_RULES)
    for level in LEVELS:
        given = value.get(level) or {}
        if not isinstance(given, dict):
            raise RulesError(f"round: cards: {level} must be a mapping, not {given!r}")
        for key, v in given.items():
            if key in COUNT_RULES:
                rules[level][key] = _number(v, int, f"round: cards: {level}: {key}", 0, 10_000)
            elif key in RATE_RULES:
                rules[level][key] = _number(v, float, f"round: cards: {level}: {key}", 0, 1)
            else:
                raise RulesError(f"round: cards: {level}: unknown rule {key!r} "
                                 f"(overdue, unsatisfied, escalated, survey_rate)")
    if "survey_min_answers" in value:
        rules["survey_min_answers"] = _number(value["survey_min_answers"], int, "round: cards: survey_min_answers",
                                              1, 100_000)
    return rules


def reminder_days(stored: list | None) -> list[int]:
    return list(stored) if stored is not None else list(DEFAULT_REMINDER_DAYS)


def card_rules(stored: dict | None) -> dict:
    return deepcopy(stored) if stored is not None else deepcopy(DEFAULT_CARD_RULES)


def _number(value: Any, kind: type, where: str, low: float, high: float):
    if value is None:
        return 0
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise RulesError(f"{where} must be a number, not {value!r}") from None
    if not low <= number <= high:
        raise RulesError(f"{where} must be between {low} and {high}, not {value!r}")
    return number
