"""The calls the product makes to WeChat's Official Account API (公众号接口): media download,
customer-service (客服) and template (模板) messages, parametric QR codes (带参数二维码).

Built on wechatpy's `WeChatClient`, with three changes (see WECHAT.md):
- every address, including the token and showqrcode ones wechatpy hard-codes, goes to
  `api_base`, so the fake server in `fakewechat` can stand in for WeChat;
- no unbounded auto retry: on 40001/40014/42001, one token refresh and one retry;
- with Redis the token is shared, and refreshed under a Redis lock, re-reading it once the lock
  is held, so concurrent workers do not each fetch one and invalidate each other's.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote

import requests
from redis.exceptions import LockError, RedisError
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.memorystorage import MemoryStorage
from wechatpy.session.redisstorage import RedisStorage

if TYPE_CHECKING:
    from redis import Redis

    from core.settings import Settings

log = logging.getLogger(__name__)

WECHAT_API_BASE = "https://api.weixin.qq.com/"
WECHAT_QR_BASE = "https://mp.weixin.qq.com/"  # showqrcode lives on another host
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid / not latest / expired access token
# -1 busy, 45009 daily quota (resets at midnight), 45011 per-minute quota; token errors that
# survive our own refresh usually mean another client of the same appid refreshed meanwhile.
RETRYABLE_ERRCODES = frozenset({-1, 45009, 45011} | TOKEN_ERRORS)
REDIS_PREFIX = "mashang:wechat"
MAX_SCENE_LENGTH = 64
MAX_QR_EXPIRE = 30 * 24 * 3600


class WeChatApiError(Exception):
    """WeChat refused a call (`errcode`), or it never got an answer (`errcode` None:
    network error or HTTP error status, see `http_status`)."""

    def __init__(self, errcode: int | None, errmsg: str, *, http_status: int | None = None,
                 retryable: bool | None = None, maybe_delivered: bool = False):
        super().__init__(f"WeChat API error {errcode}: {errmsg}" if errcode is not None
                         else f"WeChat API unreachable: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.http_status = http_status
        self._retryable = retryable
        # No answer, but the request may have reached WeChat (a read timeout, a connection cut
        # after sending): a message may have gone out. Only a failure to connect proves not.
        self.maybe_delivered = maybe_delivered

    @property
    def retryable(self) -> bool:
        """Worth trying again later (a job retry); False for 45015/45047/40007 and the like."""
        if self._retryable is not None:
            return self._retryable
        if self.errcode is None:
            return self.http_status is None or self.http_status >= 500 or self.http_status == 429
        return self.errcode in RETRYABLE_ERRCODES


@dataclass(frozen=True)
class Media:
    content: bytes
    content_type: str
    filename: str | None


class _Client(WeChatClient):
    """wechatpy's client pointed at `api_base`, with our token handling and error types."""

    def __init__(self, appid: str, secret: str, api_base: str, redis: Redis | None,
                 timeout: float):
        session = RedisStorage(redis, prefix=REDIS_PREFIX) if redis is not None else MemoryStorage()
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base + "cgi-bin/"
        self.token_url = api_base + "cgi-bin/token"
        self.redis = redis
        self._local_lock = threading.Lock()

    @property
    def access_token(self) -> str:
        token = self.session.get(self.access_token_key)
        if token and self._fresh():
            return token
        return self.refresh_token(stale=token)

    def _fresh(self) -> bool:
        # Redis drops the shared key itself (TTL set a minute early); in memory we go by our
        # own fetch time, as wechatpy does.
        return self.redis is not None or self.expires_at is None or \
            self.expires_at - time.time() > 60

    def refresh_token(self, stale: str | None) -> str:
        """Fetch a new token, unless another worker has already replaced `stale`."""
        if self.redis is None:  # this process alone: its threads take turns, as workers do in Redis
            with self._local_lock:
                current = self.session.get(self.access_token_key)
                if current and current != stale and self._fresh():
                    return current
                self.fetch_access_token()
                return self.session.get(self.access_token_key)
        wait = self.timeout * 2 + 5
        lock = self.redis.lock(f"{REDIS_PREFIX}:{self.appid}:token-lock", timeout=wait,
                               blocking_timeout=wait)
        if not lock.acquire():
            raise WeChatApiError(None, "timed out waiting for the access-token lock")
        try:
            current = self.session.get(self.access_token_key)
            if current and current != stale:
                return current  # refreshed while we waited: fetching again would invalidate it
            self.fetch_access_token()
            return self.session.get(self.access_token_key)
        finally:
            try:
                lock.release()
            except LockError:  # it outlived its timeout; nothing of ours left to release
                log.warning("access-token lock expired before release")

    def fetch_access_token(self) -> dict[str, Any]:
        # wechatpy's own hard-codes api.weixin.qq.com and sends no timeout.
        res = self._http.get(self.token_url, timeout=self.timeout, params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
        if res.status_code >= 400:
            raise WeChatApiError(None, f"HTTP {res.status_code} from token endpoint",
                                 http_status=res.status_code)
        result = self._decode_result(res)
        if not isinstance(result, dict) or "access_token" not in result:
            errcode = result.get("errcode") if isinstance(result, dict) else None
            errmsg = result.get("errmsg", "") if isinstance(result, dict) else "not JSON"
            # Refused credentials (wrong secret, IP not whitelisted) are configuration errors.
            raise WeChatApiError(errcode, f"token: {errmsg}", retryable=errcode == -1)
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], max(expires_in - 60, 1))
        self.expires_at = int(time.time()) + expires_in
        return result

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        for attempt in (1, 2):
            # wechatpy writes the token into `params`: give each attempt its own dict.
            params = dict(kwargs.get("params") or {})
            with _transport_errors():
                try:
                    return super()._request(method, url_or_endpoint, **{**kwargs, "params": params})
                except WeChatClientException as exc:
                    if exc.errcode not in TOKEN_ERRORS or attempt == 2:
                        raise _from_wechatpy(exc) from None  # no chained URL in tracebacks
                    log.info("WeChat refused the access token (%s); refreshing once", exc.errcode)
                    self.refresh_token(stale=params.get("access_token"))
        raise AssertionError("unreachable")

    def _decode_result(self, res: requests.Response) -> Any:
        # Only JSON-ish bodies are API results; a media download answers with the file itself,
        # which must not be parsed even if it happens to look like JSON.
        ctype = res.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype and ctype not in ("application/json", "text/plain", "text/json"):
            return res
        return super()._decode_result(res)


