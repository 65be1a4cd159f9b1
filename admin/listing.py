"""The inbox's query (收件箱): filters, full-text search, sorting and keyset pages, all in one
statement on top of `access.visible_cases`, so a page costs the same on the millionth case as
on the first (an index walk from the cursor, never an OFFSET)."""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.sql import operators
from sqlalchemy.orm import Session, selectinload

from admin.access import holds_no_case_of_group, visible_cases
from core import clock, search
from core.models import Case, Handover, Staff, Unit
from core.models.case import CaseStatus as S
from intake.ratings import escalated_case_ids

PAGE = 50
# sort → the columns of its keyset, all in one direction (so a row value compares them at once)
SORTS = {
    "newest": ((Case.created_at, Case.id), "desc"),
    "oldest": ((Case.created_at, Case.id), "asc"),
    "priority": ((Case.priority, Case.created_at, Case.id), "desc"),
}
SORT_NAMES = {"newest": "最新", "oldest": "最早", "priority": "优先级"}


class BadCursor(ValueError):
    pass


@dataclass
class Filters:
    status: str = ""
    kind: str = ""
    domain: str = ""
    unit: str = ""  # a unit's path: the unit and the units under it
    group: str = ""  # a group's id, or "office" for the office's queue
    priority: str = ""  # at least this
    overdue: str = ""  # "1": a running handover past its due date
    escalated: str = ""  # "1": a second 不满意 sent it to the office (督办) and it is not settled yet
    channel: str = ""
    since: str = ""  # Beijing dates, YYYY-MM-DD
    until: str = ""
    q: str = ""  # words of the text
    sort: str = "newest"

    @classmethod
    def from_args(cls, args) -> "Filters":
        values = {f.name: (args.get(f.name) or "").strip()[:100] for f in fields(cls)}
        values["sort"] = values["sort"] if values["sort"] in SORTS else "newest"
        return cls(**values)

    def args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class Page:
    cases: list[Case]
    next: str | None


# A search first reads this many cases of the page's order (from its cursor) and keeps those in
# the scope and filters whose text contains the query: a frequent word (低保: one case in sixty)
# fills a page from the first few thousand. Only when that finds less than a page does the word
# index answer (a rare word: its few cases, sorted). The window is counted over all cases, not
# over those the filters keep: a narrow scope (a member, one township) would otherwise walk most
# of the table to find 20,000 of its own. See bench/desk.py.
SEARCH_SCAN = 20000


def inbox_page(s: Session, staff: Staff | None, filters: Filters, cursor: str | None = None, limit: int = PAGE,
               base: sa.Select | None = None) -> Page:
    """`staff`'s cases, or those of `base` (another `access` selection: the API's)."""
    if base is None and filters.group.isdigit() and holds_no_case_of_group(staff, int(filters.group)):
        return Page([], None)  # another group's cases: none of them are this member's
    columns, direction = SORTS[filters.sort]
    conditions = _conditions(s, filters)
    stmt = (visible_cases(staff) if base is None else base).where(*conditions)
    order = [c.desc() if direction == "desc" else c.asc() for c in columns]
    after = _decode(cursor, len(columns)) if cursor else None
    if after is not None:
        stmt = stmt.where(_beyond(columns, direction, after))
    cases = _scanned(s, stmt, conditions, columns, direction, after, filters.q, limit) if filters.q else []
    if len(cases) <= limit:
        if filters.q:
            stmt = stmt.where(search.matches(filters.q, s.get_bind().dialect.name))
        stmt = stmt.order_by(*order).limit(limit + 1).options(selectinload(Case.unit), selectinload(Case.group))
        cases = list(s.scalars(stmt))
    more = len(cases) > limit
    cases = cases[:limit]
    return Page(cases, _encode([getattr(cases[-1], c.key) for c in columns]) if more else None)


