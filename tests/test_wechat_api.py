"""The WeChat API client against the fake WeChat server, over real HTTP on loopback."""
from __future__ import annotations

import base64
import socket
import threading
import time
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from core.wechat_api import WeChatApi, WeChatApiError
from fakewechat.server import create_fake_app, run_in_thread

APPID = "wxfake0000000001"
SECRET = "fake-secret-0001"
OPENID = "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
TOKEN = "/cgi-bin/token"
CUSTOM = "/cgi-bin/message/custom/send"
MEDIA = "/cgi-bin/media/get"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Fake:
    """The fake server's base URL and its control API."""

    def __init__(self, base: str):
        self.base = base

    def post(self, name: str, **body: Any) -> dict[str, Any]:
        res = requests.post(f"{self.base}/_fake/{name}", json=body, timeout=5)
        res.raise_for_status()
        return res.json()

    def get(self, name: str) -> dict[str, Any]:
        res = requests.get(f"{self.base}/_fake/{name}", timeout=5)
        res.raise_for_status()
        return res.json()

    def calls(self, path: str) -> int:
        return self.get("calls").get(path, 0)

    def messages(self) -> list[dict[str, Any]]:
        return self.get("messages")["messages"]


@pytest.fixture
def fake() -> Iterator[Fake]:
    base, shutdown = run_in_thread(create_fake_app(APPID, SECRET))
    yield Fake(base)
    shutdown()


@pytest.fixture
def api(fake: Fake) -> WeChatApi:
    return WeChatApi(APPID, SECRET, fake.base, timeout=3)


def test_token_comes_from_api_base_and_is_reused(fake: Fake, api: WeChatApi) -> None:
    fake.post("interaction", openid=OPENID)
    api.send_text(OPENID, "您的反映已收到")
    api.send_text(OPENID, "编号 XC-0001")
    assert fake.calls(TOKEN) == 1
    assert [m["content"] for m in fake.messages()] == ["您的反映已收到", "编号 XC-0001"]


def test_wrong_secret_fails_once_and_is_not_retryable(fake: Fake) -> None:
    api = WeChatApi(APPID, "wrong", fake.base, timeout=3)
    with pytest.raises(WeChatApiError) as info:
        api.send_text(OPENID, "hi")
    assert info.value.errcode == 40001 and not info.value.retryable
    assert fake.calls(TOKEN) == 1 and fake.calls(CUSTOM) == 0


def test_expired_token_is_refreshed_once_and_the_call_retried(fake: Fake, api: WeChatApi) -> None:
    fake.post("interaction", openid=OPENID)
    api.send_text(OPENID, "one")
    fake.post("expire_tokens")
    api.send_text(OPENID, "two")
    assert fake.calls(TOKEN) == 2
    assert fake.calls(CUSTOM) == 3  # one, two refused with 42001, two again
    assert [m["content"] for m in fake.messages()] == ["one", "two"]


def test_persistent_invalid_token_is_tried_exactly_twice(fake: Fake, api: WeChatApi) -> None:
    fake.post("interaction", openid=OPENID)
    fake.post("fail", path=CUSTOM, errcode=40001, times=10)
    with pytest.raises(WeChatApiError) as info:
        api.send_text(OPENID, "hi")
    assert info.value.errcode == 40001
    assert fake.calls(CUSTOM) == 2
    assert fake.calls(TOKEN) == 2
    assert fake.messages() == []


def test_customer_message_only_inside_the_48_hour_window(fake: Fake, api: WeChatApi) -> None:
    with pytest.raises(WeChatApiError) as never_wrote:
        api.send_text(OPENID, "hi")
    assert never_wrote.value.errcode == 45015 and not never_wrote.value.retryable
    fake.post("interaction", openid=OPENID, at=time.time() - 49 * 3600)
    with pytest.raises(WeChatApiError) as too_late:
        api.send_text(OPENID, "hi")
    assert too_late.value.errcode == 45015
    fake.post("interaction", openid=OPENID, at=time.time() - 47 * 3600)
    api.send_text(OPENID, "still in time")
    assert [(m["touser"], m["content"]) for m in fake.messages()] == [(OPENID, "still in time")]


