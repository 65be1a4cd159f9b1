"""`/wechat`: WeChat's GET check and its pushes, plain (明文) and AES safe mode (安全模式).

Order of checks on a push: size (413), freshness of the timestamp (403), signature (403),
XML shape (400); then the push is answered and recorded once, under a unique dedupe key
(MsgId; sender + CreateTime + event for events), so WeChat's retries replay the first answer.
Nothing is stored before the signature is good; no call to WeChat is made in the request.
"""
from __future__ import annotations

import logging
import re
import time

from flask import Response, abort, request
from sqlalchemy.exc import DBAPIError
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from bot import bp
from bot.conversation import greeting, handle, is_arrival, piece_of, piece_reply, scene_of
from core.app import database, db_session, jobs, settings, vault
from intake.capture import arrive, capture, set_reply
from intake.inbound import record, replayed
from intake.jobs import NEW_MEDIA, fetch_new_media

log = logging.getLogger(__name__)

# WeChat never sends a DTD; refusing any stops entity expansion tricks before a parser runs.
_DTD = re.compile(rb"<!\s*(doctype|entity)", re.I)


def now() -> float:
    """The clock used for freshness checks (tests move it)."""
    return time.time()


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _args() -> tuple[str, str, str]:
    ts, nonce = request.args.get("timestamp", ""), request.args.get("nonce", "")
    if not ts.isdigit() or not nonce:
        abort(_plain("missing or malformed timestamp/nonce", 400))
    if abs(now() - int(ts)) > settings().push_max_age:
        abort(_plain("stale timestamp: refused as a possible replay", 403))
    return ts, nonce, request.args.get("signature", "")


@bp.get("/wechat")
def verify():
    """WeChat's server check: echo `echostr` when the signature is ours."""
    ts, nonce, signature = _args()
    try:
        check_signature(settings().wechat_token, signature, ts, nonce)
    except InvalidSignatureException:
        return _plain("invalid signature", 403)
    return _plain(request.args.get("echostr", ""), 200)


@bp.post("/wechat")
def receive():
    cfg = settings()
    if (request.content_length or 0) > cfg.max_push_bytes:
        return _plain("push too large", 413)
    body = request.stream.read(cfg.max_push_bytes + 1)
    if len(body) > cfg.max_push_bytes:
        return _plain("push too large", 413)
    ts, nonce, signature = _args()
    crypto = None
    if cfg.wechat_aes_key and request.args.get("encrypt_type", "raw") == "aes":
        if _DTD.search(body):
            return _plain("malformed XML: DTDs and entities are not accepted", 400)
        crypto = WeChatCrypto(cfg.wechat_token, cfg.wechat_aes_key, cfg.wechat_appid)
        try:
            body = crypto.decrypt_message(body, request.args.get("msg_signature", ""), ts, nonce).encode()
        except (InvalidSignatureException, InvalidAppIdException):
            return _plain("invalid signature", 403)
        except Exception:  # not XML, no <Encrypt>, bad base64 or padding
            return _plain("malformed encrypted push", 400)
    else:
        if cfg.wechat_aes_key:
            return _plain("this account runs in safe mode: encrypt_type=aes is required", 400)
        try:
            check_signature(cfg.wechat_token, signature, ts, nonce)
        except InvalidSignatureException:
            return _plain("invalid signature", 403)
    if _DTD.search(body):
        return _plain("malformed XML: DTDs and entities are not accepted", 400)
    try:
        msg = parse_message(body)
        if msg is None or not msg.source or not str(msg._data.get("CreateTime", "")).isdigit():
            raise ValueError("missing FromUserName or CreateTime")
    except Exception:
        return _plain("malformed XML push", 400)

    try:
        reply = _answer(msg)
    except DBAPIError:
        # The database went away mid-request: nothing was committed, so WeChat's retry is safe.
        log.exception("database unavailable while answering a push")
        db_session().rollback()
        return _plain("temporarily unavailable, please retry", 503)
    if not reply:
        return _plain("success", 200)
    xml = TextReply(message=msg, content=reply).render()
    if crypto is not None:
        xml = crypto.encrypt_message(xml, nonce, ts)
    return Response(xml, mimetype="application/xml")


def dedupe_key(vault, msg) -> str:
    """Messages carry MsgId; events do not (wechatpy gives 0): sender + CreateTime + event +
    EventKey (a retry repeats all four; two posters scanned within one second differ in the
    last), as a keyed token that does not lead back to the sender's conversation."""
    created = str(msg._data["CreateTime"])
    if msg.type == "event":
        return f"evt:{vault.event_token(msg.source, created, msg.event, str(msg._data.get('EventKey') or ''))}"
    return f"msg:{msg.id}" if msg.id else f"msg:{vault.event_token(msg.source, created, msg.type)}"


def _answer(msg) -> str | None:
    """Answer the push and record it, once. A plain piece of a report (most pushes) and a QR
    scan are each written in one statement with their reply; anything else runs in a
    transaction whose inbound row goes in last with the reply. Either way a retry of a push
    already answered conflicts on the unique key, leaves no trace, and replays the first reply."""
    v = vault()
    key = dedupe_key(v, msg)
    piece = piece_of(msg)
    if piece is not None:
        reply = piece_reply(piece)
        if capture(database(), v, msg.source, key, msg.type, reply, piece) is None:
            return replayed(db_session(), v, key)
        if piece.needs_download:
            jobs().nudge(fetch_new_media, NEW_MEDIA)
        return reply
    if is_arrival(msg):
        arrival = arrive(database(), v, msg.source, key, f"event:{msg.event}", scene_of(msg))
        if arrival is None:
            return replayed(db_session(), v, key)
        reply = greeting(arrival)
        set_reply(database(), v, key, reply)
        return reply
    s = db_session()
    reply = handle(s, v, msg)
    if not record(s, v, key, msg.type if msg.type != "event" else f"event:{msg.event}", reply):
        s.rollback()
        return replayed(s, v, key)
    s.commit()
    return reply