def _conditions(s: Session, f: Filters) -> list[sa.ColumnElement[bool]]:
    out = []
    for name in ("status", "kind", "domain", "channel"):
        if getattr(f, name):
            out.append(getattr(Case, name) == getattr(f, name))
    if f.unit:
        # The subtree's ids first (a few rows), then the cases of those ids as values: the planner
        # knows how many cases they hold (a subquery it guesses at one unit, and sorts a third of
        # the table instead of walking the page's index).
        subtree = s.scalars(sa.select(Unit.id).where(sa.or_(
            Unit.path == f.unit, Unit.path.startswith(f.unit + "/", autoescape=True)))).all()
        out.append(Case.unit_id.in_(subtree))
    if f.group == "office":
        out.append(Case.group_id.is_(None))
    elif f.group.isdigit():
        out.append(Case.group_id == int(f.group))
    if f.priority.lstrip("-").isdigit():
        out.append(Case.priority >= int(f.priority))
    if f.overdue:  # the case's running (latest) handover is past due (admin.deadlines)
        # A scalar subquery, not EXISTS(... id = max(id)): PostgreSQL guesses that correlated
        # pair matches a handful of cases and sorts all the group's handed-over cases; this it
        # reads along the page's order (bench/desk.py: 245 → 75 ms at a million cases).
        running_due = (sa.select(Handover.due_on).where(Handover.case_id == Case.id)
                       .order_by(Handover.id.desc()).limit(1).scalar_subquery())
        out.append(running_due < clock.today())
        out.append(Case.status == S.handed_over.value)
    if f.escalated:
        out.append(Case.id.in_(escalated_case_ids()))
        out.append(Case.status.not_in([S.rated.value, S.closed.value, S.merged.value]))
    since, until = _day(f.since), _day(f.until)
    if since:
        out.append(Case.created_at >= _utc_start(since))
    if until:
        out.append(Case.created_at < _utc_start(until + timedelta(days=1)))
    return out


def _beyond(columns, direction: str, values) -> sa.ColumnElement[bool]:
    """Rows after `values` in the order."""
    row, at = sa.tuple_(*columns), sa.tuple_(*[sa.literal(v) for v in values])
    return row < at if direction == "desc" else row > at


def _up_to(columns, direction: str, values) -> sa.ColumnElement[bool]:
    """Rows before `values` in the order, and `values` itself."""
    row, at = sa.tuple_(*columns), sa.tuple_(*[sa.literal(v) for v in values])
    return row >= at if direction == "desc" else row <= at


def _scanned(s: Session, stmt: sa.Select, conditions: list, columns, direction: str, after, q: str,
             limit: int) -> list[Case]:
    """The page's first `limit + 1` cases containing `q` among the next `SEARCH_SCAN` cases of its
    order that pass the filters (fewer: the caller asks the word index). The window's end is found
    along the order's index with the filters but not the scope (a member's scope is an OR the
    index cannot follow); the window is then read along it, the scope and text tested there; only
    the page's cases are loaded."""
    order = [c.desc() if direction == "desc" else c.asc() for c in columns]
    window_end = sa.select(*columns).where(*conditions).order_by(*order).offset(SEARCH_SCAN - 1).limit(1)
    if after is not None:
        window_end = window_end.where(_beyond(columns, direction, after))
    end = s.execute(window_end).first()
    window = stmt.with_only_columns(Case.id).where(search.contains(q, Case.text))
    if end is not None:
        window = window.where(_up_to(columns, direction, tuple(end)))
    ids = list(s.scalars(window.order_by(*order).limit(limit + 1)))
    if not ids:
        return []
    loaded = {c.id: c for c in s.scalars(sa.select(Case).where(Case.id.in_(ids))
                                         .options(selectinload(Case.unit), selectinload(Case.group)))}
    return [loaded[i] for i in ids]


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _utc_start(day: date) -> datetime:
    """Midnight in Beijing, as the naive UTC the database keeps."""
    return datetime.combine(day, time()) - timedelta(hours=8)


def _encode(values: list) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def _decode(cursor: str, n: int) -> list:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(values, list) or len(values) != n:
            raise ValueError
        *head, created, ident = values
        return [*[int(v) for v in head], datetime.fromisoformat(created), int(ident)]
    except (ValueError, TypeError, json.JSONDecodeError):
        raise BadCursor(cursor) from None
