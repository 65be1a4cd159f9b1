"""The holes a review of a running instance found, each closed (README, "What 匿名 protects
against"): one test per hole, asserting what the citizen or an attacker sees."""
from __future__ import annotations

import hashlib
import logging
import re
import time

import pytest
import sqlalchemy as sa

from bot import simulator as sim
from core.models import Case, Push
from tests.replies import tracking_no

OPENID = "oHOLES00000000000000000001"


def _head(openid: str, kind: str) -> str:
    return (f"<ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]></MsgType>")


def test_another_senders_push_with_the_same_msgid_is_not_a_retry(make_citizen, db):
    a, b = make_citizen("oSAMEID0000000000000000001"), make_citizen("oSAMEID0000000000000000002")
    first = a.send(sim.text(a.openid, "白沙村的路灯坏了三个月，晚上很黑", 77770001))
    second = b.send(sim.text(b.openid, "石门村的水渠垮了一段，春耕用水成问题", 77770001))
    assert "路灯" in first and "水渠" in second and "路灯" not in second  # never the other's words
    assert db.scalar(sa.select(sa.func.count()).select_from(Push)) == 2


@pytest.mark.parametrize("field, xml", [
    ("Location_X", f"<xml>{_head(OPENID, 'location')}<Location_X>north</Location_X><Location_Y>112.5</Location_Y>"
                   "<Scale>15</Scale><Label><![CDATA[x]]></Label><MsgId>1</MsgId></xml>"),
    ("Location_Y", f"<xml>{_head(OPENID, 'location')}<Location_X>26.9</Location_X><Location_Y>nan</Location_Y>"
                   "<Scale>15</Scale><Label><![CDATA[x]]></Label><MsgId>2</MsgId></xml>"),
    ("MsgId", f"<xml>{_head(OPENID, 'text')}<Content><![CDATA[村里路灯坏了三个月]]></Content><MsgId>12ab</MsgId></xml>"),
    ("Format", f"<xml>{_head(OPENID, 'voice')}<MediaId><![CDATA[V1]]></MediaId><Format><![CDATA[{'a' * 17}]]></Format>"
               "<MsgId>3</MsgId></xml>"),
    ("Label", f"<xml>{_head(OPENID, 'location')}<Location_X>26.9</Location_X><Location_Y>112.5</Location_Y>"
              f"<Scale>15</Scale><Label><![CDATA[{'标' * 201}]]></Label><MsgId>4</MsgId></xml>"),
    ("CreateTime", f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>soon"
                   "</CreateTime><MsgType>text</MsgType><Content>x</Content><MsgId>5</MsgId></xml>"),
    ("FromUserName", f"<xml><ToUserName>gh</ToUserName><FromUserName>o x; DROP</FromUserName><CreateTime>1</CreateTime>"
                     "<MsgType>text</MsgType><Content>x</Content><MsgId>6</MsgId></xml>"),
    ("Content", f"<xml>{_head(OPENID, 'text')}<Content><b>nested</b></Content><MsgId>7</MsgId></xml>"),
])
def test_every_field_is_checked_with_a_400_that_names_it_and_never_its_value(citizen, db, caplog, field, xml):
    caplog.set_level(logging.DEBUG)
    r = citizen.push(xml)
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and field in body, body
    for value in ("north", "nan", "12ab", "a" * 17, "标" * 201, "soon", "DROP", "nested"):
        assert value not in body and value not in caplog.text
    assert db.scalar(sa.select(sa.func.count()).select_from(Push)) == 0


def test_a_reply_is_well_formed_whatever_the_citizen_wrote(citizen, db):
    xml = (f"<xml>{_head(citizen.openid, 'text')}<Content>村里的事 ]]&gt; &lt;/Content&gt; 还有别的"
           "</Content><MsgId>8801</MsgId></xml>")
    r = citizen.push(xml)
    assert r.status_code == 200
    reply = citizen.pusher.read_reply(r.data)["Content"]  # parses as XML
    assert reply.startswith("已记录：村里的事 ]]> </Content> 还有别的")


def test_in_plain_mode_a_signature_is_good_for_its_own_message_only(citizen, db):
    push = sim.text(citizen.openid, "白沙村的低保名额被村干部的亲戚占了", 8802)
    query, body = citizen.pusher.push(push)
    assert citizen.client.post(f"/wechat?{query}", data=body, content_type="text/xml").status_code == 200
    # WeChat's retry of the same message with the same query string: answered (the same).
    assert citizen.client.post(f"/wechat?{query}", data=body, content_type="text/xml").status_code == 200
    # The captured query string with another message (查询 as this citizen): refused.
    forged = sim.text(citizen.openid, "查询", 8803).encode()
    r = citizen.client.post(f"/wechat?{query}", data=forged, content_type="text/xml")
    assert r.status_code == 403 and "another message" in r.get_data(as_text=True)
    assert db.scalar(sa.select(sa.func.count()).select_from(Push)) == 1


