"""The inbound log: each WeChat push is accepted once; a retry replays the first reply."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import InboundMessage

_inbound = InboundMessage.__table__


def replayed(s: Session, dedupe_key: str) -> str | None:
    """The answer given the first time this push came (None: there was none, or none stored)."""
    return s.scalar(sa.select(_inbound.c.reply).where(_inbound.c.dedupe_key == dedupe_key))


_RECORD = sa.text(  # same SQL on PostgreSQL and SQLite; see intake.drafts on why text
    "INSERT INTO inbound_messages (dedupe_key, msg_type, reply, received_at) "
    "VALUES (:dedupe_key, :msg_type, :reply, :received_at) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")


def record(s: Session, dedupe_key: str, msg_type: str, reply: str | None) -> bool:
    """Store the push with its reply; False when another request stored it first."""
    params = {"dedupe_key": dedupe_key, "msg_type": msg_type, "reply": reply, "received_at": utcnow()}
    return s.execute(_RECORD, params).first() is not None
