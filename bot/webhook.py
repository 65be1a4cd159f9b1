"""`/wechat`: WeChat's GET check and its pushes, plain (明文) and AES safe mode (安全模式).

Order of checks on a push: size (413), freshness of the timestamp (403), signature (403),
XML shape (400); then the push is answered and recorded once, under a unique dedupe key
(MsgId; sender + CreateTime + event for events), so WeChat's retries replay the first answer.
Nothing is stored before the signature is good; no call to WeChat is made in the request.

The endpoint is plain WSGI in front of the Flask app (`Webhook`, installed by `bot.init_app`):
every other path goes on to Flask. A push is machine-to-machine traffic with a 5-second deadline
that comes in floods (a poster campaign, a broadcast's replies); Flask's request machinery (the
request and app contexts, URL matching, the session, the response object) cost about 60-120 µs
of a push's ~550 in one process, more than storing it. A piece and a scan, most pushes, need
none of it: they read the app's settings, vault and database from `app.extensions`. Every other
push (a command word, a menu click) runs in an app context, as a Flask view would.
"""
from __future__ import annotations

import logging
import time
import traceback
from typing import Callable, Iterable
from urllib.parse import unquote_plus

from flask import Flask
from sqlalchemy.exc import DBAPIError
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_content_length
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from bot import wxcodec
from bot.checks import BadPush, check_fields, reply_xml
from bot.conversation import greeting, handle, is_arrival, piece_of, piece_reply, scene_of
from core.app import db_session
from core.settings import Settings
from intake import outbox, pushes
from intake.arrivals import arrive
from intake.jobs import NEW_MEDIA, fetch_new_media

log = logging.getLogger(__name__)

PATH = "/wechat"
ALLOW = "GET, HEAD, POST, OPTIONS"
_TEXT, _XML = "text/plain; charset=utf-8", "application/xml; charset=utf-8"
Answer = tuple[int, str, str]  # status, content type, body


def now() -> float:
    """The clock used for freshness checks (tests move it)."""
    return time.time()


def _plain(text: str, status: int) -> Answer:
    return status, _TEXT, text


class Refused(Exception):
    """A request answered with an error before anything is read from the push."""

    def __init__(self, status: int, text: str):
        super().__init__(text)
        self.answer = _plain(text, status)


_REFUSED_DTD = _plain("malformed XML: DTDs and entities are not accepted", 400)
_UNAVAILABLE = _plain("temporarily unavailable, please retry", 503)


class Webhook:
    """WSGI middleware: `/wechat` answered here, anything else passed to `then` (the Flask app).
    It sits outside `ProxyFix`: it sees the proxy's address, and reads none (a limit by address
    here would need the forwarded one)."""

    def __init__(self, app: Flask, then: Callable):
        self.app, self.then = app, then

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return self.then(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        try:
            if method == "POST":
                status, ctype, text = receive(self.app, environ)
            elif method in ("GET", "HEAD"):
                status, ctype, text = verify(self.app.extensions["settings"], _query(environ))
            elif method == "OPTIONS":
                status, ctype, text = _plain("", 200)
            else:
                status, ctype, text = _plain("method not allowed", 405)
        except Refused as refused:
            status, ctype, text = refused.answer
        except Exception as exc:
            if self.app.testing or self.app.debug:
                raise
            # The exception's type and the lines of code it went through; never its message, which
            # may quote a field of the push (int() quotes what it refused).
            log.error("the webhook failed on a %s: %s\n%s", method, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)).rstrip())
            status, ctype, text = _plain("internal error", 500)
        body = text.encode()
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
        if status == 405 or method == "OPTIONS":
            headers.append(("Allow", ALLOW))
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", headers)
        return [] if method == "HEAD" else [body]


def _query(environ: dict) -> dict[str, str]:
    """The query string's parameters (the first of a name wins, as Flask's `request.args.get`).
    WeChat's are ASCII words: the escapes are undone only where there are any (as UTF-8; a byte
    that is not becomes U+FFFD, where werkzeug kept its escape: either way no signature fits)."""
    qs = environ.get("QUERY_STRING", "")
    if not qs.isascii():  # WSGI gives the raw bytes as latin-1
        qs = qs.encode("latin-1").decode("utf-8", "replace")
    args: dict[str, str] = {}
    for part in qs.split("&"):
        name, _, value = part.partition("=")
        if "%" in part or "+" in part:
            name, value = unquote_plus(name, errors="replace"), unquote_plus(value, errors="replace")
        args.setdefault(name, value)
    return args


def _body(environ: dict, limit: int) -> bytes:
    """The request's body, as Flask's `request.stream` gave it (werkzeug's reading of the
    length: none when chunked, 0 when malformed); refused when over `limit` bytes."""
    length = get_content_length(environ)
    if length is not None:
        if length > limit:
            raise Refused(413, "push too large")
        return environ["wsgi.input"].read(length) if length else b""
    if not environ.get("wsgi.input_terminated"):  # no length, and the server does not end the stream
        return b""
    body = environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise Refused(413, "push too large")
    return body


