"""The outbox when WeChat or a worker fails: token expiry in the middle of a batch (one refresh
for everyone), 45009 and network errors retried with backoff, and the attempts nobody recorded
(a connection cut after the request left, a worker that died between the send and the record):
none lost, none doubled, or (a customer-service text, which WeChat can never confirm) left
`unknown` for a person rather than sent twice."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa

from core.db import Database, utcnow
from core.models import OutboxMessage
from intake import delivery, outbox, sender
from tests.outbox import delivered, fake, queued, rows

_REAL_COMMIT_THEN = Database.commit_then
SEND_TEMPLATE, SEND_TEXT = "/cgi-bin/message/template/send", "/cgi-bin/message/custom/send"


def _queue(app, db, fake_wechat, n, wrote_hours_ago=None, prefix="oFAIL"):
    return queued(app, db, fake_wechat, n, wrote_hours_ago, prefix)



def _counts(fake_wechat) -> dict[str, int]:
    by_text: dict[str, int] = {}
    for m in delivered(fake_wechat):
        text = m.get("content") or m["data"]["keyword2"]["value"]
        by_text[text] = by_text.get(text, 0) + 1
    return by_text


def _calls(fake_wechat, path) -> int:
    return requests.get(f"{fake_wechat}/_fake/calls", timeout=5).json().get(path, 0)


def _expire(db, receipt_window_passed: bool = False):
    """As if the lease (and, if said, the receipt window) had run out: the worker is gone."""
    past = utcnow() - timedelta(hours=2)
    values = {"lease_until": past, **({"sending_at": past} if receipt_window_passed else {})}
    db.execute(sa.update(OutboxMessage).where(OutboxMessage.status.in_(("claimed", "sending"))).values(**values))
    db.commit()


def _fresh_token(fake_wechat) -> str:
    """The fake reset, and an access token from it (the product's credentials)."""
    from tests.conftest import APPID, SECRET

    requests.post(f"{fake_wechat}/_fake/reset", timeout=5)
    return requests.get(f"{fake_wechat}/cgi-bin/token", timeout=5, params={
        "grant_type": "client_credential", "appid": APPID, "secret": SECRET}).json()["access_token"]


def _feed_receipts(make_citizen, fake_wechat):
    """Push the fake's TEMPLATESENDJOBFINISH receipts to the webhook, as WeChat does."""
    for r in requests.get(f"{fake_wechat}/_fake/receipts", timeout=5).json()["receipts"]:
        assert make_citizen(r["openid"]).push(r["xml"]).status_code == 200


def test_token_expiry_in_the_middle_of_a_batch_costs_one_refresh(app, db, fake_wechat, run_jobs):
    _queue(app, db, fake_wechat, 8)
    fake(fake_wechat, "expire_tokens", after=4)
    run_jobs()
    assert _counts(fake_wechat) == {f"消息{i}": 1 for i in range(8)}
    assert _calls(fake_wechat, "/cgi-bin/token") == 2  # the first token, one refresh
    # The sends in flight when the token expired were refused once (42001) and sent again.
    assert 9 <= _calls(fake_wechat, SEND_TEMPLATE) <= 16
    assert {r.status for r in rows(db)} == {"sent"}


def test_quota_45009_is_retried_with_backoff(app, db, fake_wechat, run_jobs):
    _queue(app, db, fake_wechat, 3)
    fake(fake_wechat, "fail", path=SEND_TEMPLATE, errcode=45009, times=2)
    run_jobs()
    assert _counts(fake_wechat) == {"消息0": 1, "消息1": 1, "消息2": 1}
    assert {r.status for r in rows(db)} == {"sent"}
    assert sum(r.attempts for r in rows(db)) == 5  # two refusals, each tried again after its backoff
    assert any("45009" in (r.last_error or "") for r in rows(db)) is False


def test_an_http_error_is_retried(app, db, fake_wechat, run_jobs):
    _queue(app, db, fake_wechat, 2, wrote_hours_ago=2)
    fake(fake_wechat, "fail", path=SEND_TEXT, status=502, times=1)
    run_jobs()
    assert _counts(fake_wechat) == {"消息0": 1, "消息1": 1}
    assert [(r.status, r.via) for r in rows(db)] == [("sent", "custom"), ("sent", "custom")]


def test_a_refused_connection_sent_nothing_and_is_retried(app, db, fake_wechat, monkeypatch):
    """Nothing listens: the request never left. Back to the queue, then sent once."""
    from core.wechat_api import WeChatApi

    monkeypatch.setattr(app.extensions["jobs"], "enqueue", lambda *a, **k: True)  # this test runs the job
    _queue(app, db, fake_wechat, 1)
    s = app.extensions["settings"]
    with app.app_context():
        app.extensions["wechat_api"] = WeChatApi(s.wechat_appid, s.wechat_secret, "http://127.0.0.1:9", timeout=1)
        with pytest.raises(delivery.RetryLater):
            delivery.deliver()
        [row] = rows(db)
        assert (row.status, row.attempts) == ("queued", 1) and "unreachable" in row.last_error
        app.extensions["wechat_api"] = None
        app.extensions.pop("wechat_api")
        delivery.deliver()
    assert _counts(fake_wechat) == {"消息0": 1}
    [row] = rows(db)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)


