"""The /wechat endpoint as WeChat and an attacker see it: signatures, freshness, size, XML."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from wechatpy.crypto import WeChatCrypto

from bot import simulator as sim
from bot import webhook
from core.models import Case, Conversation, Push

OPENID = "oPROTOCOL00000000000000001"


def count(db, model) -> int:
    db.expire_all()
    return db.scalar(sa.select(sa.func.count()).select_from(model))


def test_get_echoes_echostr_with_good_signature(client):
    ts, nonce = str(int(time.time())), "4242"
    sig = sim.sha1_signature("testtoken", ts, nonce)
    r = client.get(f"/wechat?signature={sig}&timestamp={ts}&nonce={nonce}&echostr=hello123")
    assert r.status_code == 200 and r.get_data(as_text=True) == "hello123"
    r = client.get(f"/wechat?signature={'0' * 40}&timestamp={ts}&nonce={nonce}&echostr=hello123")
    assert r.status_code == 403 and "hello123" not in r.get_data(as_text=True)


def test_published_plain_signature_sample():
    # WECHAT.md: token 789, timestamp 456, nonce 123
    assert sim.sha1_signature("789", "456", "123") == "f7c3bc1d808e04732adf679965ccc34ca7ae3441"


def test_forged_signature_is_refused_and_nothing_stored(citizen, db):
    query, body = citizen.pusher.push(sim.text(OPENID, "村支书挪用低保资金，请巡察组查一查", 1))
    query = query.replace("signature=", "signature=0")
    r = citizen.client.post(f"/wechat?{query}", data=body, content_type="text/xml")
    assert r.status_code == 403
    assert count(db, Push) == 0 and count(db, Conversation) == 0


@pytest.mark.parametrize("skew", [-3600, 3600])
def test_stale_or_future_timestamp_is_refused(citizen, db, skew):
    r = citizen.push(sim.text(OPENID, "村里路灯坏了三个月没人修", 2), timestamp=int(time.time()) + skew)
    assert r.status_code == 403 and "stale" in r.get_data(as_text=True)
    assert count(db, Push) == 0


def test_oversized_body_is_413(citizen, db):
    r = citizen.push(sim.text(OPENID, "长" * 20000, 3))
    assert r.status_code == 413
    assert count(db, Push) == 0


@pytest.mark.parametrize("body", [
    b"not xml at all",
    b"<xml><ToUserName>x</ToUserName>",
    b"<xml><MsgType>text</MsgType></xml>",
])
def test_malformed_xml_is_a_clear_400(citizen, db, body):
    # DTDs and entities: tests/test_webhook_guards.py (pushes the parser would accept).
    query, _ = citizen.pusher.push("<xml/>")
    r = citizen.client.post(f"/wechat?{query}", data=body, content_type="text/xml")
    assert r.status_code == 400 and "malformed" in r.get_data(as_text=True)
    assert count(db, Push) == 0


def test_unknown_message_type_gets_a_polite_reply(citizen):
    reply = citizen.send(sim.video(OPENID, "VIDEO1", 77))
    assert "暂时无法处理这类消息" in reply and "文字、语音、图片或位置" in reply


def test_retried_text_push_is_stored_once_and_answered_the_same(citizen, db):
    xml = sim.text(OPENID, "我们村的自来水停了半个月，一直没人管", 9001)
    first = citizen.send(xml)
    again = citizen.send(xml)  # WeChat retries the very same push (new nonce, same MsgId)
    assert first == again and first.startswith("已记录：我们村的自来水停了半个月")
    assert count(db, Push) == 1 and db.scalar(sa.select(Push.conversation)) is not None


def test_retried_scan_event_is_stored_once(citizen, db):
    xml = sim.scan(OPENID, "G1-baisha", first_time=True, ts=int(time.time()))
    assert citizen.send(xml) == citizen.send(xml)
    assert count(db, Push) == 1


def test_two_posters_scanned_within_one_second_are_two_scans(citizen, db):
    ts = int(time.time())
    first = citizen.send(sim.scan(OPENID, "G1-baisha", first_time=False, ts=ts))
    second = citizen.send(sim.scan(OPENID, "G2-shimen", first_time=False, ts=ts))
    assert "县委第一巡察组" in first and "县委第二巡察组" in second  # not the first one's replay
    assert count(db, Push) == 2


def test_retried_submit_makes_one_case(citizen, db):
    citizen.scan("G1-baisha")
    citizen.say("村干部年底违规发放补贴，公款吃喝")
    xml = sim.text(citizen.openid, "提交", 9100)
    first, again = citizen.send(xml), citizen.send(xml)
    assert "受理编号：XC" in first and first == again
    assert count(db, Case) == 1


@pytest.mark.parametrize("path, content, expect", [
    ("pushes.capture", "镇上修路的工程款被挪用，路修了一半就停了", "已记录"),  # a piece: the one-statement path
    ("handle", "帮助", "使用说明"),  # a command: the transactional path
])
def test_database_outage_mid_request_is_503_and_retry_is_safe(citizen, db, monkeypatch, path, content, expect):
    from sqlalchemy.exc import OperationalError

    import bot.webhook as wh

    def broken(*a, **kw):
        raise OperationalError("INSERT ...", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(wh.pushes if path.startswith("pushes.") else wh, path.split(".")[-1], broken)
    xml = sim.text(OPENID, content, 9200)
    r = citizen.push(xml)
    assert r.status_code == 503 and "retry" in r.get_data(as_text=True)
    assert count(db, Push) == 0
    monkeypatch.undo()
    assert expect in citizen.send(xml)  # WeChat's retry goes through once the database is back
    assert count(db, Push) == 1


# --- AES safe mode -------------------------------------------------------------------------

SAMPLE = dict(token="spamtest", key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", appid="wx2c2769f8efd9abc2",
              timestamp="1409735669", nonce="1320562132", msg_signature="5d197aaffba7e9b25a30732f161a50dee96bd5fa")
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9"
    "FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt"
    "+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0E"
    "IBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=")
SAMPLE_BODY = ("<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>"
               f"<Encrypt><![CDATA[{SAMPLE_ENCRYPT}]]></Encrypt></xml>").encode()


def test_published_aes_sample_decrypts():
    crypto = WeChatCrypto(SAMPLE["token"], SAMPLE["key"], SAMPLE["appid"])
    xml = crypto.decrypt_message(SAMPLE_BODY, SAMPLE["msg_signature"], SAMPLE["timestamp"], SAMPLE["nonce"])
    assert "oyORnuP8q7ou2gfYjqLzSIWZf0rs" in xml and "abcdteT" in xml and "6054768590064713728" in xml


def _sample_app(tmp_path, test_env):
    from product import create_app
    from core.settings import Settings

    env = {**test_env, "WECHAT_TOKEN": SAMPLE["token"], "WECHAT_AES_KEY": SAMPLE["key"],
           "WECHAT_APPID": SAMPLE["appid"]}
    return create_app(Settings.from_env(env, instance_path=tmp_path, testing=True))


def test_published_aes_sample_through_the_real_webhook(tmp_path, test_env, app, monkeypatch):
    sample_app = _sample_app(tmp_path, test_env)
    client = sample_app.test_client()
    url = (f"/wechat?signature={sim.sha1_signature(SAMPLE['token'], SAMPLE['timestamp'], SAMPLE['nonce'])}"
           f"&timestamp={SAMPLE['timestamp']}&nonce={SAMPLE['nonce']}&encrypt_type=aes"
           f"&msg_signature={SAMPLE['msg_signature']}&openid=oyORnuP8q7ou2gfYjqLzSIWZf0rs")
    # As WeChat would deliver it today, the 2014 sample is a replay: refused.
    r = client.post(url, data=SAMPLE_BODY, content_type="text/xml")
    assert r.status_code == 403 and "stale" in r.get_data(as_text=True)
    # With the clock at the sample's time it is accepted, decrypted and answered encrypted.
    monkeypatch.setattr(webhook, "now", lambda: 1409735669.0)
    r = client.post(url, data=SAMPLE_BODY, content_type="text/xml")
    assert r.status_code == 200
    pusher = sim.WeChatPusher(SAMPLE["token"], SAMPLE["appid"], SAMPLE["key"])
    reply = pusher.read_reply(r.data)
    assert reply["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert reply["Content"].startswith("已记录：abcdteT")
    with sample_app.extensions["db"].session() as s:
        # Stored once, under a key of the sender and the MsgId, the text only sealed.
        push = s.scalar(sa.select(Push))
        vault = sample_app.extensions["vault"]
        assert push.key == vault.push_key("oyORnuP8q7ou2gfYjqLzSIWZf0rs", "msg", "6054768590064713728")
        assert b"abcdteT" not in push.sealed and "abcdteT" in vault.unseal(push.sealed)["t"]
    # A tampered ciphertext fails the signature: 403, nothing more stored.
    r = client.post(url, data=SAMPLE_BODY.replace(b"hyzAe4", b"hyzAe5"), content_type="text/xml")
    assert r.status_code == 403
    sample_app.extensions["db"].dispose()


@pytest.mark.aes
def test_aes_conversation_round_trip(citizen, db):
    reply = citizen.scan("G1-baisha")
    assert "县委第一巡察组" in reply
    reply = citizen.say("白沙村的路灯坏了三个月没人修，晚上出行很不方便")
    assert reply.startswith("已记录：白沙村的路灯坏了三个月没人修")
    assert "受理编号：XC" in citizen.say("提交")
    assert count(db, Case) == 1


@pytest.mark.aes
def test_aes_mode_refuses_plain_pushes(client, settings, db):
    plain = sim.WeChatPusher(settings.wechat_token, settings.wechat_appid, None)
    query, body = plain.push(sim.text(OPENID, "村里路灯坏了三个月没人修", 5))
    r = client.post(f"/wechat?{query}", data=body, content_type="text/xml")
    assert r.status_code == 400 and "aes" in r.get_data(as_text=True)
    assert count(db, Push) == 0


@pytest.mark.aes
def test_aes_with_wrong_msg_signature_is_403(citizen, db):
    query, body = citizen.pusher.push(sim.text(OPENID, "村里路灯坏了三个月没人修", 6))
    query = query.replace("msg_signature=", "msg_signature=ff")
    r = citizen.client.post(f"/wechat?{query}", data=body, content_type="text/xml")
    assert r.status_code == 403
    assert count(db, Push) == 0


@pytest.mark.aes
def test_aes_garbage_envelope_is_400(citizen, db):
    # Not XML at all. A well-formed, signed envelope that does not decrypt, and one sealed for
    # another appid: tests/test_webhook_guards.py.
    query, _ = citizen.pusher.push(sim.text(OPENID, "x", 7))
    r = citizen.client.post(f"/wechat?{query}", data=b"<xml><Encrypt>%%%</Encrypt>", content_type="text/xml")
    assert r.status_code == 400 and r.get_data(as_text=True) == "malformed encrypted push"
    assert count(db, Push) == 0


@pytest.mark.needs_postgres
def test_postgres_dropping_the_connections_gives_503_then_the_retry_is_stored(citizen, db, app):
    """Not a mock: the server ends every other session (a restart, a failover), the pooled
    connections of the webhook's one-statement path are dead."""
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (TEST_DATABASE_URL)")
    citizen.say("先说一句，建立连接池里的连接")
    db.commit()  # the session's connection goes back to the pool too
    admin = sa.create_engine(db.get_bind().url, poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        killed = conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
    admin.dispose()
    assert killed  # the pool held at least one connection, now dead
    time.sleep(0.2)  # the backends exit
    xml = sim.text(OPENID, "镇上修路的工程款被挪用，路修了一半就停了", 9300)
    r = citizen.push(xml)  # checks out a pooled connection the server has closed
    assert r.status_code == 503 and "retry" in r.get_data(as_text=True), r.get_data(as_text=True)
    assert "已记录" in citizen.send(xml)  # WeChat's retry: answered, stored once
    assert count(db, Push) == 2
