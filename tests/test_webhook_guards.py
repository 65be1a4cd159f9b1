"""Each guard of /wechat, reached by an input that only that guard stops.

A push the XML parser would refuse anyway proves nothing about the guard in front of it, so
every DTD here is one the parser accepts (expat takes a DOCTYPE, and expands the entities it
declares), inside a push that is otherwise valid and signed: without the guard it would be
answered and stored. The test asserts the guard's own answer (its message, at once).
"""
from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from wechatpy.crypto import WeChatCrypto

from bot import simulator as sim
from core.models import Conversation, Push
from tests.conftest import AES_KEY, APPID, TOKEN

OPENID = "oGUARD000000000000000000001"
GUARD = "DTDs and entities are not accepted"
# A DTD a parser accepts: no entities, an external id it does not fetch.
DOCTYPE = '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "file:///etc/passwd">'
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10))
          + "]>")


def report(msg_id: int, content: str = "村里的路灯坏了三个月没人修，晚上出行很不方便") -> str:
    return sim.text(OPENID, content, msg_id)


def nothing_stored(db) -> bool:
    db.expire_all()
    return all(db.scalar(sa.select(sa.func.count()).select_from(m)) == 0
               for m in (Push, Conversation))


def aes_push(xml: str, appid: str = APPID, encrypt: str | None = None) -> tuple[str, str]:
    """(query, envelope) of an AES push; `encrypt` replaces the ciphertext (still signed)."""
    ts, nonce = str(int(time.time())), "20260101"
    if encrypt is None:
        encrypt = WeChatCrypto(TOKEN, AES_KEY, appid).encrypt_message(xml, nonce, ts)
        encrypt = encrypt.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    query = {"signature": sim.sha1_signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
             "encrypt_type": "aes", "msg_signature": sim.sha1_signature(TOKEN, ts, nonce, encrypt)}
    return urlencode(query), f"<xml><ToUserName><![CDATA[{sim.ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"


def post(client, query: str, body: str | bytes):
    return client.post(f"/wechat?{query}", data=body if isinstance(body, bytes) else body.encode(),
                       content_type="text/xml")


# --- DTDs and entities ---------------------------------------------------------------------

def test_the_pushes_below_are_accepted_without_their_dtd(citizen, db):
    """The control: the same signed push, DTD-free, is answered and stored."""
    query, body = citizen.pusher.push(report(7000))
    r = post(citizen.client, query, body)
    assert r.status_code == 200 and "已记录" in citizen.pusher.read_reply(r.data)["Content"]
    assert not nothing_stored(db)


def test_a_dtd_in_a_plain_push_is_refused(citizen, db):
    query, body = citizen.pusher.push(report(7001))
    r = post(citizen.client, query, DOCTYPE.encode() + body)
    assert (r.status_code, r.get_data(as_text=True)) == (400, f"malformed XML: {GUARD}")
    assert nothing_stored(db)


def test_billion_laughs_in_a_plain_push_is_refused_at_once(citizen, db):
    """Entity expansion: the guard answers before any parser runs, in no time, with a short
    answer, and no expansion reaches a stored draft or a reply."""
    query, body = citizen.pusher.push(report(7002, "路灯坏了&lol9;"))
    start = time.perf_counter()
    r = post(citizen.client, query, LAUGHS.encode() + body)
    assert time.perf_counter() - start < 0.5
    assert (r.status_code, r.get_data(as_text=True)) == (400, f"malformed XML: {GUARD}")
    assert nothing_stored(db)


@pytest.mark.aes
def test_a_dtd_around_the_aes_envelope_is_refused(client, db):
    query, envelope = aes_push(report(7003))
    r = post(client, query, DOCTYPE + envelope)
    assert (r.status_code, r.get_data(as_text=True)) == (400, f"malformed XML: {GUARD}")
    assert nothing_stored(db)


@pytest.mark.aes
def test_billion_laughs_around_the_aes_envelope_is_refused_at_once(client, db):
    query, envelope = aes_push(report(7004))
    start = time.perf_counter()
    r = post(client, query, LAUGHS + envelope.replace("<ToUserName><![CDATA[", "<ToUserName><![CDATA[&lol9;"))
    assert time.perf_counter() - start < 0.5
    assert (r.status_code, r.get_data(as_text=True)) == (400, f"malformed XML: {GUARD}")
    assert nothing_stored(db)


@pytest.mark.aes
def test_a_dtd_inside_the_decrypted_message_is_refused(client, db):
    """Encrypted, the DTD is invisible to the envelope's check: the check after decryption stops it."""
    query, envelope = aes_push(DOCTYPE + report(7005))
    r = post(client, query, envelope)
    assert (r.status_code, r.get_data(as_text=True)) == (400, f"malformed XML: {GUARD}")
    assert nothing_stored(db)


@pytest.mark.aes
def test_billion_laughs_inside_the_decrypted_message_is_refused_at_once(client, db):
    query, envelope = aes_push(LAUGHS + report(7006, "路灯坏了&lol9;"))
    start = time.perf_counter()
    r = post(client, query, envelope)
    assert time.perf_counter() - start < 0.5
    assert (r.status_code, r.get_data(as_text=True)) == (400, f"malformed XML: {GUARD}")
    assert nothing_stored(db)