def test_every_query_code_lookup_costs_the_same(citizen, make_citizen, monkeypatch):
    """A wrong tracking number, a case that is not anonymous and an anonymous case with a wrong
    code each cost one PBKDF2: no answer comes back faster and says which it was."""
    citizen.say("白沙村的路灯坏了三个月，晚上出行很不方便")
    named_no = tracking_no(citizen.say("提交"))
    citizen.say("石门村修路的工程款被村干部挪用了")
    anon_no = tracking_no(citizen.say("匿名提交"))
    asker = make_citizen("oASKER00000000000000000001")
    real = hashlib.pbkdf2_hmac
    calls = []
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    for number in (anon_no, named_no, "XC991231999999"):
        calls.clear()
        assert "没有查到" in asker.say(f"查询 {number} WRONG234")
        assert len(calls) == 1, number


def test_one_case_cannot_be_guessed_from_many_accounts(citizen, make_citizen):
    from bot.conversation import QUERY_CASE_LIMIT

    citizen.say("石门村修路的工程款被村干部挪用，路修了一半就停了")
    reply = citizen.say("匿名提交")
    number, code = tracking_no(reply), re.search(r"查询码：(\w+)", reply).group(1)
    for i in range(QUERY_CASE_LIMIT):
        assert "没有查到" in make_citizen(f"oMANY{i:021d}").say(f"查询 {number} WRONG{i:03d}")
    assert "查询过于频繁" in make_citizen("oMANY999999999999999999999").say(f"查询 {number} {code}")


def test_the_anonymous_choice_warns_about_voice_location_and_photos(citizen):
    reply = citizen.say("匿名")
    assert "已设为匿名反映" in reply and "语音会留下您的声音" in reply and "位置会显示" in reply and "照片" in reply


def test_sealed_values_carry_no_time_in_the_clear(app):
    """Fernet writes its creation time, to the second, in the clear: a sealed piece would date
    itself. AES-GCM values carry a random nonce and nothing else; old Fernet values still open."""
    from cryptography.fernet import Fernet

    vault = app.extensions["vault"]
    a, b = vault.encrypt("张三"), vault.encrypt("张三")
    assert a != b and vault.decrypt(a) == "张三"
    # A version byte, the 12-byte nonce, the ciphertext, the 16-byte tag: no room for a time.
    assert a[:1] == b"\x02" and len(a) == 1 + 12 + len("张三".encode()) + 16
    legacy = vault._fernet.encrypt("李四".encode())  # as values were sealed before
    assert isinstance(vault._fernet, Fernet) and vault.decrypt(legacy) == "李四"


def test_a_submission_writes_nothing_about_the_conversation(app, citizen, db, monkeypatch):
    """The one transaction that makes a case: every statement it runs, none on conversations or
    on a piece (the draft's pieces are marked by a keyed hash instead)."""
    citizen.scan("G1-baisha")
    citizen.say("白沙村的会计把修桥的钱转到了自己账户")
    statements = []
    engine = app.extensions["db"].engine

    def record(conn, cursor, statement, params, context, executemany):
        statements.append(statement.split()[0].upper() + " " + statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        reply = citizen.say("匿名提交")
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert "查询码" in reply
    writes = [s for s in statements if s.split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert [s.split()[0] for s in writes if "INTO cases" in s] == ["INSERT"]
    # No statement writes a conversation or a piece (a piece's row names its conversation).
    assert not [s for s in writes if "conversation" in s or s.startswith("DELETE")]
    case = db.scalar(sa.select(Case).where(Case.tracking_no == tracking_no(reply)))
    assert case.anonymity == "anonymous" and case.reporter_id is None


def test_replies_to_submissions_and_lookups_do_not_tell_anonymity_by_their_size(make_citizen):
    a, b = make_citizen("oSIZEA000000000000000000001"), make_citizen("oSIZEB000000000000000000001")
    a.say("白沙村的路灯坏了三个月，晚上出行很不方便")
    b.say("石门村修路的工程款被村干部挪用了")
    default, anonymous = a.say("提交"), b.say("匿名提交")
    assert "查询码" in anonymous and "查询码" not in default
    assert len(default.encode()) == len(anonymous.encode())
    assert len(a.last_response.data) == len(b.last_response.data)  # the XML on the wire (and in a log's size)
    number, code = tracking_no(anonymous), re.search(r"查询码：(\w+)", anonymous).group(1)
    found, listing = b.say(f"查询 {number} {code}"), a.say("查询")
    assert number in found and len(found.encode()) == len(listing.encode())
