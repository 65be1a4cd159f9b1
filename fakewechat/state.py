"""What the fake WeChat server remembers, and how it answers in WeChat's own format."""
from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from typing import Any, Callable

from flask import Response, request

REPLY_WINDOW = 48 * 3600  # customer-service messages only this long after the citizen wrote
MEDIA_TTL = 3 * 24 * 3600  # media ids from pushes expire after 3 days
ERRMSG = {
    -1: "system error",
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40013: "invalid appid",
    40029: "invalid code",
    40125: "invalid appsecret",
    40037: "invalid template_id",
    41001: "access_token missing",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}


class FakeState:
    """Everything the fake remembers; every read-modify-write holds `lock` (threaded server)."""

    def __init__(self, appid: str, secret: str, token_ttl: int, template_daily_quota: int,
                 cs_window_limit: int, clock: Callable[[], float]):
        self.appid, self.secret, self.clock = appid, secret, clock
        self.defaults = {"token_ttl": token_ttl, "template_daily_quota": template_daily_quota,
                         "cs_window_limit": cs_window_limit}
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.config: dict[str, int] = dict(self.defaults)
        self.tokens: dict[str, float] = {}               # token -> issued at
        self.interactions: dict[str, float] = {}         # openid -> last message to the account
        self.cs_sent: dict[str, int] = defaultdict(int)  # openid -> sent since that message
        self.templates_per_day: dict[str, int] = defaultdict(int)
        self.media: dict[str, dict[str, Any]] = {}
        self.qrcodes: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, dict[str, Any]] = {}    # path -> injected answer and times left
        self.messages: list[dict[str, Any]] = []
        self.calls: dict[str, int] = defaultdict(int)
        self.next_msgid = 1000
        self.oauth_codes: dict[str, tuple[str, float]] = {}  # web authorization: code -> (openid, issued at)
        self.oauth_user: str | None = None  # the WeChat user the fake's authorization answers for
        # TEMPLATESENDJOBFINISH receipts made (every template message accepted), and where to push
        # them: {url, token, aes_key?, appid?, original_id?, status?, hold?} (`/_fake/webhook`).
        self.receipts: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.expire_after: int | None = None  # message sends until every token expires

    def expire_all(self) -> None:
        expired_at = self.clock() - self.config["token_ttl"] - 1
        self.tokens = {token: expired_at for token in self.tokens}

    def token_error(self, token: str | None) -> int | None:
        if not token:
            return 41001
        issued = self.tokens.get(token)
        if issued is None:
            return 40001
        if self.clock() - issued >= self.config["token_ttl"]:
            return 42001
        return None

    def take_failure(self, path: str) -> dict[str, Any] | None:
        rule = self.failures.get(path)
        if not rule:
            return None
        rule["times"] -= 1
        if rule["times"] <= 0:
            del self.failures[path]
        return rule


def wx_json(payload: dict[str, Any], status: int = 200) -> Response:
    # WeChat's own content type, including its odd "encoding" parameter.
    return Response(json.dumps(payload, ensure_ascii=False), status,
                    content_type="application/json; encoding=utf-8")


def wx_error(errcode: int, errmsg: str | None = None) -> Response:
    """WeChat reports errors with HTTP 200 and an errcode (0 meaning success)."""
    return wx_json({"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "error")})


def json_body() -> dict[str, Any] | None:
    # wechatpy posts a JSON body without a JSON content type, hence force=True.
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else None


def beijing_day(ts: float) -> str:
    # WeChat's daily quotas reset at midnight Beijing time.
    return time.strftime("%Y-%m-%d", time.gmtime(ts + 8 * 3600))
