"""The outbox with real RQ worker processes on Redis and PostgreSQL: two workers sharing a batch
while the access token expires (one refresh, under the lock), and a worker killed (SIGKILL,
with its work horse) between WeChat's acceptance of a message and the record of it: every
message reaches the fake WeChat API once; a template message is settled by WeChat's receipt, a
customer-service text (which WeChat can never confirm) is left `unknown`, not sent twice."""
from __future__ import annotations

import time

import pytest
import requests

from intake import delivery, outbox
from tests.outbox import delivered, fake, queued, rows
from tests.workers import kill_worker, start_worker, stop_worker

pytestmark = [pytest.mark.needs_redis, pytest.mark.needs_postgres]
SEND = {"custom": "/cgi-bin/message/custom/send", "template": "/cgi-bin/message/template/send"}


def _queue(app, db, fake_wechat, n, wrote_hours_ago=None):
    return queued(app, db, fake_wechat, n, wrote_hours_ago, "oWORKER")



def _counts(fake_wechat):
    by_text: dict[str, int] = {}
    for m in delivered(fake_wechat):
        text = m.get("content") or m["data"]["keyword2"]["value"]
        by_text[text] = by_text.get(text, 0) + 1
    return by_text


def _until(check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def _env(test_env):
    return {**test_env, "JOB_RETRY_INTERVALS": "0,0", "OUTBOX_LEASE_SECONDS": "2"}


def test_two_workers_share_a_batch_and_refresh_the_token_once(app, db, fake_wechat, test_env, tmp_path):
    _queue(app, db, fake_wechat, 250)  # more than two batches
    fake(fake_wechat, "expire_tokens", after=120)
    workers = [start_worker(_env(test_env), log=tmp_path / f"w{i}.log") for i in range(2)]
    try:
        _until(lambda: len(delivered(fake_wechat)) >= 250 and {r.status for r in rows(db)} == {"sent"}, 120)
    except AssertionError:
        from collections import Counter
        print(Counter((r.status, r.last_error) for r in rows(db)), len(delivered(fake_wechat)))
        import shutil; shutil.copy(tmp_path / "w0.log", "/tmp/w0.log"); shutil.copy(tmp_path / "w1.log", "/tmp/w1.log")
        raise
    finally:
        for w in workers:
            stop_worker(w)
    assert _counts(fake_wechat) == {f"消息{i}": 1 for i in range(250)}
    assert requests.get(f"{fake_wechat}/_fake/calls", timeout=5).json()["/cgi-bin/token"] == 2


@pytest.mark.parametrize("via", ["custom", "template"])
def test_a_worker_killed_between_the_send_and_the_record(app, db, fake_wechat, test_env, make_citizen, via):
    _queue(app, db, fake_wechat, 5, wrote_hours_ago=1 if via == "custom" else None)
    fake(fake_wechat, "webhook", hold=True)  # receipts kept; pushed below as WeChat would
    fake(fake_wechat, "fail", path=SEND[via], delay=30, times=1)  # handled, answered 30 s late
    worker = start_worker(_env(test_env))
    try:
        # Every message handled by WeChat, four answered and recorded, one answer held back.
        _until(lambda: len(delivered(fake_wechat)) == 5 and sorted(r.status for r in rows(db)) == ["sending"] + ["sent"] * 4)
        kill_worker(worker)  # WeChat has the message; the worker never learns it
    finally:
        stop_worker(worker)
    time.sleep(2.5)  # the lease runs out
    for r in requests.get(f"{fake_wechat}/_fake/receipts", timeout=5).json()["receipts"]:
        assert make_citizen(r["openid"]).push(r["xml"]).status_code == 200
    with app.app_context():
        delivery.reap(receipt_seconds=3600)
    second = start_worker(_env(test_env), burst=True)
    second.wait(timeout=120)
    assert _counts(fake_wechat) == {f"消息{i}": 1 for i in range(5)}
    statuses = sorted(r.status for r in rows(db))
    assert statuses == (["sent"] * 4 + ["unknown"] if via == "custom" else ["sent"] * 5)
