"""One delivery job's batch (`intake.delivery`), sent in steps of up to LANES messages, each to
another recipient, on one thread:

1. Prepare: each row's openid decrypted, its way chosen (customer-service text or template),
   its request body built, with the access token read once for the step.
2. Mark, in one transaction: the records of the previous step's answers, then the step's rows
   `sending` (attempts + 1). Each request is written to its own keep-alive connection but for
   its last byte (`core.held_request`): WeChat cannot act on it yet. A request that cannot be
   written (a refused connection) is put back in the same transaction: nothing was sent.
3. Commit and release: the COMMIT is written to the database and, before its answer is read,
   the last bytes of the step's requests (`Database.commit_then`). A worker killed before the
   COMMIT left sent nothing and recorded nothing (its claims go back after their lease); killed
   after, it had sent them all. Only the few one-byte writes of one step lie between the two.
4. Answers: read from each connection and kept as records for the next step's transaction: sent
   (with a template's msgid), failed, queued again after a backoff, or, with no answer at all,
   left for a receipt (template) or `unknown` (text). A refused token (40001/42001) is
   refreshed once for the step (under the Redis lock every worker shares, `core.wechat_api`)
   and its rows go again; 45015/45047 (a text WeChat would not send) go again as templates.

On one thread there is no other thread to run between step 3's writes, and no HTTP library's
layers per message: a step costs two database round trips whatever its size.
"""
from __future__ import annotations

import json
import select
import time
from collections import deque
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.app import database, settings, vault, wechat_api
from core.db import utcnow
from core.held_request import HeldRequest, NoAnswer, NotSent
from core.wechat_api import TOKEN_ERRORS, WeChatApiError, redact, template_fields

LANES = 16  # messages per step: in flight together, each on its own connection
WINDOW = timedelta(hours=47)  # 48 hours after the citizen's last message, whose hour is kept
NOT_SENT_BY_CS = frozenset({45015, 45047})  # outside the window, or too many in it: nothing sent
TITLES = {"reply": "您反映的问题有了答复", "status": "您反映的问题有新进展", "rating": "请评价办理结果",
          "survey": "满意度测评邀请", "reminder": "温馨提示"}
CS_MAX = 600  # characters of a customer-service text (WeChat takes 2048 bytes)
TEMPLATE_MAX = 180
ANSWER_WAIT = 0.5  # seconds: answers slower than this let the others' records be committed
PATHS = {"custom": "message/custom/send", "template": "message/template/send"}


class RetryLater(Exception):
    """Some messages met an error that may pass (quota, busy, network): RQ retries the job."""


