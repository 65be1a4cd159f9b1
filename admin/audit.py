"""The audit log (审计日志): writing its rows and reading them back, a page at a time, newest
first; and the desk's statistics for the office and the auditor (counts only, no case text).

Rows are written in the caller's transaction, so an act and its record commit together or not
at all (a reveal is shown only once its row is committed). Nothing here touches `flask.request`:
the views pass the staff member and the client's address."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from core.models import AuditEntry, Case, Group, Staff

REVEAL = "reveal"
LOGIN = "login"
LOGIN_FAILED = "login_failed"
TOKEN_CREATED = "api_token_created"
TOKEN_REVOKED = "api_token_revoked"
IDENTITY_PURGED = "identity_purged"  # a batch of finished cases past the retention period
ACTION_NAMES = {REVEAL: "查看反映人身份", LOGIN: "登录", LOGIN_FAILED: "登录失败",
                TOKEN_CREATED: "创建接口令牌", TOKEN_REVOKED: "吊销接口令牌", IDENTITY_PURGED: "按保存期限清除身份"}
PAGE = 50


def record(s: Session, action: str, *, staff: Staff | None = None, case: Case | None = None,
           reason: str | None = None, detail: str | None = None, address: str | None = None) -> AuditEntry:
    """Add one row (flushed, not committed: it commits with the act it records)."""
    entry = AuditEntry(action=action, staff_id=staff.id if staff else None, case_id=case.id if case else None,
                       reason=reason, detail=detail[:200] if detail else None,
                       address=address[:64] if address else None)
    s.add(entry)
    s.flush()
    return entry


def login_attempt(s: Session, login: str, staff: Staff | None, address: str | None) -> AuditEntry:
    """A login (`staff` logged in) or a failed one: the account is named when `login` is one
    (what was typed otherwise is not kept: it may be a password typed in the wrong field)."""
    if staff is not None:
        return record(s, LOGIN, staff=staff, address=address)
    known = s.scalar(sa.select(Staff).where(Staff.login == login)) if login else None
    return record(s, LOGIN_FAILED, staff=known, detail=None if known else "未知账号", address=address)


@dataclass
class Page:
    entries: list[AuditEntry]
    next: str | None  # the cursor of the next (older) page


class BadCursor(ValueError):
    pass


def page(s: Session, cursor: str | None = None, action: str = "", limit: int = PAGE) -> Page:
    """Newest first, a keyset page on the id (rows only ever grow)."""
    stmt = sa.select(AuditEntry).options(selectinload(AuditEntry.staff), selectinload(AuditEntry.case))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if cursor:
        if not cursor.isdigit():
            raise BadCursor(cursor)
        stmt = stmt.where(AuditEntry.id < int(cursor))
    entries = list(s.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    more = len(entries) > limit
    entries = entries[:limit]
    return Page(entries, str(entries[-1].id) if more else None)


@dataclass
class Statistics:
    total: int
    by_status: list[tuple[str, int]]
    by_kind: list[tuple[str | None, int]]
    by_group: list[tuple[str | None, int]]  # group name; None for the office's queue
    reveals: int


def statistics(s: Session) -> Statistics:
    """Counts of cases by status, kind and group, and of reveals: what the auditor reads."""
    def counts(label, *group_by, join=None):
        stmt = sa.select(label, sa.func.count(Case.id)).select_from(Case)
        if join is not None:
            stmt = stmt.outerjoin(*join)
        stmt = stmt.group_by(label, *group_by).order_by(sa.func.count(Case.id).desc(), label)
        return [(value, n) for value, n in s.execute(stmt)]

    return Statistics(
        total=s.scalar(sa.select(sa.func.count(Case.id))) or 0,
        by_status=counts(Case.status),
        by_kind=counts(Case.kind),
        by_group=counts(Group.name, Group.id, join=(Group, Group.id == Case.group_id)),
        reveals=s.scalar(sa.select(sa.func.count(AuditEntry.id)).where(AuditEntry.action == REVEAL)) or 0,
    )
