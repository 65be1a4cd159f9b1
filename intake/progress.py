"""What a citizen sees of a case (办理进度): its status in their words, the public timeline and
the latest public reply. The bot's 查询 and the mobile page's status page both render this;
internal notes and everything staff-only never reach it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.clock import local
from core.identity import check_query_code
from core.models import Case, CaseEvent, CaseStatus, Reporter

# What the citizen sees for each status.
STATUS_LABELS = {
    CaseStatus.received: "已受理",
    CaseStatus.assigned: "已分派巡察组",
    CaseStatus.handed_over: "已交办整改",
    CaseStatus.transferred: "已移交",
    CaseStatus.referred: "已转办",
    CaseStatus.verifying: "核查中",
    CaseStatus.filed: "已存档",
    CaseStatus.rejected: "不予受理",
    CaseStatus.replied: "已答复",
    CaseStatus.closed: "已办结",
    CaseStatus.merged: "已合并办理",
    CaseStatus.reopened: "重新办理中",
    CaseStatus.rated: "已评价",
}
REPLY = "reply"  # the action of a public reply (答复) in a case's history


def status_label(status: str) -> str:
    return STATUS_LABELS[CaseStatus(status)]


@dataclass(frozen=True)
class Step:
    on: date  # Beijing date
    status: str  # the citizen's words for the status after this step
    note: str | None


@dataclass(frozen=True)
class CaseView:
    tracking_no: str
    submitted_on: date
    status: str  # in the citizen's words
    summary: str
    timeline: list[Step]  # public events only, oldest first
    reply: Step | None  # the latest public reply

    @property
    def latest(self) -> Step | None:
        return self.timeline[-1] if self.timeline else None


def citizen_view(s: Session, case: Case) -> CaseView:
    """A case merged into another (合并办理) also shows the main case's public replies: the
    group answers the main case once, and every citizen who reported it reads the answer."""
    mine = sa.and_(CaseEvent.case_id == case.id, CaseEvent.public.is_(True))
    if case.merged_into_id is not None:
        theirs = sa.and_(CaseEvent.case_id == case.merged_into_id, CaseEvent.public.is_(True),
                         CaseEvent.action == REPLY)
        mine = sa.or_(mine, theirs)
    events = s.scalars(sa.select(CaseEvent).where(mine).order_by(CaseEvent.at, CaseEvent.id)).all()
    steps = [(e.action, Step(local(e.at).date(), status_label(e.to_status), e.note)) for e in events]
    replies = [step for action, step in steps if action == REPLY]
    return CaseView(case.tracking_no, local(case.created_at).date(), status_label(case.status), case.summary,
                    [step for _, step in steps], replies[-1] if replies else None)


def latest_replies(s: Session, case_ids: list[int]) -> dict[int, Step]:
    """The latest public reply of each case (a merged case: its main case's, if later)."""
    return {c.id: v.reply for c in s.scalars(sa.select(Case).where(Case.id.in_(case_ids)))
            if (v := citizen_view(s, c)).reply is not None}


def cases_of(s: Session, openid_hash: str, limit: int = 10) -> list[Case]:
    """The citizen's own (non-anonymous) cases, newest first."""
    return list(s.scalars(
        sa.select(Case).join(Reporter, Case.reporter_id == Reporter.id)
        .where(Reporter.openid_hash == openid_hash).order_by(Case.id.desc()).limit(limit)))


def find_case(s: Session, tracking_no: str, query_code: str) -> Case | None:
    """An anonymous case by tracking number and query code; None when either is wrong."""
    case = s.scalar(sa.select(Case).where(Case.tracking_no == tracking_no.strip().upper()))
    # Checked whatever was found (a missing or non-anonymous case against a decoy): every lookup
    # takes the same time, so the time does not say which tracking numbers exist or are anonymous.
    matches = check_query_code(query_code, case.query_code_hash if case is not None else None)
    return case if matches else None
