"""`/wechat` is plain WSGI in front of Flask (`bot.webhook.Webhook`): what Flask's request object
did for it is done here, and checked here: the query string, the body (with or without a
length), the methods, the paths that go on to Flask, and a crash answered 500 without its values."""
from __future__ import annotations

import io
import logging

import pytest
import sqlalchemy as sa

from bot import simulator as sim
from core.models import Push

OPENID = "oENDPOINT0000000000000000001"
REPORT = "村里的路灯坏了三个月没人修，晚上出行很不方便"


def stored(db) -> int:
    db.expire_all()
    return db.scalar(sa.select(sa.func.count()).select_from(Push))


def post_without_length(client, query: str, body: bytes, terminated: bool):
    """A POST sent chunked (no length counts): gunicorn ends the stream for the app
    (`wsgi.input_terminated`); a server that does not leaves it unbounded."""
    environ = {"HTTP_TRANSFER_ENCODING": "chunked"}
    if terminated:
        environ["wsgi.input_terminated"] = True
    return client.open(f"/wechat?{query}", method="POST", input_stream=io.BytesIO(body),
                       content_type="text/xml", environ_overrides=environ)


def test_a_push_sent_chunked_is_read_to_its_end(citizen, db):
    query, body = citizen.pusher.push(sim.text(OPENID, REPORT, 8001))
    r = post_without_length(citizen.client, query, body, terminated=True)
    assert r.status_code == 200 and "已记录" in citizen.pusher.read_reply(r.data)["Content"]
    assert stored(db) == 1


def test_a_chunked_push_over_the_limit_is_413_and_nothing_is_stored(citizen, db):
    query, body = citizen.pusher.push(sim.text(OPENID, "长" * 20000, 8002))
    r = post_without_length(citizen.client, query, body, terminated=True)
    assert (r.status_code, r.get_data(as_text=True)) == (413, "push too large")
    assert stored(db) == 0


def test_a_body_without_length_that_the_server_does_not_end_is_not_read(citizen, db):
    """As Flask did: reading it could wait for ever; the push is refused as empty."""
    query, body = citizen.pusher.push(sim.text(OPENID, REPORT, 8003))
    r = post_without_length(citizen.client, query, body, terminated=False)
    assert (r.status_code, r.get_data(as_text=True)) == (400, "malformed XML push")
    assert stored(db) == 0


def test_escaped_and_repeated_query_parameters_read_as_flask_read_them(citizen, db):
    """A nonce with a space and a Chinese character arrives escaped; a parameter given twice
    counts once, the first time."""
    query, body = citizen.pusher.push(sim.text(OPENID, REPORT, 8004), nonce="巡察 12")
    assert "nonce=%E5%B7%A1%E5%AF%9F+12" in query
    r = citizen.client.post(f"/wechat?{query}&timestamp=1&nonce=x", data=body, content_type="text/xml")
    assert r.status_code == 200 and "已记录" in citizen.pusher.read_reply(r.data)["Content"]
    r = citizen.client.post(f"/wechat?timestamp=1&{query}", data=body, content_type="text/xml")
    assert (r.status_code, r.get_data(as_text=True)) == (403, "stale timestamp: refused as a possible replay")
    assert stored(db) == 1


@pytest.mark.parametrize("length", ["-5", "abc", "0"])
def test_a_malformed_length_reads_no_body(citizen, db, length):
    """As werkzeug reads it: a length that is not a number, or is negative, is 0."""
    query, body = citizen.pusher.push(sim.text(OPENID, REPORT, 8007))
    r = citizen.client.open(f"/wechat?{query}", method="POST", input_stream=io.BytesIO(body),
                            content_type="text/xml", environ_overrides={"CONTENT_LENGTH": length,
                                                                        "wsgi.input_terminated": True})
    assert (r.status_code, r.get_data(as_text=True)) == (400, "malformed XML push")
    assert stored(db) == 0


def test_a_badly_escaped_signature_is_a_bad_signature(citizen, db):
    query, body = citizen.pusher.push(sim.text(OPENID, REPORT, 8008))
    bad = "&".join(p if not p.startswith("signature=") else "signature=%FF%E5%B7" for p in query.split("&"))
    r = citizen.client.post(f"/wechat?{bad}", data=body, content_type="text/xml")
    assert (r.status_code, r.get_data(as_text=True)) == (403, "invalid signature")
    assert stored(db) == 0


def test_other_methods_are_405_naming_the_allowed_ones(client):
    r = client.put("/wechat", data=b"<xml/>")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, POST, OPTIONS"
    r = client.options("/wechat")
    assert r.status_code == 200 and r.headers["Allow"] == "GET, HEAD, POST, OPTIONS"


def test_the_server_check_by_head_answers_without_a_body(client):
    from tests.conftest import TOKEN
    import time

    ts, nonce = str(int(time.time())), "123"
    query = f"signature={sim.sha1_signature(TOKEN, ts, nonce)}&timestamp={ts}&nonce={nonce}&echostr=hello"
    assert client.get(f"/wechat?{query}").get_data(as_text=True) == "hello"
    r = client.head(f"/wechat?{query}")
    assert r.status_code == 200 and r.data == b"" and r.headers["Content-Length"] == "5"


def test_other_paths_go_on_to_flask(client):
    assert client.get("/healthz").get_json() == {"ok": True}
    assert client.post("/wechat/", data=b"<xml/>").status_code == 404


@pytest.mark.aes
def test_a_crash_is_a_500_that_logs_the_code_not_the_push(app, citizen, db, monkeypatch, caplog):
    """Outside tests (where it is raised, as Flask raises it) an unexpected error is answered 500
    and logged with its type and traceback: the lines of code, not the exception's message,
    which may quote the push (here it does: the citizen's openid and words)."""
    import bot.webhook as wh

    def crash(msg):
        raise ValueError(f"cannot read {msg.source}: {msg.content}")

    monkeypatch.setattr(wh, "piece_of", crash)
    monkeypatch.setattr(app, "testing", False)
    with caplog.at_level(logging.ERROR, logger="bot.webhook"):
        r = citizen.push(sim.text(OPENID, REPORT, 8005))
    assert (r.status_code, r.get_data(as_text=True)) == (500, "internal error")
    assert "ValueError" in caplog.text and "in crash" in caplog.text
    assert REPORT not in caplog.text and OPENID not in caplog.text
    assert stored(db) == 0
    monkeypatch.setattr(app, "testing", True)
    with pytest.raises(ValueError):
        citizen.push(sim.text(OPENID, REPORT, 8006))
