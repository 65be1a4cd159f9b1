"""The WeChat conversation and its pushes: one row per accepted push, the draft derived from them.

Nothing here follows insertion order or keeps a time finer than the hour where it could date a
citizen: conversations are keyed by the openid's blind index, pushes by their dedupe key, and a
draft has no row of its own (see `intake.drafts`). Why: a copy of the database must not tie an
anonymous case to the conversation it came from (README, "What 匿名 protects against").
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.models.org import QrCode


class Conversation(Base):
    """One per WeChat user: the last QR poster scanned and when the citizen last wrote (kept to
    the hour, and written at most once an hour: enough for WeChat's 48-hour window)."""
    __tablename__ = "conversations"
    openid_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    openid_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # to remind of a quiet draft
    qr_code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("qr_codes.id"))
    last_inbound_at: Mapped[datetime]
    created_at: Mapped[datetime]
    # When the sweep last reminded the citizen of an unsubmitted draft (to the hour).
    reminded_at: Mapped[datetime | None]
    qr_code: Mapped[QrCode | None] = relationship()


class Push(Base):
    """An accepted push, once: its dedupe key turns WeChat's retries into a replay.

    A piece of a report (text, voice, image, location, or a 匿名/实名 choice) carries its
    conversation and its content sealed (AES-GCM under IDENTITY_KEY); the pieces of a
    conversation not yet submitted are its draft. Any other push (a command, a scan) carries no
    conversation, only its sealed reply, and is deleted once WeChat can no longer retry it.
    Voice and images are downloaded at once (WeChat's media ids expire): `media` is the state of
    that download, `file` the stored file (a random name)."""
    __tablename__ = "pushes"
    # Pieces are looked up by conversation; the other rows (no conversation) are not indexed.
    __table_args__ = (sa.Index("ix_pushes_conversation", "conversation",
                               postgresql_where=sa.text("conversation IS NOT NULL"),
                               sqlite_where=sa.text("conversation IS NOT NULL")),)
    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    conversation: Mapped[str | None] = mapped_column(sa.String(64))
    sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    reply: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    at: Mapped[datetime]  # pieces: to the hour; other pushes: to the minute
    # pending → fetching (claimed by one job) → stored, or failed (retried) / invalid (never)
    media: Mapped[str | None] = mapped_column(sa.String(10))
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    file: Mapped[str | None] = mapped_column(sa.String(300))


class SubmittedPiece(Base):
    """The mark of a piece that went into a case: a keyed hash of its push key, written with the
    case, so that nothing about the conversation is written in the transaction that makes the
    case. The pieces and their marks are deleted together in a periodic batch."""
    __tablename__ = "submitted_pieces"
    tag: Mapped[str] = mapped_column(sa.String(64), primary_key=True)


class PushSignature(Base):
    """Plain mode only: WeChat's signature covers token, timestamp and nonce, not the body, so
    each signature is kept (hashed) with a hash of the body it came with while it is fresh; the
    same signature with another body is refused."""
    __tablename__ = "push_signatures"
    signature: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    body: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime]
