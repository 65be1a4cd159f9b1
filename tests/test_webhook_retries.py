"""WeChat's retries in flight: WeChat retries a push after 5 s while the first request may still
be running. Two identical pushes at the same moment (threads on the real webhook, each with its
own client and nonce, as WeChat signs each attempt) must leave what one push leaves: one row,
one piece in the draft (its voice or photo downloaded once from WeChat), one case, and the same
reply to both.
"""
from __future__ import annotations

import base64
import threading
import time
from types import SimpleNamespace

import pytest
import requests
import sqlalchemy as sa

from bot import simulator as sim
from core.models import Case, Conversation, Push

OPENID = "oINFLIGHT00000000000000001"
PLAIN_AND_AES = [pytest.param(False, id="plain"), pytest.param(True, id="aes", marks=pytest.mark.aes)]


def count(db, model, *where) -> int:
    db.expire_all()
    return db.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def at_once(app, settings, xml: str, n: int = 2, gap: threading.Event | None = None) -> list[tuple[int, str | None]]:
    """POST the same push from `n` threads released together (or, with `gap`, the first alone
    and the others once `gap` is set: the first is then inside its request). Returns each
    (status, reply text)."""
    pusher = sim.WeChatPusher(settings.wechat_token, settings.wechat_appid, settings.wechat_aes_key)
    start = threading.Barrier(n)
    out: list = [None] * n

    def one(i: int) -> None:
        client = app.test_client()
        query, body = pusher.push(xml)  # each attempt signed anew, as WeChat does
        start.wait()
        if gap is not None and i > 0:
            assert gap.wait(10)
        r = client.post(f"/wechat?{query}", data=body, content_type="text/xml")
        out[i] = (r.status_code, pusher.read_reply(r.data).get("Content") if r.status_code == 200 else r.data)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(o is not None for o in out), out
    return out


def media(fake_wechat, media_id: str, content_type: str) -> None:
    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": media_id, "content_type": content_type,
                                                      "data_b64": base64.b64encode(media_id.encode()).decode()},
                  timeout=5).raise_for_status()


def downloads(fake_wechat) -> int:
    return requests.get(f"{fake_wechat}/_fake/calls", timeout=5).json().get("/cgi-bin/media/get", 0)


PIECES = {
    "text": lambda i: sim.text(OPENID, f"白沙村的路灯坏了三个月没人修，第{i}次反映", 8100 + i),
    "voice": lambda i: sim.voice(OPENID, f"VOICE-INFLIGHT-{i}", f"村里自来水停了{i}天了", 8200 + i),
    "image": lambda i: sim.image(OPENID, f"IMAGE-INFLIGHT-{i}", 8300 + i),
}
ECHO = {"text": "已记录：白沙村的路灯坏了", "voice": "已记录语音：村里自来水停了", "image": "已记录图片。"}


@pytest.mark.parametrize("aes", PLAIN_AND_AES)
@pytest.mark.parametrize("kind", list(PIECES))
def test_a_piece_pushed_twice_at_once_is_stored_and_fetched_once(app, settings, db, run_jobs, fake_wechat, draft_of,
                                                                  kind, aes):
    rounds = 3  # three pushes, each twice at once: a race has three chances to show
    for i in range(rounds):
        if kind != "text":
            media(fake_wechat, f"{kind.upper()}-INFLIGHT-{i}", "audio/amr" if kind == "voice" else "image/jpeg")
        (s1, first), (s2, second) = at_once(app, settings, PIECES[kind](i))
        assert (s1, s2) == (200, 200) and first == second and first.startswith(ECHO[kind]), (first, second)
    assert count(db, Push) == rounds and draft_of(SimpleNamespace(openid=OPENID)).entry_count == rounds
    run_jobs()
    if kind == "text":
        assert downloads(fake_wechat) == 0
    else:
        assert count(db, Push, Push.media == "stored") == rounds
        assert downloads(fake_wechat) == rounds  # one download per push, not per attempt


@pytest.mark.parametrize("aes", PLAIN_AND_AES)
def test_a_scan_retried_while_the_first_is_being_answered_gets_the_same_greeting(app, settings, db, monkeypatch,
                                                                                 aes):
    """The first attempt is slow to greet (held a moment after its scan was recorded): the retry
    that comes in meanwhile is greeted the same, not with nothing."""
    import bot.webhook as wh

    inside = threading.Event()
    real = wh.greeting

    def slow_greeting(arrival):
        if not inside.is_set():  # the first request: the retry comes in now
            inside.set()
            time.sleep(0.5)
        return real(arrival)

    monkeypatch.setattr(wh, "greeting", slow_greeting)
    (s1, first), (s2, second) = at_once(app, settings, sim.scan(OPENID, "G1-baisha", True, ts=int(time.time())),
                                        gap=inside)
    assert (s1, s2) == (200, 200) and first == second and "县委第一巡察组" in first, (first, second)
    assert count(db, Push) == 1 and count(db, Conversation) == 1


@pytest.mark.parametrize("aes", PLAIN_AND_AES)
def test_a_scan_pushed_twice_at_once_is_greeted_the_same(app, settings, db, aes):
    for i in range(3):
        (s1, first), (s2, second) = at_once(app, settings, sim.scan(OPENID, "G1-baisha", i == 0, ts=1_000 + i + int(time.time())))
        assert (s1, s2) == (200, 200) and first == second and "县委第一巡察组" in first, (first, second)
    assert count(db, Push) == 3


@pytest.mark.parametrize("aes", PLAIN_AND_AES)
def test_a_submit_pushed_twice_at_once_makes_one_case_and_one_answer(app, settings, db, citizen, aes):
    citizen.scan("G1-baisha")
    citizen.say("白沙村村干部年底违规发放补贴，公款吃喝")
    (s1, first), (s2, second) = at_once(app, settings, sim.text(citizen.openid, "提交", 8400))
    assert (s1, s2) == (200, 200) and first == second and "受理编号：XC" in first, (first, second)
    assert count(db, Case) == 1 and count(db, Push) == 3  # the scan, the report, 提交
