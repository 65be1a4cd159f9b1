"""Helpers for the outbox's tests: reporters with (or without) a recent message, what the fake
WeChat API delivered, and the outbox's rows."""
from __future__ import annotations

from datetime import timedelta, timezone

import requests
import sqlalchemy as sa

from core.db import utcnow
from core.models import Conversation, OutboxMessage, Reporter
from intake.pushes import hour


def reporter(db, vault, openid: str, fake: str | None = None, wrote_hours_ago: float | None = None) -> Reporter:
    """A reporter; `wrote_hours_ago`: their conversation's last message (the product keeps the
    hour), told to the fake WeChat API too so that its 48-hour window agrees."""
    row = Reporter(openid_hash=vault.openid_hash(openid), openid_enc=vault.encrypt(openid))
    db.add(row)
    if wrote_hours_ago is not None:
        at = utcnow() - timedelta(hours=wrote_hours_ago)
        db.add(Conversation(openid_hash=row.openid_hash, last_inbound_at=hour(at), created_at=hour(at)))
        if fake:
            requests.post(f"{fake}/_fake/interaction", json={"openid": openid, "at": at.replace(tzinfo=timezone.utc).timestamp()},
                          timeout=5)
    db.commit()
    return row


def delivered(fake: str, openid: str | None = None) -> list[dict]:
    params = {"touser": openid} if openid else {}
    return requests.get(f"{fake}/_fake/messages", params=params, timeout=10).json()["messages"]


def rows(db) -> list[OutboxMessage]:
    db.expire_all()
    return list(db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def fake(fake_url: str, control: str, **body) -> dict:
    r = requests.post(f"{fake_url}/_fake/{control}", json=body, timeout=5)
    r.raise_for_status()
    return r.json()


def queued(app, db, fake_wechat, n: int, wrote_hours_ago: float | None = None, prefix: str = "oQUEUED") -> list[Reporter]:
    """`n` reporters, each with one status message queued (`intake.outbox.queue`)."""
    from intake import outbox

    vault = app.extensions["vault"]
    reps = [reporter(db, vault, f"{prefix}{i:020d}", fake_wechat, wrote_hours_ago) for i in range(n)]
    with app.app_context():
        for i, rep in enumerate(reps):
            outbox.queue(db, reporter_id=rep.id, purpose="status", text=f"消息{i}")
    db.commit()
    return reps
