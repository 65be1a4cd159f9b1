"""Speak to a webhook as WeChat does: signed pushes (plain or AES) and passive replies opened.

Used by `flask wechat chat` (a person tries the bot locally) and by the tests. Builds on
wechatpy's crypto for the AES envelope; the tests also check the published sample values.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.etree import ElementTree

from wechatpy.crypto import WeChatCrypto

from bot.wxcodec import signature as sha1_signature  # the tests sign plain pushes with it too

ACCOUNT = "gh_mashangxuncha"


@dataclass
class WeChatPusher:
    token: str
    appid: str
    aes_key: str | None = None

    def push(self, xml: str, timestamp: int | None = None, nonce: str | None = None) -> tuple[str, bytes]:
        """(query string, body) of one push, signed the way WeChat signs it."""
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce or str(int.from_bytes(os.urandom(4), "big"))
        query = {"signature": sha1_signature(self.token, ts, nonce), "timestamp": ts, "nonce": nonce}
        if not self.aes_key:
            return urlencode(query), xml.encode()
        envelope = WeChatCrypto(self.token, self.aes_key, self.appid).encrypt_message(xml, nonce, ts)
        root = ElementTree.fromstring(envelope)
        encrypt = root.findtext("Encrypt")
        query.update(encrypt_type="aes", msg_signature=root.findtext("MsgSignature"),
                     openid=ElementTree.fromstring(xml).findtext("FromUserName") or "")
        body = (f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        return urlencode(query), body.encode()

    def read_reply(self, body: bytes) -> dict[str, str]:
        """Fields of a passive reply; {} for `success` or an empty body."""
        text = body.decode().strip()
        if text in ("", "success"):
            return {}
        root = ElementTree.fromstring(text)
        if self.aes_key:
            crypto = WeChatCrypto(self.token, self.aes_key, self.appid)
            inner = crypto.decrypt_message(text, root.findtext("MsgSignature"), root.findtext("TimeStamp"),
                                           root.findtext("Nonce"))
            root = ElementTree.fromstring(inner)
        return {child.tag: (child.text or "") for child in root}


def _head(openid: str, msg_type: str, ts: int | None) -> str:
    return (f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{ts or int(time.time())}</CreateTime><MsgType><![CDATA[{msg_type}]]></MsgType>")


def text(openid: str, content: str, msg_id: int, ts: int | None = None) -> str:
    return f"<xml>{_head(openid, 'text', ts)}<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"


def voice(openid: str, media_id: str, recognition: str | None, msg_id: int, ts: int | None = None) -> str:
    rec = "" if recognition is None else f"<Recognition><![CDATA[{recognition}]]></Recognition>"
    return (f"<xml>{_head(openid, 'voice', ts)}<MediaId><![CDATA[{media_id}]]></MediaId>"
            f"<Format><![CDATA[amr]]></Format>{rec}<MsgId>{msg_id}</MsgId></xml>")


def image(openid: str, media_id: str, msg_id: int, ts: int | None = None) -> str:
    return (f"<xml>{_head(openid, 'image', ts)}<PicUrl><![CDATA[http://mmbiz.qpic.cn/{media_id}]]></PicUrl>"
            f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id}</MsgId></xml>")


def location(openid: str, lat: float, lng: float, label: str, msg_id: int, ts: int | None = None) -> str:
    return (f"<xml>{_head(openid, 'location', ts)}<Location_X>{lat}</Location_X><Location_Y>{lng}</Location_Y>"
            f"<Scale>15</Scale><Label><![CDATA[{label}]]></Label><MsgId>{msg_id}</MsgId></xml>")


def video(openid: str, media_id: str, msg_id: int, ts: int | None = None) -> str:
    return (f"<xml>{_head(openid, 'video', ts)}<MediaId><![CDATA[{media_id}]]></MediaId>"
            f"<ThumbMediaId><![CDATA[t{media_id}]]></ThumbMediaId><MsgId>{msg_id}</MsgId></xml>")


def event(openid: str, name: str, key: str | None = None, ts: int | None = None) -> str:
    extra = "" if key is None else f"<EventKey><![CDATA[{key}]]></EventKey><Ticket><![CDATA[T{key}]]></Ticket>"
    return f"<xml>{_head(openid, 'event', ts)}<Event><![CDATA[{name}]]></Event>{extra}</xml>"


def scan(openid: str, scene: str, first_time: bool, ts: int | None = None) -> str:
    """A parametric QR scan: `subscribe` + qrscene_ for a new follower, `SCAN` for a follower."""
    return event(openid, "subscribe", f"qrscene_{scene}", ts) if first_time else event(openid, "SCAN", scene, ts)
