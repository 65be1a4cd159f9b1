"""Opening a case (受理), from any channel: one service issues the tracking number and the query
code, links the reporter as the citizen chose, writes the first event and queues routing.

The chat's submission of a draft (`submit_draft`) is one caller; the mobile page's form and the
staff's entry of a letter, a call, a visit or a village meeting are the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core import clock, lifecycle
from core.clock import local
from core.db import utcnow
from core.identity import IdentityVault, hash_query_code, new_query_code
from core.jobs import Jobs
from core.models import Attachment, Case, QrCode, Reporter, Round
from core.models.case import NO_TEXT
from intake import media
from intake.drafts import Draft, DraftPiece, mark_submitted, summary
from intake.jobs import download_media
from routing.jobs import route_case

CHANNELS = {"wechat": "通过微信公众号提交", "h5": "通过手机网页提交", "meeting": "屋场恳谈会等现场收集",
            "letter": "来信", "phone": "来电", "visit": "来访"}
ANONYMITY = ("default", "named", "anonymous")


class EmptyDraft(ValueError):
    """Nothing to submit yet."""


@dataclass
class NewCase:
    """A report as a channel took it. `openid` links replies (never for anonymous reports);
    `name`/`phone` are a named report's (实名), stored encrypted on the case only."""
    channel: str
    texts: list[str]
    anonymity: str = "default"
    openid: str | None = None
    name: str | None = None
    phone: str | None = None
    qr: QrCode | None = None
    attachments: list[Attachment] = field(default_factory=list)
    actor: lifecycle.Actor = lifecycle.CITIZEN  # a staff member who entered a letter or a call
    # A query code though not anonymous: a report on the mobile page with no WeChat to answer it
    # is followed, like an anonymous one, by its tracking number and query code.
    query_code: bool = False


@dataclass
class Submission:
    case: Case
    query_code: str | None  # only for anonymous reports; shown once, stored as a hash


def open_case(s: Session, new: NewCase, vault: IdentityVault, jobs: Jobs) -> Submission:
    """Store `new` as a received case, with its tracking number (and query code when anonymous),
    and queue its routing once the caller commits."""
    if new.channel not in CHANNELS or new.anonymity not in ANONYMITY:
        raise ValueError(f"unknown channel {new.channel!r} or anonymity {new.anonymity!r}")
    texts = [t for t in new.texts if t.strip()]
    if not texts and not new.attachments:
        raise EmptyDraft("nothing to submit")
    text = "\n".join(texts) or NO_TEXT
    qr = new.qr
    # The poster's group takes the case until routing decides, if the poster is live; a retired
    # poster says nothing, one outside its round still says where it hung.
    today = clock.today()
    state = qr.state(today) if qr is not None else None
    case = Case(
        channel=new.channel,
        text=text,
        summary=summary(texts, 120) or text[:120],
        anonymity=new.anonymity,
        qr_code_id=qr.id if qr else None,
        group_id=qr.group_id if state == "live" else None,
        unit_id=qr.unit_id if state not in (None, "retired") else None,
        round_id=qr.round_id if qr is not None and qr.round.runs_on(today) else _current_round_id(s),
    )
    query_code = None
    if new.anonymity == "anonymous" or new.query_code:
        query_code = new_query_code()
        case.query_code_hash = hash_query_code(query_code)
    if new.anonymity != "anonymous":
        if new.openid is not None:
            case.reporter = _reporter(s, vault, new.openid)
        if new.anonymity == "named":
            case.contact_name_enc, case.contact_phone_enc = vault.encrypt(new.name), vault.encrypt(new.phone)
    s.add(case)
    s.flush()
    case.tracking_no = tracking_number(case)
    lifecycle.open_case(s, case, new.actor, CHANNELS[new.channel])
    for att in new.attachments:
        att.case_id = case.id
        s.add(att)
    s.flush()
    for att in new.attachments:
        if att.status == "pending":  # the draft's download was not done: the case fetches its own
            jobs.after_commit(s, download_media, att.id, job_id=f"media-{att.id}")
    jobs.after_commit(s, route_case, case.id, job_id=f"route-{case.id}")
    return Submission(case, query_code)


def submit_draft(s: Session, vault: IdentityVault, jobs: Jobs, media_dir: Path, draft: Draft, openid: str,
                 qr: QrCode | None, anonymous: bool = False, channel: str = "wechat") -> Submission:
    """Turn a chat draft into a case. Writes the case (with copies of the draft's stored media)
    and the pieces' submitted marks, nothing about the conversation: see `intake.drafts`."""
    anonymity = "anonymous" if anonymous else draft.anonymity
    choice = draft.choice
    named = anonymity == "named" and choice is not None
    sub = open_case(s, NewCase(
        channel=channel, texts=draft.texts, anonymity=anonymity, openid=openid,
        name=choice.name if named else None, phone=choice.phone if named else None, qr=qr,
        attachments=[_attachment(media_dir, p) for p in draft.content if p.piece.kind != "text"]), vault, jobs)
    mark_submitted(s, vault, draft)
    return sub


def _attachment(media_dir: Path, p: DraftPiece) -> Attachment:
    """The case's copy of a piece's media: the stored file copied under its content's name (the
    draft's file goes with its piece), or, while the download is not done, the media id for the
    case's own download."""
    piece = p.piece
    att = Attachment(kind=piece.kind, media_format=piece.media_format, lat=piece.lat, lng=piece.lng,
                     recognition=piece.text if piece.kind == "voice" else None,
                     label=piece.text if piece.kind == "location" else None, attempts=0)
    if piece.kind == "location":
        att.status, att.stored_at = "stored", utcnow()
    elif p.media == "stored" and p.file and (media_dir / p.file).exists():
        content = (media_dir / p.file).read_bytes()
        att.content_type = media.content_type(p.file)
        att.storage_path, att.sha256 = media.store(media_dir, content, att.content_type)
        att.size, att.status, att.stored_at = len(content), "stored", utcnow()
    else:
        att.media_id, att.status = piece.media_id, "pending"
    return att


def tracking_number(case: Case) -> str:
    """受理编号: XC + the Beijing date + the case id, e.g. XC261125000042."""
    return f"XC{local(case.created_at or utcnow()):%y%m%d}{case.id:06d}"


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