def test_no_answer_after_a_template_left_is_settled_by_its_receipt(app, db, fake_wechat, run_jobs, make_citizen):
    _queue(app, db, fake_wechat, 2)
    fake(fake_wechat, "fail", path=SEND_TEMPLATE, network="drop_after", times=1)
    run_jobs()
    [cut] = [r for r in rows(db) if r.status != "sent"]
    assert cut.status == "sending" and "等待送达回执" in cut.last_error
    with app.app_context():
        delivery.reap(receipt_seconds=3600)  # within the window: nothing resent
    assert [r.status for r in rows(db) if r.id == cut.id] == ["sending"]
    _feed_receipts(make_citizen, fake_wechat)
    assert [(r.status, r.receipt) for r in rows(db)] == [("sent", "success"), ("sent", "success")]
    run_jobs()
    assert _counts(fake_wechat) == {"消息0": 1, "消息1": 1}


def test_a_template_that_never_left_is_sent_again_once_no_receipt_came(app, db, fake_wechat, run_jobs, make_citizen):
    _queue(app, db, fake_wechat, 1)
    fake(fake_wechat, "fail", path=SEND_TEMPLATE, network="drop_before", times=1)
    run_jobs()
    assert rows(db)[0].status == "sending"
    _feed_receipts(make_citizen, fake_wechat)  # none: WeChat never had it
    _expire(db, receipt_window_passed=True)
    with app.app_context():
        assert delivery.reap()["resent"] == 1
    run_jobs()
    assert _counts(fake_wechat) == {"消息0": 1}
    [row] = rows(db)
    assert (row.status, row.attempts) == ("sent", 2)


def test_a_text_without_an_answer_is_never_resent_by_itself(app, db, fake_wechat, run_jobs, make_citizen):
    _queue(app, db, fake_wechat, 1, wrote_hours_ago=1)
    fake(fake_wechat, "fail", path=SEND_TEXT, network="drop_after", times=1)
    run_jobs()
    _expire(db)
    with app.app_context():
        delivery.reap(receipt_seconds=0)
    run_jobs()
    [row] = rows(db)
    assert row.status == "unknown" and "无法确认是否送达" in row.last_error
    assert _counts(fake_wechat) == {"消息0": 1}


