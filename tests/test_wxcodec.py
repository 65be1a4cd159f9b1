"""The webhook's own codec (bot.wxcodec) against wechatpy's: the same message out of every kind
of push, envelopes each can open from the other, WeChat's published sample, and a clear
refusal of whatever is not a push."""
from __future__ import annotations

import base64
import struct

import pytest
import xmltodict
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from bot import wxcodec
from tests.test_webhook_protocol import SAMPLE, SAMPLE_BODY

TOKEN, KEY, APPID = "codectoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wx0123456789abcdef"
HEAD = ("<ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[oCODEC0001]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime>")

PUSHES = {
    "text": "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[  村里的路坏了 <b>&amp; ]]></Content>"
            "<MsgId>1234567890123456</MsgId>",
    "text without MsgId": "<MsgType>text</MsgType><Content>只有内容</Content>",
    "empty content": "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[]]></Content><MsgId>1</MsgId>",
    "escaped text": "<MsgType>text</MsgType><Content>a &lt; b &amp;&amp; c</Content><MsgId>2</MsgId>",
    "image": "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/p.jpg]]></PicUrl>"
             "<MediaId><![CDATA[MEDIA_1]]></MediaId><MsgId>3</MsgId>",
    "voice": "<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[V1]]></MediaId><Format><![CDATA[amr]]></Format>"
             "<Recognition><![CDATA[我要反映低保问题]]></Recognition><MsgId>4</MsgId>",
    "location": "<MsgType><![CDATA[location]]></MsgType><Location_X>23.134521</Location_X>"
                "<Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[白沙村]]></Label><MsgId>5</MsgId>",
    "link": "<MsgType>link</MsgType><Title>标题</Title><Description>说明</Description><Url>http://x</Url><MsgId>6</MsgId>",
    "video": "<MsgType>video</MsgType><MediaId>M</MediaId><ThumbMediaId>T</ThumbMediaId><MsgId>7</MsgId>",
    "subscribe": "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>",
    "subscribe by poster": "<MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_G3</EventKey>"
                           "<Ticket>TICKET</Ticket>",
    "subscribe by barcode": "<MsgType>event</MsgType><Event>subscribe</Event><EventKey>scanbarcode|x</EventKey>",
    "scan": "<MsgType>event</MsgType><Event>SCAN</Event><EventKey>G3</EventKey><Ticket>TICKET</Ticket>",
    "menu click": "<MsgType>event</MsgType><Event>CLICK</Event><EventKey>QUERY</EventKey>",
    "menu view": "<MsgType>event</MsgType><Event>VIEW</Event><EventKey>http://x/report</EventKey>",
    "location event": "<MsgType>event</MsgType><Event>LOCATION</Event><Latitude>23.1</Latitude>"
                      "<Longitude>113.3</Longitude><Precision>119.385040</Precision>",
    "template receipt": "<MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>200163836</MsgID>"
                        "<Status>success</Status>",
    "device event": "<MsgType>device_event</MsgType><Event>bind</Event>",
    "unknown type": "<MsgType>miniprogrampage</MsgType><Title>t</Title><MsgId>8</MsgId>",
    "unknown event": "<MsgType>event</MsgType><Event>user_get_card</Event>",
    "nested": "<MsgType>event</MsgType><Event>pic_sysphoto</Event><EventKey>k</EventKey><SendPicsInfo><Count>2</Count>"
              "<PicList><item><PicMd5Sum>a</PicMd5Sum></item><item><PicMd5Sum>b</PicMd5Sum></item></PicList>"
              "</SendPicsInfo>",
    "repeated": "<MsgType>text</MsgType><Content>one</Content><Content>two</Content><MsgId>9</MsgId>",
    "whitespace": "\n  <MsgType>\n text \n</MsgType>\n  <Content>\n  有换行\n</Content>\n<MsgId> 10 </MsgId>\n",
}


def _xml(fields: str) -> str:
    return f"<xml>{HEAD}{fields}</xml>"


@pytest.mark.parametrize("kind", sorted(PUSHES))
def test_every_kind_of_push_reads_as_wechatpy_reads_it(kind):
    xml = _xml(PUSHES[kind])
    theirs, ours = parse_message(xml), wxcodec.parse(xml.encode())
    assert type(ours) is type(theirs)
    assert ours._data == theirs._data
    assert (ours.type, ours.source, ours.target, ours.time) == (theirs.type, theirs.source, theirs.target, theirs.time)


def test_a_push_without_msgtype_is_no_message():
    assert wxcodec.parse(_xml("<Content>x</Content>").encode()) is None


@pytest.mark.parametrize("body", [b"", b"not xml", b"<xml><a></xml>", b"<html><body/></html>", b"\xff\xfe<"])
def test_what_is_not_a_push_is_malformed(body):
    with pytest.raises(wxcodec.MalformedPush):
        wxcodec.read_xml(body)


def _signed(encrypt: str, timestamp: str = "1700000000", nonce: str = "n1") -> tuple[bytes, str]:
    body = f"<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return body.encode(), wxcodec.signature(TOKEN, timestamp, nonce, encrypt)


