"""The fake's control API under `/_fake/` (JSON): set the scene for a test or the demo, and
see what the product sent. Not part of WeChat."""
from __future__ import annotations

import base64
import mimetypes
import secrets

from flask import Blueprint, Response, current_app, request

from fakewechat.state import FakeState, json_body, wx_json

bp = Blueprint("fake_control", __name__, url_prefix="/_fake")
EXTENSIONS = {"audio/amr": ".amr", "audio/speex": ".speex", "image/jpeg": ".jpg",
              "audio/mpeg": ".mp3"}


def _state() -> FakeState:
    return current_app.extensions["fakewechat"]


@bp.post("/interaction")
def interaction() -> Response:
    """The citizen just wrote to the account (or did at `at`): opens the 48-hour window.
    `openids` (a list) instead of `openid`: many citizens at once."""
    state, body = _state(), json_body() or {}
    openids = body.get("openids") or ([body["openid"]] if body.get("openid") else [])
    if not openids:
        return wx_json({"error": "openid required"}, 400)
    with state.lock:
        at = float(body.get("at") or state.clock())
        for openid in openids:
            state.interactions[openid] = at
            state.cs_sent[openid] = 0  # a new message from the citizen starts a new count
    return wx_json({"openid": openids[0], "at": at, "count": len(openids)})


@bp.post("/media")
def media() -> Response:
    """Register downloadable media: {media_id?, content_type, data_b64, filename?, at?}."""
    state, body = _state(), json_body() or {}
    if not body.get("content_type") or "data_b64" not in body:
        return wx_json({"error": "content_type and data_b64 required"}, 400)
    media_id = body.get("media_id") or secrets.token_urlsafe(32)
    ctype = body["content_type"]
    ext = EXTENSIONS.get(ctype) or mimetypes.guess_extension(ctype) or ""
    item = {"data": base64.b64decode(body["data_b64"]), "content_type": ctype,
            "filename": body.get("filename") or media_id + ext}
    with state.lock:
        item["at"] = float(body.get("at") or state.clock())
        state.media[media_id] = item
    return wx_json({"media_id": media_id})


@bp.post("/fail")
def fail() -> Response:
    """The next `times` calls to `path` answer `errcode` (HTTP 200) or HTTP `status`, or get
    no answer at all (`network`: `drop_before` the call is handled, or `drop_after` it: the
    message went out, its answer is lost), or are handled and answered `delay` seconds late."""
    state, body = _state(), json_body() or {}
    path = body.get("path", "")
    network = body.get("network")
    if not path.startswith("/cgi-bin/") or ("errcode" not in body and "status" not in body and not network
                                            and not body.get("delay")) \
            or network not in (None, "drop_before", "drop_after"):
        return wx_json({"error": "path (/cgi-bin/...) and errcode, status or network "
                                 "(drop_before | drop_after) required"}, 400)
    rule = {"errcode": body.get("errcode"), "errmsg": body.get("errmsg"), "network": network,
            "delay": body.get("delay"),
            "status": body.get("status"), "times": int(body.get("times", 1))}
    with state.lock:
        state.failures[path] = rule  # replaces any earlier rule for this path
    return wx_json({"path": path, "times": rule["times"]})


@bp.post("/expire_tokens")
def expire_tokens() -> Response:
    """Every token expires now, or (`{"after": N}`) at the Nth message sent from now: the
    middle of a batch."""
    state, body = _state(), json_body() or {}
    with state.lock:
        if body.get("after"):
            state.expire_after = int(body["after"])
            return wx_json({"after": state.expire_after})
        state.expire_all()
        count = len(state.tokens)
    return wx_json({"expired": count})


@bp.post("/config")
def config() -> Response:
    """Change token_ttl, template_daily_quota or cs_window_limit (until the next reset)."""
    state, body = _state(), json_body() or {}
    with state.lock:
        state.config.update({k: int(v) for k, v in body.items() if k in state.defaults})
        current = dict(state.config)
    return wx_json(current)


@bp.post("/webhook")
def webhook() -> Response:
    """Where WeChat pushes events: {url, token, aes_key?, appid?, original_id?} (null: nowhere);
    `status` for the receipts from now on (default success); `hold`: record, do not push."""
    state, body = _state(), json_body()
    with state.lock:
        state.webhook = body if body and body.get("url") or (body and body.get("hold")) else None
    return wx_json({"webhook": bool(state.webhook)})


@bp.get("/receipts")
def receipts() -> Response:
    """Every TEMPLATESENDJOBFINISH made, oldest first (`xml`: the push as WeChat sends it), and
    how many are still to be pushed."""
    state = _state()
    with state.lock:
        found = list(state.receipts)
    pusher = current_app.extensions["fakewechat.pusher"]
    return wx_json({"receipts": found, "pending": pusher.pending})


@bp.get("/messages")
def messages() -> Response:
    """Customer-service and template messages sent, oldest first (`?touser=` to filter)."""
    state, touser = _state(), request.args.get("touser")
    with state.lock:
        found = [m for m in state.messages if touser in (None, m["touser"])]
    return wx_json({"messages": found})


@bp.get("/stats")
def stats() -> Response:
    """How many messages went out, by kind (cheaper than /messages for a count)."""
    state = _state()
    with state.lock:
        kinds: dict[str, int] = {}
        for m in state.messages:
            kinds[m["kind"]] = kinds.get(m["kind"], 0) + 1
        receipts = len(state.receipts)
    pusher = current_app.extensions["fakewechat.pusher"]
    return wx_json({"messages": sum(kinds.values()), "by_kind": kinds, "receipts": receipts,
                    "receipts_pending": pusher.pending})


@bp.get("/calls")
def calls() -> Response:
    """Calls per /cgi-bin/ path, failed ones included."""
    state = _state()
    with state.lock:
        counts = dict(state.calls)
    return wx_json(counts)


@bp.get("/qrcodes")
def qrcodes() -> Response:
    state = _state()
    with state.lock:
        found = list(state.qrcodes.values())
    return wx_json({"qrcodes": found})


@bp.post("/reset")
def reset() -> Response:
    state = _state()
    with state.lock:
        state.reset()
    return wx_json({"reset": True})
