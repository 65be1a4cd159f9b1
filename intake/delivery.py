"""Delivering the outbox (`intake.outbox`): a message reaches the citizen once.

WeChat's send APIs have no idempotency key and no way to ask whether a message went out, so
"once" rests on what this module commits before and after each request, and on the one piece
of evidence WeChat gives afterwards.

1. Claim. A job claims up to BATCH waiting rows in one statement (`queued` → `claimed`, with
   its token and a lease; PostgreSQL skips rows another job holds). Only the oldest open row of
   each recipient is claimable, and a partial unique index allows one claimed or sending row
   per recipient: one message in flight per person, and in order. Nothing is sent yet, so a
   claim whose worker died is simply put back (`reap`, after its lease).
2. Attempt. Everything the request needs (openid decrypted, access token, the body) is ready
   before the row becomes `sending` (with the way, `custom` or `template`, and a fresh lease);
   that commit is durable before the request leaves. A customer-service text goes within 48
   hours of the citizen's last message (kept to the hour, so 47 hours after that hour: the
   stored hour is never later than the message); otherwise, or when WeChat answers 45015/45047
   (which means it sent nothing), the row's way becomes `template` (committed) and a template
   message with a link to the mobile page goes instead.
3. Record. WeChat's answer is recorded with the next row's attempt (one commit per message):
   `sent` (with the template's msgid), `failed` (a refusal that will not pass), or `queued`
   again with a backoff (45009 quota, -1 busy, a token still refused after one refresh, HTTP
   errors, a connection that could not be made: WeChat sent nothing) and the job raises so
   RQ retries it (its `Retry`, `core.jobs`). A 40001/42001 is refreshed once inside the client,
   under a Redis lock shared by every worker (`core.wechat_api`).

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
  decides (retry). Residual risk: a worker that died in the instant between committing
  `sending` and writing the request (everything was prepared before, so microseconds) leaves a
  text that was not sent and is not resent automatically; the reply itself still waits in 查询
  and on the mobile page.
A `sent` record lost with its commit (PostgreSQL crash) leaves the row `sending`: settled as above.
"""
from __future__ import annotations

import logging
import secrets
import threading
from contextlib import contextmanager
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.app import database, jobs, settings, vault, wechat_api
from core.db import utcnow
from core.models import Case, Conversation, OutboxMessage, Reporter
from core.wechat_api import WeChatApiError

log = logging.getLogger(__name__)

BATCH = 200
LANES = 8  # messages in flight per job (each to another recipient)
JOB_SECONDS = 60  # RQ's default job timeout is 180 s
WINDOW = timedelta(hours=47)  # 48 hours after the citizen's last message, whose hour is kept
NOT_SENT_BY_CS = frozenset({45015, 45047})  # outside the window, or too many in it: nothing sent
TITLES = {"reply": "您反映的问题有了答复", "status": "您反映的问题有新进展", "rating": "请评价办理结果",
          "survey": "满意度测评邀请", "reminder": "温馨提示"}
CS_MAX = 600  # characters of a customer-service text (WeChat takes 2048 bytes)
TEMPLATE_MAX = 180


class RetryLater(Exception):
    """Some messages met an error that may pass (quota, busy, network): RQ retries the job."""


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