def test_wechatpy_envelopes_open_and_ours_open_in_wechatpy():
    theirs, ours = WeChatCrypto(TOKEN, KEY, APPID), wxcodec.crypto(TOKEN, KEY, APPID)
    for kind, fields in PUSHES.items():
        xml = _xml(fields)
        envelope = xmltodict.parse(theirs.encrypt_message(xml, "n1", "1700000000"))["xml"]
        body, signature = _signed(envelope["Encrypt"])
        assert signature == envelope["MsgSignature"]
        assert ours.open(body, signature, "1700000000", "n1").decode() == xml, kind

        sealed = ours.seal(xml, "n2", "1700000001")
        fields_out = xmltodict.parse(sealed)["xml"]
        assert (fields_out["TimeStamp"], fields_out["Nonce"]) == ("1700000001", "n2")
        assert theirs.decrypt_message(sealed, fields_out["MsgSignature"], "1700000001", "n2") == xml, kind
    # A random prefix: the same reply sealed twice differs.
    assert ours.seal("<xml/>", "n", "1") != ours.seal("<xml/>", "n", "1")


def test_the_published_sample_opens():
    crypto = wxcodec.Crypto(SAMPLE["token"], SAMPLE["key"], SAMPLE["appid"])
    xml = crypto.open(SAMPLE_BODY, SAMPLE["msg_signature"], SAMPLE["timestamp"], SAMPLE["nonce"]).decode()
    msg = wxcodec.parse(xml.encode())
    assert (msg.source, msg.content, msg.id) == ("oyORnuP8q7ou2gfYjqLzSIWZf0rs", "abcdteT", 6054768590064713728)


def test_a_wrong_signature_or_appid_is_refused():
    theirs = WeChatCrypto(TOKEN, KEY, APPID)
    encrypt = xmltodict.parse(theirs.encrypt_message(_xml(PUSHES["text"]), "n1", "1700000000"))["xml"]["Encrypt"]
    body, signature = _signed(encrypt)
    ours = wxcodec.Crypto(TOKEN, KEY, APPID)
    for bad in ("0" * 40, signature.upper(), signature[:-1], ""):
        with pytest.raises(InvalidSignatureException):
            ours.open(body, bad, "1700000000", "n1")
    with pytest.raises(InvalidSignatureException):  # signed for another time
        ours.open(body, signature, "1700000001", "n1")
    with pytest.raises(InvalidAppIdException):  # another account's push, though signed with our token
        wxcodec.Crypto(TOKEN, KEY, "wxanotheraccount00").open(body, signature, "1700000000", "n1")


def _padded(plain: bytes) -> bytes:
    pad = 32 - len(plain) % 32
    return plain + bytes([pad]) * pad


def _raw_encrypt(plain: bytes) -> str:
    key = base64.b64decode(KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


@pytest.mark.parametrize("encrypt, why", [
    ("not base64!", "is not base64"),
    ("中文", "is not base64"),
    (base64.b64encode(b"x" * 20).decode(), "is not whole blocks"),
    ("", "no <Encrypt>"),
    (_raw_encrypt(b"\x00" * 32), "bad padding"),  # pad byte 0
    (_raw_encrypt(b"\x21" * 64), "bad padding"),  # pad byte 33 > 32
    (_raw_encrypt(_padded(b"r" * 16 + struct.pack(">I", 4000) + b"<xml/>" + APPID.encode())), "bad length"),
])
def test_an_envelope_that_is_not_whole_is_malformed_and_says_why(encrypt, why):
    body, signature = _signed(encrypt)
    with pytest.raises(wxcodec.MalformedPush, match=why):
        wxcodec.Crypto(TOKEN, KEY, APPID).open(body, signature, "1700000000", "n1")


def test_a_bad_aes_key_is_refused_at_once():
    with pytest.raises(ValueError, match="43 characters"):
        wxcodec.Crypto(TOKEN, KEY[:39], APPID)
    with pytest.raises(ValueError, match="not base64"):
        wxcodec.Crypto(TOKEN, "!" * 43, APPID)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_only_utf8_is_read_so_no_dtd_hides_in_another_encoding(encoding):
    body = '<!DOCTYPE xml [<!ENTITY a "AAAA">]><xml><Encrypt>&a;</Encrypt></xml>'.encode(encoding)
    assert b"<!DOCTYPE" not in body  # invisible to a check of the bytes
    with pytest.raises(wxcodec.MalformedPush):
        wxcodec.read_xml(body)
    with pytest.raises(wxcodec.RefusedDTD):
        wxcodec.read_xml(body.decode(encoding).encode())


@pytest.mark.parametrize("declared", ["x-no-such-encoding", "GBK", "UTF-16", "utf-8"])
def test_a_declared_encoding_does_not_change_the_reading(declared):
    body = f'<?xml version="1.0" encoding="{declared}"?><xml><Content>中文</Content></xml>'.encode()
    assert wxcodec.read_xml(body) == {"Content": "中文"}


def test_a_signature_that_is_not_ascii_is_refused_as_a_bad_signature():
    body, _ = _signed("QUJD")
    with pytest.raises(InvalidSignatureException):
        wxcodec.Crypto(TOKEN, KEY, APPID).open(body, "é" * 40, "1700000000", "n1")
