"""Every field of a push checked before anything reads it, and replies that are well-formed XML
whatever the citizen wrote.

A field of the wrong type or size is refused with a 400 that names the field, never its value
(a report's text must not reach a log through an error message or a traceback).
"""
from __future__ import annotations

import math
import re
import time

_WORD = re.compile(r"[\w\-@.]+", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class BadPush(ValueError):
    """A field that no WeChat push has (the message names the field only)."""


def _word(limit: int):
    def check(v: str) -> bool:
        return len(v) <= limit and _WORD.fullmatch(v) is not None
    return check


def _digits(limit: int):
    def check(v: str) -> bool:
        return len(v) <= limit and _DIGITS.fullmatch(v) is not None
    return check


def _text(limit: int):
    return lambda v: len(v) <= limit


def _coordinate(bound: float):
    def check(v: str) -> bool:
        try:
            x = float(v)
        except ValueError:
            return False
        return len(v) <= 32 and math.isfinite(x) and -bound <= x <= bound
    return check


# What WeChat sends (公众号 message and event pushes), with room to spare.
FIELDS = {
    "ToUserName": _word(64), "FromUserName": _word(64), "CreateTime": _digits(12), "MsgType": _word(32),
    "MsgId": _digits(24), "MsgDataId": _digits(24), "Idx": _digits(4),
    "Content": _text(4000), "MediaId": _word(128), "ThumbMediaId": _word(128), "Format": _word(16),
    "Recognition": _text(2000), "PicUrl": _text(1024), "Url": _text(1024), "Title": _text(400),
    "Description": _text(2000),
    "Location_X": _coordinate(90), "Location_Y": _coordinate(180), "Scale": _digits(4), "Label": _text(200),
    "Event": _word(64), "EventKey": _text(128), "Ticket": _text(256),
    "Latitude": _coordinate(90), "Longitude": _coordinate(180), "Precision": _coordinate(1e6),
}
REQUIRED = ("FromUserName", "CreateTime", "MsgType")
OTHER_LIMIT = 4000  # fields of pushes this bot does not read


def check_fields(data: dict) -> None:
    for name in REQUIRED:
        if not data.get(name):
            raise BadPush(f"{name} is missing")
    for name, value in data.items():
        if value is None:  # an empty element
            continue
        if not isinstance(value, str):
            raise BadPush(f"{name} is not text")
        check = FIELDS.get(name)
        if (check is not None and not check(value)) or (check is None and len(value) > OTHER_LIMIT):
            raise BadPush(f"{name} is not what WeChat sends")


def _cdata(value: str) -> str:
    # "]]>" would close the section: split it across two (the standard escape); characters XML
    # 1.0 forbids are dropped.
    return "<![CDATA[" + _XML_BAD.sub("", value).replace("]]>", "]]]]><![CDATA[>") + "]]>"


def reply_xml(to_user: str, from_user: str, content: str) -> str:
    """A passive text reply (被动回复), as WeChat expects it."""
    return (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{_cdata(content)}</Content></xml>")
