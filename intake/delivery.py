"""Delivering the outbox (`intake.outbox`): a message reaches the citizen once.

WeChat's send APIs have no idempotency key and no way to ask whether a message went out, so
"once" rests on what this module commits before and after each request, and on the one piece
of evidence WeChat gives afterwards.

1. Claim. A job claims up to BATCH waiting rows in one statement (`queued` → `claimed`, with
   its token and a lease; PostgreSQL skips rows another job holds). Only the oldest open row of
   each recipient is claimable, and a partial unique index allows one claimed or sending row
   per recipient: one message in flight per person, and in order. Nothing is sent yet, so a
   claim whose worker died is simply put back (`reap`, after its lease).
2. Attempt. A customer-service text goes within 48 hours of the citizen's last message (kept to
   the hour, so 47 hours after that hour: the stored hour is never later than the message);
   otherwise, or when WeChat answers 45015/45047 (which means it sent nothing), a template
   message with a link to the mobile page goes instead. The rows of a step become `sending`
   (with the way, and a fresh lease) in a transaction whose COMMIT is written to the database
   together with the last bytes of their requests (`intake.sender`): a request is never whole
   before its attempt is on its way to the database, and the attempt never waits a round trip
   for its request.
3. Record. WeChat's answer is recorded with the next step's attempts (one commit per step):
   `sent` (with the template's msgid), `failed` (a refusal that will not pass), or `queued`
   again with a backoff (45009 quota, -1 busy, a token still refused after one refresh, HTTP
   errors, a connection that could not be made: WeChat sent nothing) and the job raises so
   RQ retries it (its `Retry`, `core.jobs`). A 40001/42001 is refreshed once for the step,
   under a Redis lock shared by every worker (`core.wechat_api`), and its rows go again.

Where it can go wrong, and what settles it: a `sending` row whose answer was never recorded
(the worker died, or the connection broke after the request left). `reap` finds it after its
lease:
- a template message: WeChat pushes TEMPLATESENDJOBFINISH for every template message it
  accepted, naming the openid and the msgid. A msgid we never recorded belongs to that
  recipient's one message in flight (`intake.outbox.template_receipt`), which becomes `sent`.
  No receipt within `outbox_receipt_seconds` means WeChat never accepted it: it is queued again.
  Residual risk: a receipt WeChat sent and our webhook missed through all of WeChat's retries
  (then the message is sent twice).
- a customer-service text: WeChat gives no receipt and no way to ask, so it is never resent by
  itself: it becomes `unknown`, shown on the case page and in the outbox view, and a person
  decides (retry). Residual risk: a worker that died after writing its COMMIT and before
  writing the last bytes of the step's requests (a few one-byte writes, on one thread) leaves
  texts that were not sent and are not resent automatically; the reply itself still waits in
  查询 and on the mobile page. A COMMIT that fails after the bytes went (the database crashed
  in that instant) leaves rows `claimed` that were sent: they are sent again after their lease.
A `sent` record lost with its commit (PostgreSQL crash) leaves the row `sending`: settled as above.
"""
from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.app import database, jobs, settings
from core.db import utcnow
from core.models import Case, Conversation, OutboxMessage, Reporter
from intake.sender import RetryLater, Sender

log = logging.getLogger(__name__)

BATCH = 200
JOB_SECONDS = 60  # RQ's default job timeout is 180 s
__all__ = ["RetryLater", "claim", "deliver", "reap"]


@dataclass
class Row:
    id: int
    attempts: int
    purpose: str
    text: str
    link_path: str | None
    tracking_no: str | None
    openid_enc: bytes | None
    last_inbound_at: datetime | None


def _pg() -> bool:
    return database().engine.dialect.name == "postgresql"


def deliver(ids: list[int] | None = None) -> dict[str, int]:
    """Claim and send waiting messages, BATCH at a time (`ids`: only those), for up to
    JOB_SECONDS (RQ's job timeout must never cut a send short), then hand over to a new job.
    A full batch first queues another job, so that every worker takes a share."""
    started, forked = time.monotonic(), False
    totals: dict[str, int] = {}
    while True:
        token = secrets.token_hex(8)
        claimed = None
        for _ in range(3):  # a claim refused by the one-in-flight index (a race) is tried again
            claimed = claim(token, ids)
            if claimed is not None:
                break
        if not claimed:
            break
        if ids is None and len(claimed) == BATCH and not forked:
            jobs().enqueue(deliver)
            forked = True
        for key, n in Sender(token).run(_load(token)).items():  # RetryLater: RQ retries the job
            totals[key] = totals.get(key, 0) + n
        if ids is not None:
            break
        if time.monotonic() - started > JOB_SECONDS:
            jobs().enqueue(deliver)
            break
    return totals


