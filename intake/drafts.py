"""Conversations and drafts (草稿): what a citizen has said so far, before submitting.

This is the webhook's hot path, so it speaks SQL (SQLAlchemy Core: upserts and RETURNING, the
same on PostgreSQL and SQLite) rather than loading ORM objects: a text push costs a handful of
statements. A conversation is keyed by the blind index of the openid only. Voice and images
become attachments at once (`intake.capture`), so a job fetches the media before WeChat's
ids expire (3 days).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.identity import IdentityVault
from core.models import Attachment, Conversation, Draft, DraftEntry

SUMMARY_CHARS = 60
_conv, _draft, _entry, _att = (Conversation.__table__, Draft.__table__, DraftEntry.__table__,
                               Attachment.__table__)


@dataclass(frozen=True)
class ConversationRef:
    id: int
    qr_code_id: int | None


@dataclass(frozen=True)
class DraftRef:
    id: int
    entry_count: int
    anonymity: str
    summary: str


# An upsert as SQL text: the same statement on PostgreSQL and SQLite (3.35+), compiled once.
# (SQLAlchemy does not cache its ON CONFLICT constructs, which cost a compile on every push.)
_TOUCH = sa.text(
    "INSERT INTO conversations (openid_hash, openid_enc, qr_code_id, last_inbound_at, created_at) "
    "VALUES (:openid_hash, :openid_enc, :qr_code_id, :seen, :seen) ON CONFLICT (openid_hash) "
    "DO UPDATE SET last_inbound_at = excluded.last_inbound_at RETURNING id, qr_code_id")


def seen_hour(now: datetime) -> datetime:
    """When a citizen last wrote, kept only to the hour: enough for WeChat's 48-hour window, and
    too coarse to match a conversation to the second an anonymous case was submitted."""
    return now.replace(minute=0, second=0, microsecond=0)


def touch_conversation(s: Session, vault: IdentityVault, openid: str, now: datetime | None = None) -> ConversationRef:
    """The citizen's conversation, created on first contact; records when they last wrote (the
    48-hour window). QR scans go through `intake.capture.arrive`."""
    now = now or utcnow()
    row = s.execute(_TOUCH, {"openid_hash": vault.openid_hash(openid), "openid_enc": vault.encrypt(openid),
                             "qr_code_id": None, "seen": seen_hour(now)}).one()
    return ConversationRef(row.id, row.qr_code_id)


def open_draft(s: Session, conv: ConversationRef) -> DraftRef | None:
    """The citizen's unsubmitted draft (also one marked abandoned after a long silence)."""
    row = s.execute(sa.select(_draft.c.id, _draft.c.entry_count, _draft.c.anonymity, _draft.c.summary)
                    .where(_draft.c.conversation_id == conv.id, _draft.c.status == "open")).first()
    return DraftRef(row.id, row.entry_count, row.anonymity, row.summary or "") if row else None


def _bump(s: Session, conv: ConversationRef, text: str | None, anonymity: str | None = None,
          **fields) -> DraftRef:
    """Add one piece to the open draft (made if none), keeping its count and summary current.
    An abandoned draft comes back to life: the citizen returned to it. (The webhook's
    `intake.capture` does the same for texts and media in one statement.)"""
    now = utcnow()
    current = open_draft(s, conv)
    increment = 1 if text is not None else 0
    if current is None:
        summary = extend_summary("", text)
        values = dict(conversation_id=conv.id, qr_code_id=conv.qr_code_id, status="open", entry_count=increment,
                      summary=summary, anonymity=anonymity or "default", created_at=now, updated_at=now, **fields)
        draft_id = s.execute(sa.insert(_draft).values(**values).returning(_draft.c.id)).scalar_one()
        return DraftRef(draft_id, increment, values["anonymity"], summary)
    summary = extend_summary(current.summary, text)
    values = dict(entry_count=current.entry_count + increment, updated_at=now, reminded_at=None, abandoned_at=None,
                  **fields)
    if summary != current.summary:
        values["summary"] = summary
    if anonymity:
        values["anonymity"] = anonymity
    s.execute(sa.update(_draft).where(_draft.c.id == current.id).values(**values))
    return DraftRef(current.id, values["entry_count"], anonymity or current.anonymity, summary)


def add_text(s: Session, conv: ConversationRef, text: str, kind: str = "text") -> DraftRef:
    draft = _bump(s, conv, text)
    s.execute(sa.insert(_entry).values(draft_id=draft.id, kind=kind, text=text, created_at=utcnow()))
    return draft


def set_anonymous(s: Session, conv: ConversationRef) -> DraftRef:
    """匿名: the case will carry no reporter at all; the citizen follows it by query code."""
    return _bump(s, conv, None, anonymity="anonymous", name_enc=None, phone_enc=None)


def set_named(s: Session, conv: ConversationRef, vault: IdentityVault, name: str, phone: str) -> DraftRef:
    """实名: name and phone, encrypted, so the group can call back."""
    return _bump(s, conv, None, anonymity="named", name_enc=vault.encrypt(name), phone_enc=vault.encrypt(phone))


def cancel(s: Session, conv: ConversationRef) -> bool:
    """取消: the citizen drops the draft; its entries and media rows go too."""
    draft = open_draft(s, conv)
    if draft is None:
        return False
    s.execute(sa.delete(_att).where(_att.c.draft_id == draft.id))
    s.execute(sa.delete(_entry).where(_entry.c.draft_id == draft.id))
    s.execute(sa.update(_draft).where(_draft.c.id == draft.id).values(status="cancelled", summary=None))
    return True


def draft_texts(s: Session, draft_id: int) -> list[str]:
    return [t for t in s.scalars(sa.select(_entry.c.text).where(_entry.c.draft_id == draft_id)
                                 .order_by(_entry.c.id)) if t]


def summary(texts: list[str], limit: int = SUMMARY_CHARS) -> str:
    joined = "；".join(t.strip() for t in texts if t and t.strip())
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


def extend_summary(current: str, text: str | None) -> str:
    if not text or not text.strip() or len(current) >= SUMMARY_CHARS:  # full (cut with "…")
        return current
    return summary([current, text])
