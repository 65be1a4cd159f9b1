"""The fake's web page authorization (网页授权, snsapi_base): `connect/oauth2/authorize` sends the
browser back to `redirect_uri` with a one-time code for the WeChat user "signed in" to the fake
(`POST /_fake/oauth_user {"openid": ...}`, or the `fake_openid` cookie on the fake's address),
and `sns/oauth2/access_token` trades the code for that openid, as WeChat does."""
from __future__ import annotations

import secrets
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, redirect, request

from fakewechat.state import FakeState, json_body, wx_error, wx_json

bp = Blueprint("fake_oauth", __name__)
CODE_TTL = 300  # WeChat's codes live 5 minutes and serve once


def _state() -> FakeState:
    return current_app.extensions["fakewechat"]


@bp.get("/connect/oauth2/authorize")
def authorize() -> Response:
    state, args = _state(), request.args
    if args.get("appid") != state.appid:
        return Response("appid 参数错误", 400, content_type="text/plain; charset=utf-8")
    if args.get("response_type") != "code" or args.get("scope") not in ("snsapi_base", "snsapi_userinfo"):
        return Response("scope 参数错误或没有 scope 权限", 400, content_type="text/plain; charset=utf-8")
    back = args.get("redirect_uri", "")
    if urlsplit(back).scheme not in ("http", "https"):
        return Response("redirect_uri 参数错误", 400, content_type="text/plain; charset=utf-8")
    with state.lock:
        openid = request.cookies.get("fake_openid") or state.oauth_user
        if not openid:
            return Response("请在微信客户端打开链接", 403, content_type="text/plain; charset=utf-8")
        code = secrets.token_urlsafe(24)
        state.oauth_codes[code] = (openid, state.clock())
        state.calls["/connect/oauth2/authorize"] += 1
    sep = "&" if urlsplit(back).query else "?"
    return redirect(back + sep + urlencode({"code": code, "state": args.get("state", "")}), 302)


@bp.get("/sns/oauth2/access_token")
def access_token() -> Response:
    state, args = _state(), request.args
    with state.lock:
        state.calls["/sns/oauth2/access_token"] += 1
        if args.get("appid") != state.appid:
            return wx_error(40013)
        if args.get("secret") != state.secret:
            return wx_error(40125, "invalid appsecret")
        if args.get("grant_type") != "authorization_code":
            return wx_error(40002)
        found = state.oauth_codes.pop(args.get("code", ""), None)
        if found is None:
            return wx_error(40029, "invalid code")
        openid, issued = found
        if state.clock() - issued > CODE_TTL:
            return wx_error(40029, "invalid code")
    return wx_json({"access_token": secrets.token_urlsafe(64), "expires_in": 7200,
                    "refresh_token": secrets.token_urlsafe(64), "openid": openid, "scope": "snsapi_base"})


@bp.post("/_fake/oauth_user")
def oauth_user() -> Response:
    """The WeChat user the fake's authorization answers for (null: nobody, "open it in WeChat")."""
    state, body = _state(), json_body() or {}
    with state.lock:
        state.oauth_user = body.get("openid") or None
    return wx_json({"openid": state.oauth_user})
