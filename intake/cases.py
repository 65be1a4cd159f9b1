"""Submission (受理) and the citizen's view of a case."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.identity import IdentityVault, check_query_code, hash_query_code, new_query_code
from core.models import Attachment, Case, CaseEvent, CaseStatus, Draft, DraftEntry, QrCode, Reporter, Round
from core.models.case import NO_TEXT
from intake import clock
from intake.clock import local
from intake.drafts import draft_texts, summary

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
}

CHANNEL_NOTES = {"wechat": "通过微信公众号提交", "h5": "通过手机网页提交"}


class EmptyDraft(ValueError):
    """Nothing to submit yet."""


@dataclass
class Submission:
    case: Case
    query_code: str | None  # only for anonymous reports; shown once, stored as a hash


def status_label(status: str) -> str:
    return STATUS_LABELS.get(CaseStatus(status), status)


def submit_draft(s: Session, draft_id: int, vault: IdentityVault, openid: str | None,
                 channel: str = "wechat") -> Submission:
    """Turn a draft into a case. The draft and its entries are deleted afterwards: the case holds
    the text, and an anonymous case keeps no path back to the conversation it came from."""
    draft = s.get(Draft, draft_id)
    texts = draft_texts(s, draft.id)
    attachments = list(s.scalars(sa.select(Attachment).where(Attachment.draft_id == draft.id)))
    if not texts and not attachments:
        raise EmptyDraft("nothing to submit")
    text = "\n".join(texts) or NO_TEXT
    qr = s.get(QrCode, draft.qr_code_id) if draft.qr_code_id else None
    # The poster's group takes the case until routing decides, if the poster is live; a retired
    # poster says nothing, one outside its round still says where it hung.
    today = clock.today()
    state = qr.state(today) if qr is not None else None
    case = Case(
        channel=channel,
        text=text,
        summary=summary(texts, 120) or text[:120],
        anonymity=draft.anonymity,
        qr_code_id=qr.id if qr else None,
        group_id=qr.group_id if state == "live" else None,
        unit_id=qr.unit_id if state not in (None, "retired") else None,
        round_id=qr.round_id if qr is not None and qr.round.runs_on(today) else _current_round_id(s),
        status=CaseStatus.received.value,
    )
    query_code = None
    if draft.anonymity == "anonymous":
        query_code = new_query_code()
        case.query_code_hash = hash_query_code(query_code)
    else:
        if openid is not None:
            case.reporter = _reporter(s, vault, openid)
        if draft.anonymity == "named":
            case.contact_name_enc, case.contact_phone_enc = draft.name_enc, draft.phone_enc
    s.add(case)
    s.flush()
    case.tracking_no = tracking_number(case)
    s.add(CaseEvent(case_id=case.id, actor="citizen", action="submitted", to_status=case.status, public=True,
                    note=CHANNEL_NOTES.get(channel, channel)))
    for att in attachments:
        att.case_id, att.draft_id = case.id, None
    s.execute(sa.delete(DraftEntry).where(DraftEntry.draft_id == draft.id))
    s.delete(draft)
    return Submission(case, query_code)


def tracking_number(case: Case) -> str:
    """受理编号: XC + the Beijing date + the case id, e.g. XC261125000042."""
    return f"XC{local(case.created_at or utcnow()):%y%m%d}{case.id:06d}"


def cases_of(s: Session, openid_hash: str, limit: int = 10) -> list[Case]:
    """The citizen's own (non-anonymous) cases, newest first."""
    return list(s.scalars(
        sa.select(Case).join(Reporter, Case.reporter_id == Reporter.id)
        .where(Reporter.openid_hash == openid_hash).order_by(Case.id.desc()).limit(limit)))


def find_case(s: Session, tracking_no: str, query_code: str) -> Case | None:
    """An anonymous case by tracking number and query code; None when either is wrong."""
    case = s.scalar(sa.select(Case).where(Case.tracking_no == tracking_no.strip().upper()))
    if case is None or not check_query_code(query_code, case.query_code_hash):
        return None
    return case


def _reporter(s: Session, vault: IdentityVault, openid: str) -> Reporter:
    h = vault.openid_hash(openid)
    reporter = s.scalar(sa.select(Reporter).where(Reporter.openid_hash == h))
    if reporter is None:
        reporter = Reporter(openid_hash=h, openid_enc=vault.encrypt(openid))
        s.add(reporter)
    return reporter


def _current_round_id(s: Session) -> int | None:
    today = clock.today()
    return s.scalar(sa.select(Round.id).where(Round.start <= today, Round.end >= today)
                    .order_by(Round.start.desc()).limit(1))
