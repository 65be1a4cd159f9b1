"""Web page authorization inside WeChat (网页授权, scope `snsapi_base`): the mobile page learns
the citizen's openid without asking, so that replies to a report made on the page reach them.

`authorize_url` is where the page sends a WeChat browser (open.weixin.qq.com, or the fake API);
WeChat comes back to `redirect_uri` with `code` and `state`, and `openid_for_code` trades the
code for the openid at `sns/oauth2/access_token` (api.weixin.qq.com, or the fake). The web
access token that comes with it is not kept: snsapi_base needs nothing else. Errors never carry
the app secret (it travels in the query string).
"""
from __future__ import annotations

from urllib.parse import urlencode

import requests

from core.wechat_api import WECHAT_API_BASE, WeChatApiError, redact

WECHAT_OPEN_BASE = "https://open.weixin.qq.com/"


def authorize_url(appid: str, api_base: str | None, redirect_uri: str, state: str) -> str:
    base = (api_base.rstrip("/") + "/") if api_base else WECHAT_OPEN_BASE
    query = urlencode({"appid": appid, "redirect_uri": redirect_uri, "response_type": "code",
                       "scope": "snsapi_base", "state": state})
    return f"{base}connect/oauth2/authorize?{query}#wechat_redirect"


def openid_for_code(appid: str, secret: str, api_base: str | None, code: str, timeout: float = 5) -> str:
    """The openid of the WeChat user who was sent back with `code` (valid once, 5 minutes)."""
    base = (api_base.rstrip("/") + "/") if api_base else WECHAT_API_BASE
    try:
        res = requests.get(f"{base}sns/oauth2/access_token", timeout=timeout, params={
            "appid": appid, "secret": secret, "code": code, "grant_type": "authorization_code"})
    except requests.RequestException as exc:
        raise WeChatApiError(None, redact(f"{type(exc).__name__}: {exc}")) from None
    if res.status_code >= 400:
        raise WeChatApiError(None, f"HTTP {res.status_code} from oauth2/access_token", http_status=res.status_code)
    try:
        result = res.json()
    except ValueError:
        raise WeChatApiError(None, "oauth2/access_token: not JSON", retryable=False) from None
    if not isinstance(result, dict) or not result.get("openid"):
        errcode = result.get("errcode") if isinstance(result, dict) else None
        errmsg = result.get("errmsg", "") if isinstance(result, dict) else ""
        raise WeChatApiError(errcode, f"oauth2: {errmsg}", retryable=False)
    return str(result["openid"])