@pytest.mark.parametrize("wrote_hours_ago, via", [(1, "custom"), (None, "template")])
def test_a_worker_dead_between_the_send_and_the_record(app, db, fake_wechat, make_citizen, monkeypatch,
                                                       wrote_hours_ago, via):
    """In-process stand-in for the killed worker (tests/test_outbox_workers.py kills a real one):
    the send happens, the record never does."""
    _queue(app, db, fake_wechat, 3, wrote_hours_ago)
    app.extensions["jobs"].wait()
    db.execute(sa.update(OutboxMessage).values(status="queued", claim=None, lease_until=None, attempts=0,
                                               via=None, sent_at=None, msgid=None))
    db.commit()
    requests.post(f"{fake_wechat}/_fake/reset", timeout=5)
    if wrote_hours_ago:
        for r in rows(db):
            fake(fake_wechat, "interaction", openid=app.extensions["vault"].decrypt(r.reporter.openid_enc))

    class Died(BaseException):
        pass

    def die(self, row_id, msgid):
        raise Died()
    monkeypatch.setattr(sender.Sender, "_sent", die)
    monkeypatch.setattr(sender, "LANES", 1)  # one message per step
    with app.app_context(), pytest.raises(Died):
        delivery.deliver()
    monkeypatch.undo()
    assert [r.status for r in rows(db)] == ["sending", "queued", "queued"]
    _expire(db)
    with app.app_context():
        delivery.reap(receipt_seconds=3600)
        _feed_receipts(make_citizen, fake_wechat)
        delivery.deliver()
    app.extensions["jobs"].wait()  # reap queued a job too (in-process: a thread)
    assert _counts(fake_wechat) == {"消息0": 1, "消息1": 1, "消息2": 1}
    assert [r.status for r in rows(db)] == (["unknown", "sent", "sent"] if via == "custom" else ["sent"] * 3)


@pytest.mark.parametrize("aes", [False, True])
def test_the_fake_pushes_receipts_to_the_webhook_as_wechat_does(app, db, fake_wechat, run_jobs, settings, aes):
    """The fake signs each TEMPLATESENDJOBFINISH as WeChat does (plain, or encrypted in safe
    mode) and the webhook settles the row; a receipt WeChat marks failed fails the row."""
    from tests.browser import serve

    if aes:
        from tests.conftest import AES_KEY

        app.extensions["settings"] = settings = type(settings)(**{**settings.__dict__, "wechat_aes_key": AES_KEY})
    base, stop = serve(app)
    try:
        fake(fake_wechat, "webhook", url=f"{base}/wechat", token=settings.wechat_token, appid=settings.wechat_appid,
             aes_key=settings.wechat_aes_key, status="failed:user block")
        _queue(app, db, fake_wechat, 2)
        fake(fake_wechat, "fail", path=SEND_TEMPLATE, network="drop_after", times=1)  # one answer lost
        run_jobs()

        def settled():
            return all(r.receipt for r in rows(db))
        import time

        for _ in range(300):  # the fake pushes from a thread of its own
            if settled():
                break
            time.sleep(0.1)
    finally:
        stop()
    assert [(r.status, r.receipt, r.last_error) for r in rows(db)] == [
        ("failed", "failed:user block", "微信未送达：failed:user block")] * 2
    assert _counts(fake_wechat) == {"消息0": 1, "消息1": 1}


def test_a_worker_dead_before_its_commit_sent_nothing(app, db, fake_wechat, monkeypatch):
    """The step's requests are written but for their last byte; the job dies before the COMMIT
    that records the attempts: WeChat has no whole request and the attempts were never recorded
    (in-process the rows go straight back; a killed worker's claims go back after their lease,
    `reap`). The next job sends each once."""
    monkeypatch.setattr(app.extensions["jobs"], "enqueue", lambda *a, **k: True)  # this test runs the jobs
    _queue(app, db, fake_wechat, 3, wrote_hours_ago=1)

    class Died(BaseException):
        pass

    def die(self, conn, action):
        raise Died()
    monkeypatch.setattr(type(app.extensions["db"]), "commit_then", die)
    with app.app_context(), pytest.raises(Died):
        delivery.deliver()
    monkeypatch.setattr(type(app.extensions["db"]), "commit_then", _REAL_COMMIT_THEN)
    time.sleep(0.3)  # a request the fake could still complete would have arrived by now
    assert delivered(fake_wechat) == []
    assert [(r.status, r.attempts) for r in rows(db)] == [("queued", 0)] * 3
    with app.app_context():
        delivery.deliver()
    assert _counts(fake_wechat) == {"消息0": 1, "消息1": 1, "消息2": 1}
    assert [(r.status, r.attempts) for r in rows(db)] == [("sent", 1)] * 3


