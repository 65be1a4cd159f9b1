"""A fake WeChat Official Account API server (公众号接口), in memory, for tests and the demo.

It answers the endpoints the product calls the way WeChat does: HTTP 200 with a JSON body
carrying `errcode`/`errmsg` on errors, one valid access token at a time, the 48-hour
customer-service window, a daily template quota, parametric QR codes and media downloads.
`/_fake/...` (see `fakewechat.control`) sets the scene and shows what went out.

    python -m fakewechat.server --appid wx... --secret ... --port 8001

Its request log (`instance/fake-wechat.log` under run.sh) shows the query strings with the app
secret and every access token masked (`secret=***`, `access_token=***`).
"""
from __future__ import annotations

import argparse
import base64
import io
import re
import secrets
import socket
import threading
import time
from typing import Any, Callable

import segno
from flask import Flask, Response, g, request
from werkzeug.serving import WSGIRequestHandler, make_server

from fakewechat import control, oauth
from fakewechat.receipts import Pusher, receipt_xml
from fakewechat.state import (MEDIA_TTL, REPLY_WINDOW, FakeState, beijing_day, json_body,
                              wx_error, wx_json)

MAX_QR_EXPIRE = 30 * 24 * 3600
NO_TOKEN_PATHS = ("/cgi-bin/token", "/cgi-bin/showqrcode")
SEND_PATHS = ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send")
QR_ACTIONS = {  # action_name -> (scene key, temporary?)
    "QR_SCENE": ("scene_id", True),
    "QR_STR_SCENE": ("scene_str", True),
    "QR_LIMIT_SCENE": ("scene_id", False),
    "QR_LIMIT_STR_SCENE": ("scene_str", False),
}


