"""`/wechat`: WeChat's GET check and its pushes, plain (明文) and AES safe mode (安全模式).

Order of checks on a push: size (413), freshness of the timestamp (403), signature (403),
XML shape (400); then the push is answered and recorded once, under a unique dedupe key
(MsgId; sender + CreateTime + event for events), so WeChat's retries replay the first answer.
Nothing is stored before the signature is good; no call to WeChat is made in the request.
"""
from __future__ import annotations

import logging
import time

from flask import Response, abort, request
from sqlalchemy.exc import DBAPIError
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from bot import bp, wxcodec
from bot.checks import BadPush, check_fields, reply_xml
from bot.conversation import Outcome, greeting, handle, is_arrival, piece_of, piece_reply, scene_of
from core.app import database, db_session, jobs, settings, vault
from intake import pushes
from intake import outbox
from intake.arrivals import arrive
from intake.jobs import NEW_MEDIA, fetch_new_media

log = logging.getLogger(__name__)


def now() -> float:
    """The clock used for freshness checks (tests move it)."""
    return time.time()


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _refused_dtd() -> Response:
    return _plain("malformed XML: DTDs and entities are not accepted", 400)


def _args() -> tuple[str, str, str]:
    ts, nonce = request.args.get("timestamp", ""), request.args.get("nonce", "")
    if not (ts.isascii() and ts.isdigit()) or not nonce:  # "²" is a digit to isdigit, not to int
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
        crypto = wxcodec.crypto(cfg.wechat_token, cfg.wechat_aes_key, cfg.wechat_appid)
        try:
            body = crypto.open(body, request.args.get("msg_signature", ""), ts, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            return _plain("invalid signature", 403)
        except wxcodec.RefusedDTD:  # around the envelope
            return _refused_dtd()
        except wxcodec.MalformedPush:  # not XML, no <Encrypt>, bad base64, padding or length
            return _plain("malformed encrypted push", 400)
    else:
        if cfg.wechat_aes_key:
            return _plain("this account runs in safe mode: encrypt_type=aes is required", 400)
        try:
            check_signature(cfg.wechat_token, signature, ts, nonce)
        except InvalidSignatureException:
            return _plain("invalid signature", 403)
        # The plain signature does not cover the body: it is good for the body it came with only.
        try:
            if not pushes.signature_fits(database(), ts, nonce, signature, body):
                return _plain("this signature was used with another message", 403)
        except DBAPIError:
            log.exception("database unavailable while checking a signature")
            return _plain("temporarily unavailable, please retry", 503)
    try:
        msg = wxcodec.parse(body)
        if msg is None:
            raise ValueError("not a push")
    except wxcodec.RefusedDTD:  # in a plain push, or inside the decrypted one
        return _refused_dtd()
    except Exception:
        return _plain("malformed XML push", 400)
    try:
        check_fields(msg._data)
    except BadPush as exc:  # says which field, never its value
        return _plain(f"malformed push: {exc}", 400)

    try:
        reply = _answer(msg)
    except DBAPIError:
        # The database went away mid-request: nothing was committed, so WeChat's retry is safe.
        log.exception("database unavailable while answering a push")
        db_session().rollback()
        return _plain("temporarily unavailable, please retry", 503)
    if not reply:
        return _plain("success", 200)
    xml = reply_xml(msg.source, msg.target, reply)
    if crypto is not None:
        xml = crypto.seal(xml, nonce, ts)
    return Response(xml, mimetype="application/xml")


def dedupe_key(vault, msg) -> str:
    """The push's key: its sender and MsgId; for events (no MsgId) sender + CreateTime + event +
    EventKey (a retry repeats all four; two posters scanned within one second differ in the
    last). A keyed token, so it does not lead back to the sender's conversation."""
    created = str(msg._data["CreateTime"])
    if msg.type == "event" or msg._data.get("MsgType") == "event":
        return vault.push_key(msg.source, "evt", created, str(msg._data.get("Event") or ""),
                              str(msg._data.get("EventKey") or ""))
    msg_id = str(msg._data.get("MsgId") or "")
    return vault.push_key(msg.source, "msg", msg_id) if msg_id else vault.push_key(msg.source, "at", created, msg.type)


def _answer(msg) -> str | None:
    """Answer the push and record it, once. A plain piece of a report (most pushes) and a QR scan
    are one statement each, and a retry of either is answered the same without a stored reply
    (a piece's echo, the greeting). Anything else claims its row first, in the transaction that
    acts on it: a retry, also one arriving while the first try runs, waits on that row,
    conflicts, and replays the first reply."""
    v = vault()
    if msg.type == "event" and msg.event == "templatesendjobfinish":
        return _template_receipt(v, msg)
    key = dedupe_key(v, msg)
    piece = piece_of(msg)
    if piece is not None:
        if pushes.capture(database(), v, msg.source, key, piece) and piece.needs_download:
            jobs().nudge(fetch_new_media, NEW_MEDIA)
        return piece_reply(piece)
    if is_arrival(msg):
        return greeting(arrive(database(), v, msg.source, key, scene_of(msg)))
    s = db_session()
    if not pushes.claim(s, key):
        s.rollback()
        return pushes.replayed(s, v, key)
    outcome = handle(s, v, msg)
    pushes.finish(s, v, key, outcome.reply, msg.source, outcome.piece)
    s.commit()
    for path in outcome.files:  # a cancelled draft's media (a failure leaves them to the purge)
        (settings().media_dir / path).unlink(missing_ok=True)
    return outcome.reply


def _template_receipt(v, msg) -> None:
    """WeChat's receipt of a template message the outbox sent: settles its row (a retry settles
    it the same way). Not the citizen's message: the 48-hour window does not move."""
    msgid = str(msg._data.get("MsgID") or "")
    if msgid.isdigit() and len(msgid) <= 20:
        with database().engine.begin() as conn:
            outbox.template_receipt(conn, v.openid_hash(msg.source), int(msgid), str(msg._data.get("Status") or ""))
    return None
