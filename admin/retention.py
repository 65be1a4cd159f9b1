"""保存期限: a finished case's reporter identity is purged a set time after it closed; the case
stays (its text, labels, timeline, handovers and replies), and says it was purged.

The period is the office's (`identity_retention_days` in the deployment file's `office`,
default 180 days). A case is finished when closed (办结) or rated (已评价); its time is that of
its last move into one of them, so a case reopened and closed again counts from the new closure.
Purging a case clears its link to the reporter (openid) and a named report's name and phone,
marks the case (`identity_purged_at`) and writes an internal event; a reporter row no other case
points at is deleted with its encrypted openid. Each batch is one audit-log row (counts only).
The daily job (`purge_identities`, registered in `admin.init_app`) runs batch after batch."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin import audit
from core import lifecycle
from core.db import utcnow
from core.models import Case, CaseEvent, Office, Reporter
from core.models.case import CaseStatus as S

DEFAULT_DAYS = 180
BATCH = 1000
FINISHED = (S.closed.value, S.rated.value)
PURGED = "identity_purged"
NOTE = "反映人身份已按保存期限清除（案件保留）"


def retention_days(s: Session) -> int:
    return s.scalar(sa.select(Office.identity_retention_days).order_by(Office.id).limit(1)) or DEFAULT_DAYS


def due(cutoff: datetime) -> sa.Select:
    """`select(Case.id)` of finished cases, last finished before `cutoff`, that still hold an identity."""
    finished_at = (sa.select(sa.func.max(CaseEvent.at))
                   .where(CaseEvent.case_id == Case.id, CaseEvent.to_status.in_(FINISHED),
                          sa.or_(CaseEvent.from_status.is_(None), CaseEvent.from_status.not_in(FINISHED)))
                   .scalar_subquery())
    holds = sa.or_(Case.reporter_id.is_not(None), Case.contact_name_enc.is_not(None),
                   Case.contact_phone_enc.is_not(None))
    return (sa.select(Case.id).where(Case.status.in_(FINISHED), Case.identity_purged_at.is_(None), holds,
                                     finished_at < cutoff).order_by(Case.id))


def purge_batch(s: Session, now: datetime | None = None, limit: int = BATCH) -> int:
    """Purge up to `limit` cases that are due, with their audit row; the caller commits.
    Returns how many cases were purged (0: nothing is due)."""
    now = now or utcnow()
    days = retention_days(s)
    ids = list(s.scalars(due(now - timedelta(days=days)).limit(limit)))
    if not ids:
        return 0
    cases = list(s.scalars(sa.select(Case).where(Case.id.in_(ids)).with_for_update()))
    reporters = {c.reporter_id for c in cases if c.reporter_id is not None}
    for case in cases:
        case.reporter_id = None
        case.contact_name_enc = case.contact_phone_enc = None
        case.identity_purged_at = now
        lifecycle.record(s, case, lifecycle.SYSTEM, PURGED, NOTE)
    s.flush()
    deleted = 0
    if reporters:
        unused = sa.and_(Reporter.id.in_(reporters),
                         ~sa.exists().where(Case.reporter_id == Reporter.id))
        deleted = s.execute(sa.delete(Reporter).where(unused)).rowcount or 0
    audit.record(s, audit.IDENTITY_PURGED,
                 detail=f"{len(cases)}件已办结案件的反映人身份已清除（保存期限{days}天），删除反映人记录{deleted}条")
    return len(cases)


def purge_identities() -> dict[str, int]:
    """The daily job: every due case, a batch (and its audit row) per transaction."""
    from core.app import database

    total = batches = 0
    with database().session() as s:
        while done := purge_batch(s):
            s.commit()
            total, batches = total + done, batches + 1
    return {"cases": total, "batches": batches}
