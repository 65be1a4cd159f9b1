"""The WeChat conversation: who is talking (by blind index only), their draft, the inbound log."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.models.org import QrCode


class Conversation(Base):
    """One per WeChat user: the last QR scene scanned and when the citizen last wrote (48 h window)."""
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    openid_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    openid_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # to remind of a quiet draft
    qr_code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("qr_codes.id"))
    # Both kept to the hour only (see intake.drafts.seen_hour): no timing link to an anonymous case.
    last_inbound_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    qr_code: Mapped[QrCode | None] = relationship()


class Draft(Base):
    """A report being written (草稿). Kept until submitted (then deleted: the case holds it) or
    cancelled; never dropped silently: a quiet draft gets a reminder, then `abandoned_at` is set
    and it stays listed (`flask drafts list`) and resumes when the citizen writes again."""
    __tablename__ = "drafts"
    # At most one open draft per conversation: the webhook's upsert relies on it.
    __table_args__ = (sa.Index("uq_drafts_open_conversation", "conversation_id", unique=True,
                               postgresql_where=sa.text("status = 'open'"), sqlite_where=sa.text("status = 'open'")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by the partial unique index below (open drafts: the only ones looked up by conversation).
    conversation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("conversations.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(12), default="open")  # open | cancelled
    anonymity: Mapped[str] = mapped_column(sa.String(12), default="default")
    name_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    phone_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    qr_code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("qr_codes.id"))
    entry_count: Mapped[int] = mapped_column(default=0)
    summary: Mapped[str | None] = mapped_column(sa.String(80))  # kept current for the bot's echo
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    reminded_at: Mapped[datetime | None]
    # Set by the sweep after a long silence; cleared when the citizen writes again.
    abandoned_at: Mapped[datetime | None]
    entries: Mapped[list["DraftEntry"]] = relationship(order_by="DraftEntry.id", cascade="all, delete-orphan")


class DraftEntry(Base):
    """One piece of a draft: a text, or a voice message's recognised text, an image, a location."""
    __tablename__ = "draft_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(sa.ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # text | voice | image | location
    text: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """Every accepted push, once. The unique `dedupe_key` (MsgId, or a hashed sender + CreateTime +
    event for events) turns WeChat's retries into a replay of the stored reply. Holds no content
    and no openid, so the log cannot tie an anonymous report to its author."""
    __tablename__ = "inbound_messages"
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    msg_type: Mapped[str] = mapped_column(sa.String(30))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    reply: Mapped[str | None] = mapped_column(sa.Text)