def claim(token: str, ids: list[int] | None = None, limit: int = BATCH) -> list[int] | None:
    now = utcnow()
    lease = now + timedelta(seconds=settings().outbox_lease_seconds)
    oldest_open = ("o.id = (SELECT min(b.id) FROM outbox b WHERE b.reporter_id = o.reporter_id "
                   "AND b.status IN ('queued', 'claimed', 'sending'))")
    only = "AND o.id IN (SELECT value FROM json_each(:ids))" if ids is not None and not _pg() else (
        "AND o.id = ANY(:ids)" if ids is not None else "")
    lock = "FOR UPDATE SKIP LOCKED" if _pg() else ""
    stmt = sa.text(
        f"UPDATE outbox SET status = 'claimed', claim = :token, lease_until = :lease WHERE status = 'queued' "
        f"AND id IN (SELECT o.id FROM outbox o WHERE o.status = 'queued' AND o.next_at <= :now {only} "
        f"AND {oldest_open} ORDER BY o.next_at, o.id LIMIT :limit {lock}) RETURNING id")
    params = {"token": token, "lease": lease, "now": now, "limit": limit}
    if ids is not None:
        params["ids"] = list(ids) if _pg() else __import__("json").dumps(list(ids))
    with database().session() as s:
        try:
            got = list(s.execute(stmt, params).scalars())
            s.commit()
        except sa.exc.IntegrityError:  # two claimers took rows of one recipient: the index says no
            s.rollback()
            return None
    return got


def _load(token: str) -> list[Row]:
    o, r, v, c = OutboxMessage, Reporter, Conversation, Case
    with database().session() as s:
        rows = s.execute(
            sa.select(o.id, o.attempts, o.purpose, o.text, o.link_path, c.tracking_no, r.openid_enc, v.last_inbound_at)
            .join(r, r.id == o.reporter_id).outerjoin(v, v.openid_hash == r.openid_hash)
            .outerjoin(c, c.id == o.case_id).where(o.claim == token, o.status == "claimed").order_by(o.id)).all()
    return [Row(*row) for row in rows]


def reap(receipt_seconds: int | None = None) -> dict[str, int]:
    """Periodic: settle what dead workers left. A claim never attempted goes back to the queue;
    an attempt without an answer is settled as the module says; waiting rows get a job."""
    cfg = settings()
    now = utcnow()
    wait = cfg.outbox_receipt_seconds if receipt_seconds is None else receipt_seconds
    receipt_by = now - timedelta(seconds=wait)
    with database().session() as s:
        released = s.execute(sa.text(
            "UPDATE outbox SET status = 'queued', claim = NULL, lease_until = NULL "
            "WHERE status = 'claimed' AND lease_until < :now"), {"now": now}).rowcount
        unknown = s.execute(sa.text(
            "UPDATE outbox SET status = 'unknown', lease_until = NULL, last_error = :error "
            "WHERE status = 'sending' AND via = 'custom' AND lease_until < :now"),
            {"now": now, "error": "发送中断（处理进程中止），客服消息无法确认是否送达，未自动重发"}).rowcount
        resend = s.execute(sa.text(
            "UPDATE outbox SET status = 'queued', claim = NULL, lease_until = NULL, next_at = :now, last_error = :error "
            "WHERE status = 'sending' AND via = 'template' AND lease_until < :now AND sending_at < :by"),
            {"now": now, "by": receipt_by, "error": "发送中断且微信未回送达回执，已重新排队"}).rowcount
        waiting = s.scalar(sa.text("SELECT count(*) FROM outbox WHERE status = 'queued' AND next_at <= :now"),
                           {"now": now})
        s.commit()
    for _ in range(min(2, (waiting + BATCH - 1) // BATCH)):
        jobs().enqueue(deliver)
    return {"released": released, "unknown": unknown, "resent": resend, "waiting": waiting}