def _args(cfg: Settings, q: dict[str, str]) -> tuple[str, str]:
    ts, nonce = q.get("timestamp", ""), q.get("nonce", "")
    if not (ts.isascii() and ts.isdigit()) or not nonce:  # "²" is a digit to isdigit, not to int
        raise Refused(400, "missing or malformed timestamp/nonce")
    if abs(now() - int(ts)) > cfg.push_max_age:
        raise Refused(403, "stale timestamp: refused as a possible replay")
    return ts, nonce


def verify(cfg: Settings, q: dict[str, str]) -> Answer:
    """WeChat's server check: echo `echostr` when the signature is ours."""
    ts, nonce = _args(cfg, q)
    try:
        check_signature(cfg.wechat_token, q.get("signature", ""), ts, nonce)
    except InvalidSignatureException:
        return _plain("invalid signature", 403)
    return _plain(q.get("echostr", ""), 200)


def receive(app: Flask, environ: dict) -> Answer:
    ext = app.extensions
    cfg: Settings = ext["settings"]
    body = _body(environ, cfg.max_push_bytes)
    q = _query(environ)
    ts, nonce = _args(cfg, q)
    crypto = None
    if cfg.wechat_aes_key and q.get("encrypt_type", "raw") == "aes":
        crypto = wxcodec.crypto(cfg.wechat_token, cfg.wechat_aes_key, cfg.wechat_appid)
        try:
            body = crypto.open(body, q.get("msg_signature", ""), ts, nonce)
        except (InvalidSignatureException, InvalidAppIdException):
            return _plain("invalid signature", 403)
        except wxcodec.RefusedDTD:  # around the envelope
            return _REFUSED_DTD
        except wxcodec.MalformedPush:  # not XML, no <Encrypt>, bad base64, padding or length
            return _plain("malformed encrypted push", 400)
    else:
        if cfg.wechat_aes_key:
            return _plain("this account runs in safe mode: encrypt_type=aes is required", 400)
        signature = q.get("signature", "")
        try:
            check_signature(cfg.wechat_token, signature, ts, nonce)
        except InvalidSignatureException:
            return _plain("invalid signature", 403)
        # The plain signature does not cover the body: it is good for the body it came with only.
        try:
            if not pushes.signature_fits(ext["db"], ts, nonce, signature, body):
                return _plain("this signature was used with another message", 403)
        except DBAPIError:
            log.exception("database unavailable while checking a signature")
            return _UNAVAILABLE
    try:
        msg = wxcodec.parse(body)
        if msg is None:
            raise ValueError("not a push")
    except wxcodec.RefusedDTD:  # in a plain push, or inside the decrypted one
        return _REFUSED_DTD
    except Exception:
        return _plain("malformed XML push", 400)
    try:
        check_fields(msg._data)
    except BadPush as exc:  # says which field, never its value
        return _plain(f"malformed push: {exc}", 400)

    try:
        reply = _answer(app, msg)
    except DBAPIError:
        # The database went away mid-request: nothing was committed, so WeChat's retry is safe.
        log.exception("database unavailable while answering a push")
        return _UNAVAILABLE
    if not reply:
        return _plain("success", 200)
    xml = reply_xml(msg.source, msg.target, reply)
    if crypto is not None:
        xml = crypto.seal(xml, nonce, ts)
    return 200, _XML, xml


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


def _answer(app: Flask, msg) -> str | None:
    """Answer the push and record it, once. A plain piece of a report (most pushes) and a QR scan
    are one statement each, and a retry of either is answered the same without a stored reply
    (a piece's echo, the greeting). Anything else claims its row first, in the transaction that
    acts on it: a retry, also one arriving while the first try runs, waits on that row,
    conflicts, and replays the first reply."""
    ext = app.extensions
    v, db = ext["vault"], ext["db"]
    if msg.type == "event" and msg.event == "templatesendjobfinish":
        return _template_receipt(db, v, msg)
    key = dedupe_key(v, msg)
    piece = piece_of(msg)
    if piece is not None:
        if pushes.capture(db, v, msg.source, key, piece) and piece.needs_download:
            ext["jobs"].nudge(fetch_new_media, NEW_MEDIA)
        return piece_reply(piece)
    if is_arrival(msg):
        return greeting(arrive(db, v, msg.source, key, scene_of(msg)))
    with app.app_context():  # a command: the conversation's services, as in a view
        s = db_session()
        if not pushes.claim(s, key):
            s.rollback()
            return pushes.replayed(s, v, key)
        outcome = handle(s, v, msg)
        pushes.finish(s, v, key, outcome.reply, msg.source, outcome.piece)
        s.commit()
    for path in outcome.files:  # a cancelled draft's media (a failure leaves them to the purge)
        (ext["settings"].media_dir / path).unlink(missing_ok=True)
    return outcome.reply


def _template_receipt(db, v, msg) -> None:
    """WeChat's receipt of a template message the outbox sent: settles its row (a retry settles
    it the same way). Not the citizen's message: the 48-hour window does not move."""
    msgid = str(msg._data.get("MsgID") or "")
    if msgid.isdigit() and len(msgid) <= 20:
        with db.engine.begin() as conn:
            outbox.template_receipt(conn, v.openid_hash(msg.source), int(msgid), str(msg._data.get("Status") or ""))
    return None