@contextmanager
def _transport_errors() -> Iterator[None]:
    """No answer from WeChat (or no token store) is a WeChatApiError too, errcode None."""
    try:
        yield
    except requests.RequestException as exc:
        # requests puts the whole URL in its messages: secret= and access_token= must not reach
        # logs or the database.
        # `from None`: a chained requests error would print the URL in every traceback (logs, RQ).
        raise WeChatApiError(None, redact(f"{type(exc).__name__}: {exc}"),
                             maybe_delivered=_may_have_arrived(exc)) from None
    except RedisError as exc:
        raise WeChatApiError(None, f"token store unavailable: {exc}") from None


def _may_have_arrived(exc: requests.RequestException) -> bool:
    """Whether a request that got no answer may have reached WeChat: only a failure to connect
    (refused, no route, DNS, connect timeout) proves it did not; a token request sends nothing."""
    from urllib3.exceptions import NewConnectionError

    request = getattr(exc, "request", None)
    if request is not None and "/cgi-bin/token" in (request.url or ""):
        return False
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(getattr(reason, "reason", reason), NewConnectionError):
            return False
    return True


_SECRET_PARAMS = re.compile(r"((?:secret|access_token|appsecret)=)[^&\s'\")]+", re.I)


def redact(text: str) -> str:
    return _SECRET_PARAMS.sub(r"\1***", text)