class Sender:
    def __init__(self, token: str):
        self.token, self.cfg, self.api, self.vault, self.db = token, settings(), wechat_api(), vault(), database()
        self.base = self.api.client.API_BASE_URL  # ".../cgi-bin/"
        self.lanes: list[HeldRequest] = []
        self.conn: sa.Connection | None = None
        self.pending: list[tuple[str, dict]] = []  # records for the next transaction
        self.counts = {"claimed": 0, "sent": 0, "failed": 0, "retry": 0, "unsettled": 0, "released": 0}
        self.stop: str | None = None  # an error that will meet every other row too (quota, network)
        self.as_template: set[int] = set()  # rows WeChat refused as texts (45015/45047)
        self.token_retried: set[int] = set()
        self.renewed = time.monotonic()

    def run(self, rows: list) -> dict[str, int]:
        self.counts["claimed"] = len(rows)
        todo = deque(rows)
        try:
            while todo and not self.stop:
                step = [todo.popleft() for _ in range(min(LANES, len(todo)))]
                todo.extendleft(reversed(self._step(step)))
        finally:
            try:
                self._flush(release=True)
            finally:
                self._close()
        if self.counts["retry"]:
            raise RetryLater(f"{self.counts['retry']} message(s) to retry: {self.stop or 'see last_error'}")
        return self.counts

    # --- one step -----------------------------------------------------------------------

    def _step(self, rows: list) -> list:
        """Send `rows`; returns those to send again in this job (token refreshed, or as templates)."""
        try:
            access_token = self.api.client.access_token
        except Exception as exc:  # noqa: BLE001 - token endpoint or Redis: nothing was sent
            error = exc if isinstance(exc, WeChatApiError) else WeChatApiError(None, f"access token: {type(exc).__name__}")
            for row in rows:
                self._retry(row, error, attempt=False)
            return []
        now = utcnow()
        ready = []  # (row, via, path, payload)
        for row in rows:
            openid, problem = self._openid(row)
            if not openid:
                self._record(row.id, "failed", last_error=problem, attempt=True)
                continue
            in_window = row.last_inbound_at is not None and now < row.last_inbound_at + WINDOW
            via = "custom" if in_window and row.id not in self.as_template else "template"
            path = f"{PATHS[via]}?access_token={access_token}"
            ready.append((row, via, path, self._payload(row, via, openid)))
        if not ready:
            return []
        conn = self._tx()
        try:
            self._apply(conn)
            self._renew(conn)
            marked = self._mark(conn, ready, now)
            begun = []
            for lane, (row, via, path, payload) in zip(self._lanes(len(ready)), ready):
                if row.id not in marked:
                    continue  # the claim was lost (lease ran out and the row went back): not ours
                try:
                    lane.begin(path, payload)
                except NotSent as exc:  # nothing left: put back in the same transaction
                    self._retry(row, WeChatApiError(None, redact(str(exc))), attempt=True)
                    self._apply(conn)
                    continue
                begun.append((lane, row, via))
            self.db.commit_then(conn, lambda: self._release(begun))
        except BaseException:
            for lane in self.lanes:
                lane.abandon()  # a request not released is never completed
            self._rollback()
            raise
        return self._answers(begun, access_token)

    def _answers(self, begun: list, access_token: str) -> list:
        """Each answer as it comes. When some are slow (ANSWER_WAIT), the records of those
        already answered are committed meanwhile: a slow answer does not hold back the others."""
        again, waiting = [], {lane.conn.sock: (lane, row, via) for lane, row, via in begun}
        started = time.monotonic()
        while waiting:
            late = time.monotonic() - started > self.api.client.timeout
            ready = list(waiting) if late else select.select(list(waiting), [], [], ANSWER_WAIT)[0]
            if not ready and self.pending:
                self._flush(release=False)
            for sock in ready:
                lane, row, via = waiting.pop(sock)
                if self._answer(lane, row, via, access_token):  # late: its own timeout decides
                    again.append(row)
        return again

    def _release(self, begun: list) -> None:
        for lane, row, via in list(begun):
            try:
                lane.release()
            except NotSent as exc:  # the server closed the connection: it has no whole request
                begun.remove((lane, row, via))
                self._retry(row, WeChatApiError(None, redact(str(exc))), attempt=True)

    def _answer(self, lane: HeldRequest, row, via: str, access_token: str) -> bool:
        """Record WeChat's answer; True: send the row again in this job."""
        try:
            status, body = lane.response()
        except NoAnswer as exc:
            self._unsettled(row.id, via, WeChatApiError(None, redact(str(exc)), maybe_delivered=True))
            return False
        result, error = _read(status, body)
        if error is None:
            msgid = result.get("msgid") if via == "template" else None
            self._sent(row.id, int(msgid) if msgid is not None else None)
            return False
        if error.errcode in TOKEN_ERRORS and row.id not in self.token_retried:
            self.token_retried.add(row.id)
            self.api.client.refresh_token(stale=access_token)  # once for all: the lock re-reads it
            self._again(row.id, None)
            return True
        if via == "custom" and error.errcode in NOT_SENT_BY_CS:
            self.as_template.add(row.id)
            self._again(row.id, f"客服消息未发出（{error.errcode}），改发模板消息")
            return True
        if error.retryable:
            self._retry(row, error, attempt=True)
        else:
            self._record(row.id, "failed", last_error=_text(error))
        return False

    # --- the request --------------------------------------------------------------------

    def _openid(self, row) -> tuple[str | None, str]:
        try:
            return (self.vault.decrypt(row.openid_enc) if row.openid_enc else None), "没有可发送的微信身份"
        except ValueError as exc:
            return None, str(exc)

    def _payload(self, row, via: str, openid: str) -> dict:
        if via == "custom":
            return {"touser": openid, "msgtype": "text", "text": {"content": self._cs_text(row)}}
        return {"touser": openid, "template_id": self.cfg.wechat_template_id, "url": self._url(row),
                "data": template_fields(self._fields(row))}

    def _cs_text(self, row) -> str:
        text = row.text if len(row.text) <= CS_MAX else row.text[:CS_MAX - 1] + "…"
        if row.tracking_no:
            text = f"【受理编号{row.tracking_no}】{text}"
        return f"{text}\n查看详情：{self._url(row)}" if row.link_path else text

    def _url(self, row) -> str:
        return self.cfg.public_url.rstrip("/") + (row.link_path or "/r/")

    def _fields(self, row) -> dict[str, str]:
        text = row.text if len(row.text) <= TEMPLATE_MAX else row.text[:TEMPLATE_MAX - 1] + "…"
        remark = "点击查看详情并评价" if row.purpose in ("reply", "rating", "survey") else "点击查看详情"
        return {"first": TITLES.get(row.purpose, TITLES["status"]), "keyword1": row.tracking_no or "—",
                "keyword2": text, "remark": remark}

    def _lanes(self, n: int) -> list[HeldRequest]:
        while len(self.lanes) < n:
            self.lanes.append(HeldRequest(self.base, self.api.client.timeout))
        return self.lanes[:n]

    # --- what is committed --------------------------------------------------------------

    def _mark(self, conn: sa.Connection, ready: list, now: datetime) -> set[int]:
        """The step's attempts, in the transaction whose COMMIT goes out with their last bytes."""
        lease = now + timedelta(seconds=self.cfg.outbox_lease_seconds)
        marked: set[int] = set()
        for via in ("custom", "template"):
            ids = [row.id for row, way, _, _ in ready if way == via]
            if ids:
                marked.update(conn.execute(sa.text(
                    "UPDATE outbox SET status = 'sending', via = :via, sending_at = :now, lease_until = :lease, "
                    "attempts = attempts + 1 WHERE id IN :ids AND claim = :token AND status = 'claimed' RETURNING id")
                    .bindparams(sa.bindparam("ids", expanding=True)),
                    {"via": via, "now": now, "lease": lease, "ids": ids, "token": self.token}).scalars())
        return marked

    def _renew(self, conn: sa.Connection) -> None:
        """The claim of the rows not yet tried lives on while the batch runs."""
        if time.monotonic() - self.renewed < self.cfg.outbox_lease_seconds / 3:
            return
        conn.execute(sa.text("UPDATE outbox SET lease_until = :lease WHERE claim = :token AND status = 'claimed'"),
                     {"lease": utcnow() + timedelta(seconds=self.cfg.outbox_lease_seconds), "token": self.token})
        self.renewed = time.monotonic()

    def _sent(self, row_id: int, msgid: int | None) -> None:
        # A receipt may have settled the row first (same msgid): then there is nothing to do.
        self.pending.append((
            "UPDATE outbox SET status = 'sent', sent_at = :now, msgid = COALESCE(msgid, :msgid), last_error = NULL, "
            "claim = NULL, lease_until = NULL WHERE id = :id AND claim = :token AND status IN ('sending', 'unknown')",
            {"now": utcnow(), "msgid": msgid, "id": row_id, "token": self.token}))
        self.counts["sent"] += 1

    def _again(self, row_id: int, note: str | None) -> None:
        """WeChat sent nothing (a refused token, a text it would not take): the row is ours to try
        again in this job, as a template if `note` says so."""
        self.pending.append((
            "UPDATE outbox SET status = 'claimed', last_error = :note WHERE id = :id AND claim = :token "
            "AND status = 'sending'", {"note": note, "id": row_id, "token": self.token}))

    def _record(self, row_id: int, status: str, *, last_error: str, attempt: bool = False) -> None:
        self.pending.append((
            f"UPDATE outbox SET status = :status, last_error = :error, claim = NULL, lease_until = NULL"
            f"{', attempts = attempts + 1' if attempt else ''} WHERE id = :id AND claim = :token "
            "AND status IN ('claimed', 'sending')",
            {"status": status, "error": last_error[:300], "id": row_id, "token": self.token}))
        self.counts[status if status in self.counts else "failed"] += 1

    def _retry(self, row, exc: WeChatApiError, attempt: bool) -> None:
        """Back to the queue after a backoff (or failed, after outbox_max_attempts); the job
        raises at the end so that RQ retries it."""
        intervals = self.cfg.job_retry_intervals or (60,)
        delay = intervals[min(row.attempts, len(intervals) - 1)]
        self.pending.append((
            "UPDATE outbox SET status = CASE WHEN attempts >= :most THEN 'failed' ELSE 'queued' END, "
            "next_at = :next, last_error = :error, claim = NULL, lease_until = NULL "
            f"{', attempts = attempts + 1' if not attempt else ''} "
            "WHERE id = :id AND claim = :token AND status IN ('claimed', 'sending')",
            {"most": self.cfg.outbox_max_attempts - (0 if attempt else 1), "next": utcnow() + timedelta(seconds=delay),
             "error": _text(exc), "id": row.id, "token": self.token}))
        self.counts["retry"] += 1
        if exc.errcode in (45009, 45011) or exc.errcode is None:
            self.stop = _text(exc)  # every other row would meet it too: put them back untried

    def _unsettled(self, row_id: int, via: str, exc: WeChatApiError) -> None:
        """No answer, and the request may have arrived: a template message waits for its receipt
        (`reap`); a customer-service text can never be confirmed, so it is not resent by itself."""
        if via == "template":
            self.pending.append(("UPDATE outbox SET last_error = :error WHERE id = :id AND claim = :token",
                                 {"error": "未收到微信应答，等待送达回执：" + _text(exc), "id": row_id, "token": self.token}))
        else:
            self.pending.append((
                "UPDATE outbox SET status = 'unknown', last_error = :error, lease_until = NULL "
                "WHERE id = :id AND claim = :token AND status = 'sending'",
                {"error": "客服消息发出后未收到应答，无法确认是否送达，未自动重发：" + _text(exc), "id": row_id,
                 "token": self.token}))
        self.counts["unsettled"] += 1
        self.stop = _text(exc)

    # --- the connection -----------------------------------------------------------------

    def _tx(self) -> sa.Connection:
        if self.conn is None:
            self.conn = self.db.engine.connect()
        return self.conn

    def _apply(self, conn: sa.Connection) -> None:
        for sql, params in self.pending:
            conn.execute(sa.text(sql), params)
        self.pending.clear()

    def _rollback(self) -> None:
        if self.conn is not None:
            try:
                self.conn.rollback()
            except sa.exc.DBAPIError:
                pass

    def _flush(self, release: bool) -> None:
        """The last records and, with `release`, the rows of the batch never tried (a stop, or
        an exception) back to the queue untouched."""
        conn = self._tx()
        try:
            self._apply(conn)
            if release:
                self.counts["released"] = conn.execute(sa.text(
                    "UPDATE outbox SET status = 'queued', claim = NULL, lease_until = NULL "
                    "WHERE claim = :token AND status = 'claimed'"), {"token": self.token}).rowcount
            conn.commit()
        except BaseException:
            self._rollback()
            raise

    def _close(self) -> None:
        for lane in self.lanes:
            lane.close()
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _read(status: int, body: bytes) -> tuple[dict, WeChatApiError | None]:
    """WeChat's answer: its JSON object, and the error it means (None: accepted)."""
    if status >= 400:
        return {}, WeChatApiError(None, f"HTTP {status}", http_status=status)
    try:
        result = json.loads(body)
    except ValueError:
        result = None
    if not isinstance(result, dict):
        return {}, WeChatApiError(None, "an answer that is not a JSON object", http_status=status)
    errcode = result.get("errcode") or 0
    return result, (WeChatApiError(int(errcode), str(result.get("errmsg", ""))[:200]) if errcode else None)


def _text(exc: WeChatApiError) -> str:
    return str(exc)[:300]