def create_fake_app(appid: str, secret: str, token_ttl: int = 7200, *,
                    template_daily_quota: int = 100_000, cs_window_limit: int = 5,
                    clock: Callable[[], float] = time.time) -> Flask:
    """A Flask app that behaves like api.weixin.qq.com for one account (appid/secret)."""
    app = Flask(__name__)
    state = FakeState(appid, secret, token_ttl, template_daily_quota, cs_window_limit, clock)
    app.extensions["fakewechat"] = state
    pusher = app.extensions["fakewechat.pusher"] = Pusher()
    app.register_blueprint(control.bp)
    app.register_blueprint(oauth.bp)  # 网页授权 (snsapi_base) for the mobile page

    @app.before_request
    def count_fail_and_authorize() -> Response | None:
        path = request.path
        if not path.startswith("/cgi-bin/"):
            return None
        with state.lock:
            state.calls[path] += 1
            rule = state.take_failure(path)
            if path in SEND_PATHS and state.expire_after is not None:
                state.expire_after -= 1
                if state.expire_after <= 0:  # the token expires mid-batch, before this send
                    state.expire_after = None
                    state.expire_all()
            token_error = None if path in NO_TOKEN_PATHS else state.token_error(
                request.args.get("access_token"))
        if rule is not None and rule.get("delay"):
            g.delay = float(rule["delay"])  # handled, then answered late (a worker may die meanwhile)
            rule = None
        if rule is not None and rule.get("network"):
            # No answer: the connection is cut before the call is handled, or after (then the
            # message went out and only its answer was lost). The client cannot tell which.
            if rule["network"] == "drop_after":
                g.drop_connection = True
            else:
                return _drop_connection()
            rule = None
        if rule is not None:
            if rule.get("status"):
                return Response("fake HTTP error", rule["status"], content_type="text/html")
            return wx_error(rule["errcode"], rule.get("errmsg"))
        return wx_error(token_error) if token_error else None

    @app.get("/cgi-bin/token")
    def token() -> Response:
        args = request.args
        if args.get("grant_type") != "client_credential":
            return wx_error(40002)
        if args.get("appid") != state.appid:
            return wx_error(40013)
        if args.get("secret") != state.secret:
            return wx_error(40001, "invalid credential")
        new = secrets.token_urlsafe(96)
        with state.lock:
            state.tokens = {new: state.clock()}  # a new token invalidates the previous one
            ttl = state.config["token_ttl"]
        return wx_json({"access_token": new, "expires_in": ttl})

    @app.after_request
    def cut_after(response: Response) -> Response:
        if g.get("delay"):
            time.sleep(g.delay)
        if g.get("drop_connection"):
            return _drop_connection()
        return response

    @app.post("/cgi-bin/message/custom/send")
    def custom_send() -> Response:
        body = json_body()
        if body is None or not isinstance(body.get(body.get("msgtype") or ""), dict):
            return wx_error(47001)
        openid = body.get("touser")
        if not openid:
            return wx_error(40003)
        with state.lock:
            now, last = state.clock(), state.interactions.get(openid)
            if last is None or now - last > REPLY_WINDOW:
                return wx_error(45015)
            if state.cs_sent[openid] >= state.config["cs_window_limit"]:
                return wx_error(45047)
            state.cs_sent[openid] += 1
            state.messages.append({"kind": "custom", "touser": openid, "msgtype": body["msgtype"],
                                   "content": body[body["msgtype"]].get("content"), "body": body,
                                   "at": now})
        return wx_error(0)

    @app.post("/cgi-bin/message/template/send")
    def template_send() -> Response:
        body = json_body()
        if body is None or not isinstance(body.get("data", {}), dict):
            return wx_error(47001)
        if not body.get("touser"):
            return wx_error(40003)
        if not body.get("template_id"):
            return wx_error(40037)
        with state.lock:
            now = state.clock()
            day = beijing_day(now)
            if state.templates_per_day[day] >= state.config["template_daily_quota"]:
                return wx_error(45009)
            state.templates_per_day[day] += 1
            state.next_msgid += 1
            msgid = state.next_msgid
            state.messages.append({"kind": "template", "touser": body["touser"],
                                   "template_id": body["template_id"], "url": body.get("url"),
                                   "data": body.get("data", {}), "msgid": msgid, "at": now})
            hook = dict(state.webhook) if state.webhook else None
            status = (hook or {}).get("status") or "success"
            receipt = {"openid": body["touser"], "msgid": msgid, "status": status, "created": int(now),
                       "xml": receipt_xml((hook or {}).get("original_id") or "gh_fakeaccount", body["touser"],
                                          msgid, status, int(now))}
            state.receipts.append(receipt)
        if hook and hook.get("url") and not hook.get("hold"):
            pusher.push(hook, receipt["xml"])
        return wx_json({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    @app.post("/cgi-bin/qrcode/create")
    def qrcode_create() -> Response:
        body = json_body() or {}
        action = QR_ACTIONS.get(body.get("action_name"))
        scene_info = (body.get("action_info") or {}).get("scene") or {}
        scene = scene_info.get(action[0]) if action else None
        if scene in (None, "") or (isinstance(scene, str) and len(scene) > 64):
            return wx_error(47001)
        temporary = action[1]
        expire = min(int(body.get("expire_seconds") or 60), MAX_QR_EXPIRE) if temporary else None
        # Real tickets are base64 (with "+", "/" and "="), so clients must URL-encode them.
        ticket = base64.b64encode(b"gQ" + secrets.token_bytes(46)).decode()
        url = f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}"
        with state.lock:
            now = state.clock()
            state.qrcodes[ticket] = {"ticket": ticket, "url": url, "scene": scene,
                                     "action_name": body["action_name"], "created_at": now,
                                     "expire_at": now + expire if expire else None}
        payload: dict[str, Any] = {"ticket": ticket, "url": url}
        if expire:
            payload["expire_seconds"] = expire
        return wx_json(payload)

    @app.get("/cgi-bin/showqrcode")
    def showqrcode() -> Response:
        with state.lock:
            qr = state.qrcodes.get(request.args.get("ticket", ""))
            now = state.clock()
        if qr is None or (qr["expire_at"] and now > qr["expire_at"]):
            return Response("", 404)
        out = io.BytesIO()
        segno.make(qr["url"], error="m").save(out, kind="png", scale=8, border=4)
        return Response(out.getvalue(), content_type="image/png")

    @app.get("/cgi-bin/media/get")
    def media_get() -> Response:
        media_id = request.args.get("media_id", "")
        with state.lock:
            item = state.media.get(media_id)
            now = state.clock()
        if item is None or now - item["at"] > MEDIA_TTL:
            return wx_error(40007)
        headers = {"Content-Disposition": f'attachment; filename="{item["filename"]}"',
                   "Cache-Control": "no-cache, must-revalidate"}
        return Response(item["data"], content_type=item["content_type"], headers=headers)

    return app


def _drop_connection() -> Response:
    """Close the client's connection without an answer (a network failure), once the request
    has arrived whole: a client cannot tell this from a cut after the call was handled."""
    request.get_data()
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    return Response("", 500)


_SECRET_VALUES = re.compile(r"\b((?:app)?secret|access_token)=[^&\s\"']*", re.I)


def redact(text: str) -> str:
    """`text` with the values of secret= and access_token= replaced by ***."""
    return _SECRET_VALUES.sub(r"\1=***", text)


class RequestHandler(WSGIRequestHandler):
    """werkzeug's handler, logging every line (request lines, errors) through `redact`: the
    product's calls carry the app secret (token) and the access token (every other call) in
    their query strings. HTTP/1.1: a client's connection is kept alive between calls, as
    WeChat's front ends do."""

    protocol_version = "HTTP/1.1"

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, "%s", redact(message % args if args else message))


def run_in_thread(app: Flask, host: str = "127.0.0.1",
                  port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve `app` from a daemon thread; returns its base URL (no trailing slash) and a
    function that stops the server and waits for the thread."""
    server = make_server(host, port, app, threaded=True, request_handler=RequestHandler)
    # A short poll interval so shutdown() returns at once rather than after half a second.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="fakewechat", daemon=True)
    thread.start()

    def shutdown() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://{host}:{server.server_port}", shutdown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake WeChat Official Account API")
    parser.add_argument("--appid", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--token-ttl", type=int, default=7200)
    parser.add_argument("--quiet", action="store_true", help="no request log (benchmarks)")
    args = parser.parse_args(argv)
    app = create_fake_app(args.appid, args.secret, args.token_ttl)
    if args.quiet:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"fake WeChat API on http://{args.host}:{args.port}", flush=True)
    make_server(args.host, args.port, app, threaded=True, request_handler=RequestHandler).serve_forever()


if __name__ == "__main__":
    main()