def test_a_held_request_is_acted_on_only_once_released(fake_wechat):
    """`core.held_request`: the fake (as WeChat) has nothing until the last byte; then it answers."""
    from core.held_request import HeldRequest

    token = _fresh_token(fake_wechat)
    held = HeldRequest(f"{fake_wechat}/cgi-bin/", timeout=5)
    held.begin(f"message/template/send?access_token={token}",
               {"touser": "oHELD", "template_id": "t", "data": {"keyword2": {"value": "held"}}})
    time.sleep(0.3)  # a whole request would have been delivered by now
    assert delivered(fake_wechat) == []
    held.release()
    status, body = held.response()
    assert status == 200 and "msgid" in body.decode()
    assert [m["data"]["keyword2"]["value"] for m in delivered(fake_wechat)] == ["held"]
    held.close()


@pytest.mark.needs_postgres
def test_a_receipt_that_overtakes_its_attempts_commit_still_settles_the_row(app, db, fake_wechat):
    """The worker releases its requests while the COMMIT of their attempts is on its way, so
    WeChat's receipt can reach the webhook while the row still reads `claimed`: the receipt
    waits for that COMMIT and settles the row (else, the worker dying before it records the
    answer, the message would be sent again once the receipt window passed)."""
    import threading

    [citizen] = _queue(app, db, fake_wechat, 1)
    app.extensions["jobs"].wait()
    db.execute(sa.update(OutboxMessage).values(status="claimed", claim="w1", via=None, msgid=None, sent_at=None,
                                               attempts=0, receipt=None))
    db.commit()
    engine = app.extensions["db"].engine
    worker = engine.connect()  # the worker's step: the attempt marked, its COMMIT not yet done
    worker.execute(sa.text("UPDATE outbox SET status = 'sending', via = 'template', attempts = 1 WHERE claim = 'w1'"))
    settled = []
    hash_ = app.extensions["vault"].openid_hash(app.extensions["vault"].decrypt(citizen.openid_enc))

    def receipt():
        with engine.begin() as conn:
            settled.append(outbox.template_receipt(conn, hash_, 424242, "success"))
    webhook = threading.Thread(target=receipt)
    webhook.start()
    webhook.join(timeout=1)
    assert webhook.is_alive()  # waiting for the worker's row
    worker.commit()
    webhook.join(timeout=10)
    worker.close()
    [row] = rows(db)
    assert settled == [row.id]
    assert (row.status, row.msgid, row.receipt, row.claim) == ("sent", 424242, "success", None)


def test_the_outbox_goes_through_the_proxy_the_environment_names(fake_wechat, monkeypatch):
    """An office that reaches the internet through a proxy sets HTTP(S)_PROXY, as for `requests`:
    the held request goes through it (here a plain-HTTP proxy; HTTPS uses its CONNECT tunnel)."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import urlsplit

    from core.held_request import HeldRequest

    seen = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            seen.append(self.path)
            target = urlsplit(self.path)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
            upstream.request("POST", f"{target.path}?{target.query}", body=body,
                             headers={"Content-Type": self.headers["Content-Type"]})
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        token = _fresh_token(fake_wechat)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_port}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        held = HeldRequest(f"{fake_wechat}/cgi-bin/", timeout=5)
        held.begin(f"message/template/send?access_token={token}",
                   {"touser": "oPROXY", "template_id": "t", "data": {"keyword2": {"value": "经代理送达"}}})
        held.release()
        status, _ = held.response()
        held.close()
    finally:
        proxy.shutdown()
    assert status == 200
    assert [urlsplit(p).path for p in seen] == ["/cgi-bin/message/template/send"]
    monkeypatch.delenv("HTTP_PROXY")
    assert [m["data"]["keyword2"]["value"] for m in delivered(fake_wechat)] == ["经代理送达"]