class Sender:
    """One job's batch: attempt each row (committed first), record WeChat's answer with the
    next row's attempt."""

    def __init__(self, token: str):
        cfg = settings()
        self.token, self.cfg, self.api, self.vault = token, cfg, wechat_api(), vault()
        self.db = database()
        self.local = threading.local()  # each lane's records waiting for its next commit
        self.lock = threading.Lock()
        self.counts = {"claimed": 0, "sent": 0, "failed": 0, "retry": 0, "unsettled": 0, "released": 0}
        self.stop: str | None = None  # an error that will meet every other row too (quota, network)

    @property
    def pending(self) -> list[tuple[str, dict]]:
        if not hasattr(self.local, "pending"):
            self.local.pending = []
        return self.local.pending

    def _count(self, key: str) -> None:
        with self.lock:
            self.counts[key] += 1

    def run(self, rows: list[Row]) -> dict[str, int]:
        """LANES threads, each through its share of the batch one message at a time (the
        recipients of a batch are all different): WeChat's answers and the database's commits
        are waited for side by side."""
        self.counts["claimed"] = len(rows)
        lanes = [rows[i::LANES] for i in range(min(LANES, len(rows)))]
        try:
            with ThreadPoolExecutor(len(lanes), thread_name_prefix="outbox") as pool:
                running = [pool.submit(self._lane, lane) for lane in lanes]
                while not wait(running, timeout=self.cfg.outbox_lease_seconds / 3).done == set(running):
                    self._renew()  # this thread alone: two renewals could deadlock each other
                for done in running:
                    done.result()
        finally:
            try:
                self._flush(release=True)
            finally:
                self._close()
        if self.counts["retry"]:
            raise RetryLater(f"{self.counts['retry']} message(s) to retry: {self.stop or 'see last_error'}")
        return self.counts

    def _renew(self) -> None:
        """The claim of the rows not yet tried lives on while the batch runs."""
        lease = utcnow() + timedelta(seconds=self.cfg.outbox_lease_seconds)
        with self._tx() as s:
            s.execute(sa.text("UPDATE outbox SET lease_until = :lease WHERE claim = :token AND status = 'claimed'"),
                      {"lease": lease, "token": self.token})
            s.commit()

    @contextmanager
    def _tx(self):
        """A transaction on this thread's own connection (kept for the lane: no session per message)."""
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = self.db.engine.connect()
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise

    def _close(self) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            self.local.conn = None
            conn.close()

    def _lane(self, rows: list[Row]) -> None:
        try:
            for row in rows:
                if self.stop:
                    break
                self._one(row)
        finally:
            try:
                self._flush(release=False)
            finally:
                self._close()

    # --- one message --------------------------------------------------------------------

    def _one(self, row: Row) -> None:
        now = utcnow()
        try:
            openid = self.vault.decrypt(row.openid_enc) if row.openid_enc else None
        except ValueError as exc:
            openid, problem = None, str(exc)
        else:
            problem = "没有可发送的微信身份"
        if not openid:
            self._record(row.id, "failed", last_error=problem, attempt=True)
            return
        in_window = row.last_inbound_at is not None and now < row.last_inbound_at + WINDOW
        via = "custom" if in_window else "template"
        try:
            self.api.client.access_token  # noqa: B018  (fetched now: nothing to wait for once marked)
        except Exception as exc:  # noqa: BLE001 - token endpoint or Redis: nothing was sent
            error = exc if isinstance(exc, WeChatApiError) else WeChatApiError(None, f"access token: {type(exc).__name__}")
            self._retry(row, error, attempt=False)
            return
        if not self._mark(row.id, via, now):
            return  # the claim was lost (lease ran out and the row went back): not ours to send
        try:
            if via == "custom":
                try:
                    self.api.send_text(openid, self._cs_text(row))
                    self._sent(row.id, None)
                    return
                except WeChatApiError as exc:
                    if exc.errcode not in NOT_SENT_BY_CS:
                        raise
                    via = "template"
                    self._switch(row.id, f"客服消息未发出（{exc.errcode}），改发模板消息")
            msgid = self.api.send_template(openid, self.cfg.wechat_template_id, self._fields(row), url=self._url(row))
            self._sent(row.id, msgid)
        except WeChatApiError as exc:
            if exc.maybe_delivered:
                self._unsettled(row.id, via, exc)
            elif exc.retryable:
                self._retry(row, exc, attempt=True)
            else:
                self._record(row.id, "failed", last_error=_error(exc))

    def _cs_text(self, row: Row) -> str:
        text = row.text if len(row.text) <= CS_MAX else row.text[:CS_MAX - 1] + "…"
        if row.tracking_no:
            text = f"【受理编号{row.tracking_no}】{text}"
        return f"{text}\n查看详情：{self._url(row)}" if row.link_path else text

    def _url(self, row: Row) -> str:
        return self.cfg.public_url.rstrip("/") + (row.link_path or "/r/")

    def _fields(self, row: Row) -> dict[str, str]:
        text = row.text if len(row.text) <= TEMPLATE_MAX else row.text[:TEMPLATE_MAX - 1] + "…"
        remark = "点击查看详情并评价" if row.purpose in ("reply", "rating", "survey") else "点击查看详情"
        return {"first": TITLES.get(row.purpose, TITLES["status"]), "keyword1": row.tracking_no or "—",
                "keyword2": text, "remark": remark}

    # --- what is committed --------------------------------------------------------------

    def _mark(self, row_id: int, via: str, now: datetime) -> bool:
        """The attempt, committed (durably) before the request leaves, with the records so far."""
        lease = now + timedelta(seconds=self.cfg.outbox_lease_seconds)
        with self._tx() as s:
            self._apply(s)
            done = s.execute(sa.text(
                "UPDATE outbox SET status = 'sending', via = :via, sending_at = :now, lease_until = :lease, "
                "attempts = attempts + 1 WHERE id = :id AND claim = :token AND status = 'claimed'"),
                {"via": via, "now": now, "lease": lease, "id": row_id, "token": self.token}).rowcount
            self._commit(s)
        return bool(done)

    def _switch(self, row_id: int, note: str) -> None:
        """45015/45047: WeChat sent nothing; the way becomes template before that request leaves."""
        with self._tx() as s:
            self._apply(s)
            s.execute(sa.text("UPDATE outbox SET via = 'template', last_error = :note WHERE id = :id "
                              "AND claim = :token AND status = 'sending'"),
                      {"note": note, "id": row_id, "token": self.token})
            self._commit(s)

    def _sent(self, row_id: int, msgid: int | None) -> None:
        # A receipt may have settled the row first (same msgid): then there is nothing to do.
        self.pending.append((
            "UPDATE outbox SET status = 'sent', sent_at = :now, msgid = COALESCE(msgid, :msgid), last_error = NULL, "
            "claim = NULL, lease_until = NULL WHERE id = :id AND claim = :token AND status IN ('sending', 'unknown')",
            {"now": utcnow(), "msgid": msgid, "id": row_id, "token": self.token}))
        self._count("sent")

    def _record(self, row_id: int, status: str, *, last_error: str, attempt: bool = False) -> None:
        self.pending.append((
            f"UPDATE outbox SET status = :status, last_error = :error, claim = NULL, lease_until = NULL"
            f"{', attempts = attempts + 1' if attempt else ''} WHERE id = :id AND claim = :token "
            "AND status IN ('claimed', 'sending')",
            {"status": status, "error": last_error[:300], "id": row_id, "token": self.token}))
        self._count(status if status in self.counts else "failed")

    def _retry(self, row: Row, exc: WeChatApiError, attempt: bool) -> None:
        """Back to the queue after a backoff (or failed, after outbox_max_attempts); the job
        raises at the end so that RQ retries it."""
        intervals = self.cfg.job_retry_intervals or (60,)
        delay, row_id = intervals[min(row.attempts, len(intervals) - 1)], row.id
        self.pending.append((
            "UPDATE outbox SET status = CASE WHEN attempts >= :most THEN 'failed' ELSE 'queued' END, "
            "next_at = :next, last_error = :error, claim = NULL, lease_until = NULL "
            f"{', attempts = attempts + 1' if not attempt else ''} "
            "WHERE id = :id AND claim = :token AND status IN ('claimed', 'sending')",
            {"most": self.cfg.outbox_max_attempts - (0 if attempt else 1), "next": utcnow() + timedelta(seconds=delay),
             "error": _error(exc), "id": row_id, "token": self.token}))
        self._count("retry")
        if exc.errcode in (45009, 45011) or exc.errcode is None:
            self.stop = _error(exc)  # every other row would meet it too: put them back untried

    def _unsettled(self, row_id: int, via: str, exc: WeChatApiError) -> None:
        """No answer, and the request may have arrived: a template message waits for its receipt
        (`reap`); a customer-service text can never be confirmed, so it is not resent by itself."""
        if via == "template":
            self.pending.append(("UPDATE outbox SET last_error = :error WHERE id = :id AND claim = :token",
                                 {"error": "未收到微信应答，等待送达回执：" + _error(exc), "id": row_id, "token": self.token}))
        else:
            self.pending.append((
                "UPDATE outbox SET status = 'unknown', last_error = :error, lease_until = NULL "
                "WHERE id = :id AND claim = :token AND status = 'sending'",
                {"error": "客服消息发出后未收到应答，无法确认是否送达，未自动重发：" + _error(exc), "id": row_id,
                 "token": self.token}))
        self._count("unsettled")
        self.stop = _error(exc)

    def _apply(self, s) -> None:
        for sql, params in self.pending:
            s.execute(sa.text(sql), params)

    def _commit(self, s) -> None:
        """The records go with the commit; a transaction that failed keeps them for the next."""
        s.commit()
        self.pending.clear()

    def _flush(self, release: bool) -> None:
        with self._tx() as s:
            self._apply(s)
            if release:  # rows of this batch never tried (a stop, or an exception): back, untouched
                self.counts["released"] = s.execute(sa.text(
                    "UPDATE outbox SET status = 'queued', claim = NULL, lease_until = NULL "
                    "WHERE claim = :token AND status = 'claimed'"), {"token": self.token}).rowcount
            self._commit(s)


def _error(exc: WeChatApiError) -> str:
    return str(exc)[:300]


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