def _from_wechatpy(exc: WeChatClientException) -> WeChatApiError:
    if exc.errcode is None:  # wechatpy's wrapper around raise_for_status()
        status = exc.response.status_code if exc.response is not None else None
        return WeChatApiError(None, f"HTTP {status}", http_status=status)
    return WeChatApiError(int(exc.errcode), str(exc.errmsg))


def _filename(disposition: str | None) -> str | None:
    if not disposition:
        return None
    msg = Message()
    msg["Content-Disposition"] = disposition
    return msg.get_filename()


class WeChatApi:
    """One Official Account's API. `api_base` None means WeChat itself; otherwise every call
    (token and QR image included) goes there, e.g. to the fake server."""

    def __init__(self, appid: str, secret: str, api_base: str | None, redis: Redis | None = None,
                 timeout: float = 5):
        base = (api_base or WECHAT_API_BASE).rstrip("/") + "/"
        self.qr_base = base if api_base else WECHAT_QR_BASE
        self.client = _Client(appid, secret, base, redis, timeout)

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None = None) -> WeChatApi:
        return cls(settings.wechat_appid, settings.wechat_secret, settings.wechat_api_base, redis)

    def download_media(self, media_id: str) -> Media:
        """Download a temporary media file (voice, image) by the id a push carried."""
        res = self.client.media.download(media_id)
        if not isinstance(res, requests.Response):  # JSON without errcode, e.g. a video URL
            raise WeChatApiError(None, f"expected a media file, got {res!r:.200}", retryable=False)
        ctype = res.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
        return Media(res.content, ctype, _filename(res.headers.get("Content-Disposition")))

    def send_text(self, openid: str, content: str) -> None:
        """Customer-service text message; only within 48 h of the citizen's last message."""
        self.client.message.send_text(openid, content)

    def send_template(self, openid: str, template_id: str, data: dict[str, Any],
                      url: str | None = None) -> int:
        """Template message; returns its msgid (`data` as `template_fields` takes it)."""
        result = self.client.message.send_template(openid, template_id, template_fields(data), url=url)
        return int(result["msgid"])

    def create_qr(self, scene: str, expire_seconds: int | None) -> dict[str, Any]:
        """Parametric QR code: temporary (QR_STR_SCENE) when `expire_seconds` is given,
        permanent (QR_LIMIT_STR_SCENE, limited in number) when None.
        Returns WeChat's answer: ticket, url and, for a temporary one, expire_seconds."""
        if not 1 <= len(scene) <= MAX_SCENE_LENGTH:
            raise ValueError(f"scene must be 1 to {MAX_SCENE_LENGTH} characters: {scene!r}")
        data: dict[str, Any] = {"action_info": {"scene": {"scene_str": scene}}}
        if expire_seconds is None:
            data["action_name"] = "QR_LIMIT_STR_SCENE"
        elif not 1 <= expire_seconds <= MAX_QR_EXPIRE:
            raise ValueError(f"expire_seconds must be 1 to {MAX_QR_EXPIRE}: {expire_seconds}")
        else:
            data.update(action_name="QR_STR_SCENE", expire_seconds=expire_seconds)
        result = self.client.qrcode.create(data)
        return {k: v for k, v in result.items() if k not in ("errcode", "errmsg")}

    def qr_image_url(self, ticket: str) -> str:
        """Where the QR image for `ticket` is downloaded (no access token needed)."""
        return f"{self.qr_base}cgi-bin/showqrcode?ticket={quote(ticket, safe='')}"


def template_fields(data: dict[str, Any]) -> dict[str, dict]:
    """A template message's `data` as WeChat takes it: a plain value becomes {"value": ...}; a
    dict, WeChat's own {"value": ..., "color": ...}, is kept."""
    return {k: v if isinstance(v, dict) else {"value": str(v)} for k, v in data.items()}