def test_only_five_customer_messages_per_window(fake: Fake, api: WeChatApi) -> None:
    fake.post("interaction", openid=OPENID)
    for n in range(5):
        api.send_text(OPENID, f"m{n}")
    with pytest.raises(WeChatApiError) as info:
        api.send_text(OPENID, "m5")
    assert info.value.errcode == 45047 and not info.value.retryable
    fake.post("interaction", openid=OPENID)  # the citizen writes again: a new window
    api.send_text(OPENID, "m6")
    assert [m["content"] for m in fake.messages()] == ["m0", "m1", "m2", "m3", "m4", "m6"]


def test_template_messages_and_daily_quota(fake: Fake, api: WeChatApi) -> None:
    fake.post("config", template_daily_quota=2)
    first = api.send_template(OPENID, "TPL-progress", {"first": "进展", "keyword1": {
        "value": "已转交", "color": "#173177"}}, url="https://example.org/c/XC-0001")
    second = api.send_template(OPENID, "TPL-progress", {"first": "again"})
    assert isinstance(first, int) and second != first
    with pytest.raises(WeChatApiError) as info:
        api.send_template(OPENID, "TPL-progress", {"first": "over"})
    assert info.value.errcode == 45009 and info.value.retryable
    sent = fake.messages()
    assert [m["msgid"] for m in sent] == [first, second]
    assert sent[0]["data"] == {"first": {"value": "进展"},
                               "keyword1": {"value": "已转交", "color": "#173177"}}
    assert sent[0]["url"] == "https://example.org/c/XC-0001" and sent[1]["url"] is None


def test_media_download_returns_bytes_type_and_name(fake: Fake, api: WeChatApi) -> None:
    voice = b"#!AMR\n" + bytes(range(256)) * 4
    fake.post("media", media_id="VOICE1", content_type="audio/amr",
              data_b64=base64.b64encode(voice).decode())
    # An image whose bytes happen to be JSON must still come back as a file.
    fake.post("media", media_id="IMG1", content_type="image/jpeg",
              data_b64=base64.b64encode(b'{"errcode": 1}').decode())
    media = api.download_media("VOICE1")
    assert (media.content, media.content_type, media.filename) == (voice, "audio/amr", "VOICE1.amr")
    image = api.download_media("IMG1")
    assert (image.content, image.content_type, image.filename) == (
        b'{"errcode": 1}', "image/jpeg", "IMG1.jpg")


def test_unknown_or_expired_media_is_40007(fake: Fake, api: WeChatApi) -> None:
    fake.post("media", media_id="OLD", content_type="image/jpeg", data_b64="AAAA",
              at=time.time() - 4 * 24 * 3600)
    for media_id in ("NOPE", "OLD"):
        with pytest.raises(WeChatApiError) as info:
            api.download_media(media_id)
        assert info.value.errcode == 40007 and not info.value.retryable


def test_system_busy_then_success(fake: Fake, api: WeChatApi) -> None:
    fake.post("media", media_id="M1", content_type="audio/amr", data_b64="AQID")
    fake.post("fail", path=MEDIA, errcode=-1, times=1)
    with pytest.raises(WeChatApiError) as info:
        api.download_media("M1")
    assert info.value.errcode == -1 and info.value.retryable
    assert api.download_media("M1").content == b"\x01\x02\x03"
    assert fake.calls(MEDIA) == 2


def test_http_error_and_network_error_are_retryable(fake: Fake, api: WeChatApi) -> None:
    fake.post("media", media_id="M1", content_type="audio/amr", data_b64="AQID")
    fake.post("fail", path=MEDIA, status=500, times=1)
    with pytest.raises(WeChatApiError) as http:
        api.download_media("M1")
    assert (http.value.errcode, http.value.http_status, http.value.retryable) == (None, 500, True)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(WeChatApiError) as net:
        WeChatApi(APPID, SECRET, dead, timeout=1).download_media("M1")
    assert net.value.errcode is None and net.value.retryable