# --- AES envelope: signed, but not ours or not decryptable -------------------------------------

@pytest.mark.aes
def test_a_message_encrypted_for_another_appid_is_refused(client, db):
    """Our token and key, correctly signed, but sealed for another account: wechatpy's appid
    check fails it, and the webhook answers as for a bad signature."""
    query, envelope = aes_push(report(7007), appid="wxSOMEONEELSE0001")
    r = post(client, query, envelope)
    assert (r.status_code, r.get_data(as_text=True)) == (403, "invalid signature")
    assert nothing_stored(db)


@pytest.mark.aes
@pytest.mark.parametrize("encrypt", ["abc", "%%%not*base64%%%", "QUFBQQ=="])
def test_a_signed_envelope_that_does_not_decrypt_is_a_clear_400(client, db, encrypt):
    """The signature covers the ciphertext, so it is good here: what fails is base64 (bad
    padding, bad characters) or AES (too short a block)."""
    query, envelope = aes_push("", encrypt=encrypt)
    r = post(client, query, envelope)
    assert (r.status_code, r.get_data(as_text=True)) == (400, "malformed encrypted push")
    assert nothing_stored(db)


# --- No signature at all ---------------------------------------------------------------------

def test_a_plain_push_without_any_signature_is_refused(citizen, db):
    query, body = citizen.pusher.push(report(7008))
    unsigned = "&".join(p for p in query.split("&") if not p.startswith("signature="))
    r = post(citizen.client, unsigned, body)
    assert (r.status_code, r.get_data(as_text=True)) == (403, "invalid signature")
    assert nothing_stored(db)
    ts = str(int(time.time()))
    r = citizen.client.get(f"/wechat?timestamp={ts}&nonce=1&echostr=hello123")
    assert r.status_code == 403 and "hello123" not in r.get_data(as_text=True)


@pytest.mark.aes
def test_an_aes_push_without_any_signature_is_refused(client, db):
    query, envelope = aes_push(report(7009))
    unsigned = "&".join(p for p in query.split("&") if not p.startswith(("signature=", "msg_signature=")))
    r = post(client, unsigned, envelope)
    assert (r.status_code, r.get_data(as_text=True)) == (403, "invalid signature")
    assert nothing_stored(db)


# --- What the parser or the comparison would choke on: a clear 400/403, never a 500 ---------------

@pytest.mark.aes
@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32-be"])
def test_a_dtd_hidden_by_another_encoding_is_refused_and_never_expanded(client, db, encoding):
    """The guard looks for "<!DOCTYPE" in UTF-8; expat would read these bodies as UTF-16 or 32 and
    expand their entities. The codec takes UTF-8 only, so they never reach a parser."""
    query, envelope = aes_push(report(7010))
    body = (LAUGHS + envelope.replace("<ToUserName><![CDATA[", "<ToUserName><![CDATA[&lol9;")).encode(encoding)
    start = time.perf_counter()
    r = post(client, query, body)
    assert time.perf_counter() - start < 0.5
    assert (r.status_code, r.get_data(as_text=True)) == (400, "malformed encrypted push")
    assert nothing_stored(db)


@pytest.mark.aes
def test_an_envelope_declaring_an_unknown_encoding_is_read_as_utf8(client, db):
    """The declaration is not obeyed (a name Python does not know was a LookupError, a 500 with the
    name in its traceback): the push is read as UTF-8 and answered."""
    query, envelope = aes_push(report(7011))
    r = post(client, query, '<?xml version="1.0" encoding="x-reporter-13800000000"?>' + envelope)
    assert r.status_code == 200
    assert not nothing_stored(db)


@pytest.mark.aes
def test_a_signature_that_is_not_ascii_is_a_bad_signature(client, db):
    query, envelope = aes_push(report(7012))
    query = "&".join(p if not p.startswith("msg_signature=") else "msg_signature=%C3%A9" for p in query.split("&"))
    r = post(client, query, envelope)
    assert (r.status_code, r.get_data(as_text=True)) == (403, "invalid signature")
    assert nothing_stored(db)


@pytest.mark.parametrize("timestamp", ["%C2%B2", "%D9%A3", "1e9", "-1"])
def test_a_timestamp_that_is_not_ascii_digits_is_refused(client, db, timestamp):
    """"²" and "٣" are digits to str.isdigit but not to int(): they were a 500."""
    sig = "0" * 40
    r = client.get(f"/wechat?signature={sig}&timestamp={timestamp}&nonce=1&echostr=x")
    assert (r.status_code, r.get_data(as_text=True)) == (400, "missing or malformed timestamp/nonce")
    r = client.post(f"/wechat?signature={sig}&timestamp={timestamp}&nonce=1", data=report(7013),
                    content_type="text/xml")
    assert (r.status_code, r.get_data(as_text=True)) == (400, "missing or malformed timestamp/nonce")
    assert nothing_stored(db)
