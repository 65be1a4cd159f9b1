"""The push's codec: WeChat's safe-mode envelope (安全模式) opened and sealed, and a push's XML read
into wechatpy's message classes, at a fraction of the CPU of `WeChatCrypto` and `parse_message`.

Why not wechatpy's own: on the webhook's path they were a fifth of a worker's Python time. Each
call builds a new AES cipher object and the push's XML goes through xmltodict twice (the envelope,
then the message), a Python callback per element. Here the AES key object is made once per
account and process, and the XML is read by the standard library's C parser (expat, as xmltodict
uses; a DTD or entity is refused before the parser runs). The result is the
same: a wechatpy message object built from the same dictionary that `parse_message` builds (same
keys, text stripped, an empty element None, repeated or nested elements as lists and dicts); the
tests compare both on every kind of push. The simulator and the tests still encrypt with wechatpy,
so every signed push of the suite crosses the two implementations.

Stricter than wechatpy where it costs nothing: signatures are compared in constant time, and the
padding and length inside the ciphertext are checked (a bad one is a malformed push, not a crash).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import struct
import xml.etree.ElementTree as ET
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.events import EVENT_TYPES
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage

from core.identity import random_bytes

# WeChat never sends a DTD; refusing any stops entity expansion tricks before the parser runs
# (expat, under ElementTree, expands the entities a DTD declares).
_DTD = re.compile(r"<!\s*(doctype|entity)", re.I)
_BLOCK = 32  # WeChat pads to 32 bytes (PKCS#7 with a 32-byte block), not AES's 16

_ENVELOPE = ("<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n<MsgSignature><![CDATA[{signature}]]>"
             "</MsgSignature>\n<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>")


class MalformedPush(ValueError):
    """Not a push: not XML, no <xml> root, no <Encrypt>, bad base64, padding or length."""


class RefusedDTD(MalformedPush):
    """A DTD or an entity declaration, refused before any parsing (the envelope's or the message's)."""


def signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _value(el: ET.Element) -> Any:
    """An element as xmltodict gives it (attributes aside: WeChat sends none)."""
    if len(el) == 0:
        return (el.text or "").strip() or None
    return _children(el)


def _children(root: ET.Element) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in root:
        value = _value(child)
        if child.tag in out:  # a repeated element becomes a list, as in xmltodict
            seen = out[child.tag]
            out[child.tag] = seen + [value] if isinstance(seen, list) else [seen, value]
        else:
            out[child.tag] = value
    return out


def read_xml(body: bytes | str) -> dict[str, Any]:
    """The children of the push's <xml> root. The body must be UTF-8 (WeChat's only encoding):
    it is decoded first and the parser gets text, so a declared encoding (UTF-16, one Python does
    not know) cannot hide a DTD from the check; without one no entity can be declared."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise MalformedPush("not UTF-8") from exc
    if "\x00" in text:  # never in XML; with it, expat would take "<\0!\0" for UTF-16 and look again
        raise MalformedPush("not XML")
    if _DTD.search(text):
        raise RefusedDTD("DTDs and entities are not accepted")
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))
    except (ET.ParseError, ValueError, LookupError) as exc:  # not XML; an encoding it contradicts
        raise MalformedPush("not XML") from exc
    if root.tag != "xml":
        raise MalformedPush("the root is not <xml>")
    return _children(root)


def message_of(data: dict[str, Any]):
    """The wechatpy message or event for a push's fields, chosen as `wechatpy.parse_message`
    chooses it (None when it has no MsgType)."""
    message_type = data.get("MsgType")
    if not isinstance(message_type, str):
        return None
    message_type = message_type.lower()
    if message_type == "event" or message_type.startswith("device_"):
        event = data.get("Event")
        event_type = event.lower() if isinstance(event, str) else None
        if event_type is None and message_type.startswith("device_"):
            event_type = message_type
        elif message_type.startswith("device_"):
            event_type = f"device_{event_type}"
        key = data.get("EventKey")
        if event_type == "subscribe" and isinstance(key, str) and key:
            if key.startswith(("scanbarcode|", "scanimage|")):
                event_type = data["Event"] = "subscribe_scan_product"
            elif key.startswith("qrscene_"):
                event_type = data["Event"] = "subscribe_scan"
                data["EventKey"] = key[len("qrscene_"):]
        return EVENT_TYPES.get(event_type, UnknownMessage)(data)
    return MESSAGE_TYPES.get(message_type, UnknownMessage)(data)


def parse(body: bytes | str):
    """A plain push's XML as a wechatpy message (`parse_message`'s result)."""
    return message_of(read_xml(body))


class Crypto:
    """One account's safe-mode codec: `open` a push's envelope, `seal` a reply."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str):
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise ValueError("the EncodingAESKey is not base64") from exc
        if len(key) != 32:
            raise ValueError("the EncodingAESKey must be 43 characters (32 bytes)")
        self.token = token
        self._appid = appid.encode()
        self._cipher = Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def open(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> bytes:
        """The push inside the envelope (its XML, as bytes), once its signature and AppID are ours."""
        encrypt = read_xml(body).get("Encrypt")
        if not isinstance(encrypt, str):
            raise MalformedPush("no <Encrypt>")
        if not (msg_signature.isascii()  # compare_digest refuses other text with a TypeError
                and hmac.compare_digest(signature(self.token, timestamp, nonce, encrypt), msg_signature)):
            raise InvalidSignatureException()
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except ValueError as exc:  # binascii.Error, or characters outside ASCII
            raise MalformedPush("<Encrypt> is not base64") from exc
        if not raw or len(raw) % _BLOCK:
            raise MalformedPush("<Encrypt> is not whole blocks")
        decryptor = self._cipher.decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= _BLOCK or len(plain) < 20 + pad:
            raise MalformedPush("bad padding")
        content = plain[16:-pad]  # 16 random bytes, the length, the XML, the AppID
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise MalformedPush("bad length")
        if content[4 + length:] != self._appid:
            raise InvalidAppIdException()
        return content[4:4 + length]

    def seal(self, xml: str, nonce: str, timestamp: str) -> str:
        """A reply's envelope, as `WeChatCrypto.encrypt_message` makes it."""
        text = xml.encode()
        plain = random_bytes(8).hex().encode() + struct.pack(">I", len(text)) + text + self._appid
        pad = _BLOCK - len(plain) % _BLOCK
        encryptor = self._cipher.encryptor()
        encrypt = base64.b64encode(encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()).decode()
        return _ENVELOPE.format(encrypt=encrypt, signature=signature(self.token, timestamp, nonce, encrypt),
                                timestamp=timestamp, nonce=nonce)


@lru_cache(maxsize=4)
def crypto(token: str, encoding_aes_key: str, appid: str) -> Crypto:
    """The codec of an account, made once per process (settings rarely change; tests swap them)."""
    return Crypto(token, encoding_aes_key, appid)