def test_qr_code_create_and_image(fake: Fake, api: WeChatApi) -> None:
    temporary = api.create_qr("G1-baisha", 3600)
    permanent = api.create_qr("OFFICE", None)
    assert temporary["expire_seconds"] == 3600 and "expire_seconds" not in permanent
    image_url = api.qr_image_url(temporary["ticket"])
    assert image_url.startswith(f"{fake.base}/cgi-bin/showqrcode?ticket=")
    # Tickets contain "+", "/" and "=": the URL must carry the exact ticket.
    assert parse_qs(urlsplit(image_url).query)["ticket"] == [temporary["ticket"]]
    res = requests.get(image_url, timeout=5)
    assert res.status_code == 200 and res.headers["Content-Type"] == "image/png"
    assert res.content.startswith(PNG_MAGIC)
    made = {q["scene"]: q["action_name"] for q in fake.get("qrcodes")["qrcodes"]}
    assert made == {"G1-baisha": "QR_STR_SCENE", "OFFICE": "QR_LIMIT_STR_SCENE"}
    assert requests.get(api.qr_image_url("not-a-ticket"), timeout=5).status_code == 404


def test_qr_image_url_without_api_base_is_wechats() -> None:
    url = WeChatApi(APPID, SECRET, None).qr_image_url("gQH4+8/a==")
    assert url == "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH4%2B8%2Fa%3D%3D"


def test_fake_server_speaks_wechat_token_rules(fake: Fake) -> None:
    def token(**params: str) -> dict[str, Any]:
        query = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, **params}
        return requests.get(f"{fake.base}/cgi-bin/token", params=query, timeout=5).json()

    assert token(appid="wxother")["errcode"] == 40013
    assert token(secret="nope")["errcode"] == 40001
    old, new = token()["access_token"], token()["access_token"]
    status = {}
    for name, value in (("old", old), ("new", new)):
        res = requests.get(f"{fake.base}{MEDIA}", params={"access_token": value, "media_id": "x"},
                           timeout=5)
        status[name] = res.json()["errcode"]
    assert status == {"old": 40001, "new": 40007}  # a new token invalidates the previous one


@pytest.mark.needs_redis  # redis_db: TEST_REDIS_URL's server (conftest)
def test_two_clients_on_one_redis_share_one_token(fake: Fake, redis_db: Any) -> None:
    first = WeChatApi(APPID, SECRET, fake.base, redis=redis_db, timeout=3)
    second = WeChatApi(APPID, SECRET, fake.base, redis=redis_db, timeout=3)
    fake.post("interaction", openid=OPENID)
    first.send_text(OPENID, "from worker 1")
    second.send_text(OPENID, "from worker 2")
    assert fake.calls(TOKEN) == 1
    assert len(fake.messages()) == 2


@pytest.mark.needs_redis
def test_concurrent_refresh_under_redis_lock_fetches_one_token(fake: Fake, redis_db: Any) -> None:
    workers = [WeChatApi(APPID, SECRET, fake.base, redis=redis_db, timeout=3) for _ in range(4)]
    fake.post("media", media_id="M1", content_type="audio/amr", data_b64="AQID")
    workers[0].download_media("M1")
    fake.post("expire_tokens")
    barrier, errors = threading.Barrier(len(workers)), []

    def work(api: WeChatApi) -> None:
        barrier.wait()
        try:
            api.download_media("M1")
        except WeChatApiError as exc:  # a token invalidated by a sibling's refresh shows here
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert errors == []
    assert fake.calls(TOKEN) == 2  # the first fetch and a single refresh


def test_unreachable_api_error_never_carries_the_secret():
    from core.wechat_api import WeChatApi, WeChatApiError

    api = WeChatApi("wxdeadbeef0000001", "topsecret123", "http://127.0.0.1:9/", timeout=1)
    with pytest.raises(WeChatApiError) as err:
        api.download_media("MEDIA1")
    text = str(err.value)
    assert err.value.errcode is None and err.value.retryable
    assert text.startswith("WeChat API unreachable:") and "topsecret123" not in text and "secret=***" in text
    # Nor does the traceback a log or RQ prints: no chained requests error with the URL in it.
    import traceback

    printed = "".join(traceback.format_exception(err.value))
    assert "topsecret123" not in printed and err.value.__cause__ is None
