"""Conversations and drafts (草稿): what a citizen has said so far, before submitting.

A conversation is keyed by the blind index of the openid only. Pieces of a draft are kept as
entries; voice and images become attachments at once, so a job can fetch the media before
WeChat's media ids expire (3 days), whether or not the draft is ever submitted.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import utcnow
from core.identity import IdentityVault
from core.models import Attachment, Conversation, Draft, DraftEntry, QrCode

SUMMARY_CHARS = 60


def touch_conversation(s: Session, vault: IdentityVault, openid: str, now: datetime | None = None) -> Conversation:
    """The citizen's conversation, created on first contact; records the time of this message."""
    now = now or utcnow()
    openid_hash = vault.openid_hash(openid)
    conv = s.scalar(sa.select(Conversation).where(Conversation.openid_hash == openid_hash))
    if conv is None:
        try:
            with s.begin_nested():
                conv = Conversation(openid_hash=openid_hash, openid_enc=vault.encrypt(openid),
                                    last_inbound_at=now, created_at=now)
                s.add(conv)
        except IntegrityError:  # two first messages at once: the other request made it
            conv = s.scalar(sa.select(Conversation).where(Conversation.openid_hash == openid_hash))
    conv.last_inbound_at = now
    return conv


def remember_scene(s: Session, conv: Conversation, qr: QrCode) -> None:
    """A scan binds the citizen's next report (and the one being written) to the poster's group."""
    conv.qr_code_id = qr.id
    draft = open_draft(s, conv)
    if draft is not None:
        draft.qr_code_id = qr.id


def open_draft(s: Session, conv: Conversation) -> Draft | None:
    return s.scalar(sa.select(Draft).where(Draft.conversation_id == conv.id, Draft.status == "open")
                    .order_by(Draft.id.desc()).limit(1))


def abandoned_draft(s: Session, conv: Conversation) -> Draft | None:
    return s.scalar(sa.select(Draft).where(Draft.conversation_id == conv.id, Draft.status == "abandoned")
                    .order_by(Draft.id.desc()).limit(1))


def ensure_draft(s: Session, conv: Conversation) -> Draft:
    draft = open_draft(s, conv)
    if draft is None:
        draft = Draft(conversation_id=conv.id, qr_code_id=conv.qr_code_id, status="open")
        s.add(draft)
        s.flush()
    draft.updated_at = utcnow()
    draft.reminded_at = None
    return draft


def add_text(s: Session, conv: Conversation, text: str, kind: str = "text") -> Draft:
    draft = ensure_draft(s, conv)
    s.add(DraftEntry(draft_id=draft.id, kind=kind, text=text))
    draft.entry_count += 1
    return draft


def add_media(s: Session, conv: Conversation, kind: str, media_id: str, media_format: str | None = None,
              recognition: str | None = None) -> tuple[Draft, Attachment]:
    """Voice or image: the attachment is `pending` until the media job has stored the file."""
    draft = ensure_draft(s, conv)
    if recognition:
        s.add(DraftEntry(draft_id=draft.id, kind=kind, text=recognition))
    else:
        s.add(DraftEntry(draft_id=draft.id, kind=kind))
    att = Attachment(draft_id=draft.id, kind=kind, media_id=media_id, media_format=media_format,
                     recognition=recognition or None, status="pending")
    s.add(att)
    draft.entry_count += 1
    s.flush()
    return draft, att


def add_location(s: Session, conv: Conversation, lat: float, lng: float, label: str | None,
                 scale: int | None = None) -> Draft:
    draft = ensure_draft(s, conv)
    s.add(DraftEntry(draft_id=draft.id, kind="location", text=label))
    s.add(Attachment(draft_id=draft.id, kind="location", lat=lat, lng=lng, label=label, status="stored",
                     stored_at=utcnow()))
    draft.entry_count += 1
    return draft


def set_anonymous(s: Session, conv: Conversation) -> Draft:
    """匿名: the case will carry no reporter at all; the citizen follows it by query code."""
    draft = ensure_draft(s, conv)
    draft.anonymity = "anonymous"
    draft.name_enc = draft.phone_enc = None
    return draft


def set_named(s: Session, conv: Conversation, vault: IdentityVault, name: str, phone: str) -> Draft:
    """实名: name and phone, encrypted, so the group can call back."""
    draft = ensure_draft(s, conv)
    draft.anonymity = "named"
    draft.name_enc, draft.phone_enc = vault.encrypt(name), vault.encrypt(phone)
    return draft


def cancel(s: Session, conv: Conversation) -> bool:
    """取消: the citizen drops the draft. Its media rows go too: nothing of it is kept."""
    draft = open_draft(s, conv) or abandoned_draft(s, conv)
    if draft is None:
        return False
    s.execute(sa.delete(Attachment).where(Attachment.draft_id == draft.id))
    draft.status = "cancelled"
    s.execute(sa.delete(DraftEntry).where(DraftEntry.draft_id == draft.id))
    return True


def resume(s: Session, draft: Draft) -> None:
    """An abandoned draft comes back when the citizen does."""
    draft.status = "open"
    draft.updated_at = utcnow()


def draft_texts(s: Session, draft: Draft) -> list[str]:
    return [t for t in s.scalars(sa.select(DraftEntry.text).where(DraftEntry.draft_id == draft.id)
                                 .order_by(DraftEntry.id)) if t]


def summary(texts: list[str], limit: int = SUMMARY_CHARS) -> str:
    joined = "；".join(t.strip() for t in texts if t and t.strip())
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"
