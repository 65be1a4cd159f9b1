"""The inbound log: each WeChat push is accepted once; a retry replays the first reply.

Replies are kept encrypted (they may hold a tracking number and a query code) and only as long
as WeChat may retry: `purge` clears them after an hour and drops rows after a week.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.identity import IdentityVault
from core.models import InboundMessage

_inbound = InboundMessage.__table__


REPLY_KEPT = timedelta(hours=1)
ROW_KEPT = timedelta(days=7)


def seal(vault: IdentityVault, reply: str | None) -> str | None:
    return None if reply is None else vault.encrypt(reply).decode()


def replayed(s: Session, vault: IdentityVault, dedupe_key: str) -> str | None:
    """The answer given the first time this push came (None: there was none, or none stored)."""
    sealed = s.scalar(sa.select(_inbound.c.reply).where(_inbound.c.dedupe_key == dedupe_key))
    return vault.decrypt(sealed.encode()) if sealed else None


_RECORD = sa.text(  # same SQL on PostgreSQL and SQLite; see intake.drafts on why text
    "INSERT INTO inbound_messages (dedupe_key, msg_type, reply, received_at) "
    "VALUES (:dedupe_key, :msg_type, :reply, :received_at) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")


def record(s: Session, vault: IdentityVault, dedupe_key: str, msg_type: str, reply: str | None) -> bool:
    """Store the push with its reply; False when another request stored it first."""
    params = {"dedupe_key": dedupe_key, "msg_type": msg_type, "reply": seal(vault, reply), "received_at": utcnow()}
    return s.execute(_RECORD, params).first() is not None


def purge(s: Session) -> dict[str, int]:
    """Clear replies past WeChat's retries; drop rows past any retry (the content lives on in
    drafts and cases; only the dedupe key goes)."""
    now = utcnow()
    cleared = s.execute(sa.update(InboundMessage).where(InboundMessage.reply.is_not(None),
                                                        InboundMessage.received_at < now - REPLY_KEPT)
                        .values(reply=None)).rowcount
    dropped = s.execute(sa.delete(InboundMessage).where(InboundMessage.received_at < now - ROW_KEPT)).rowcount
    return {"replies_cleared": cleared or 0, "rows_dropped": dropped or 0}
