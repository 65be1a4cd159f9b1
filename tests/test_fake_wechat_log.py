"""The fake WeChat API's log (instance/fake-wechat.log under run.sh) holds no app secret and no
access token, though the product sends both in query strings."""
from __future__ import annotations

import base64
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from core.wechat_api import WeChatApi
from fakewechat.server import create_fake_app, run_in_thread

ROOT = Path(__file__).resolve().parent.parent
OPENID = "oLOGCHECK000000000000000001"


def token_fetch_send_and_download(base: str, appid: str, secret: str) -> str:
    """What the product does: a token, a customer-service message, a media download. Returns
    the access token it used."""
    requests.post(f"{base}/_fake/interaction", json={"openid": OPENID}, timeout=5).raise_for_status()
    requests.post(f"{base}/_fake/media", json={"media_id": "LOGMEDIA1", "content_type": "audio/amr",
                                               "data_b64": base64.b64encode(b"#!AMR").decode()}, timeout=5)
    api = WeChatApi(appid, secret, base, timeout=3)
    api.send_text(OPENID, "您的反映已收到")
    assert api.download_media("LOGMEDIA1").content == b"#!AMR"
    return api.client.access_token


def assert_clean(log: str, secret: str, token: str) -> None:
    assert secret not in log and token not in log
    # The lines are there, masked: the log still shows what was called.
    assert "GET /cgi-bin/token?grant_type=client_credential&appid=" in log and "&secret=*** HTTP/1.1" in log
    assert "POST /cgi-bin/message/custom/send?access_token=*** HTTP/1.1" in log
    assert "GET /cgi-bin/media/get?media_id=LOGMEDIA1&access_token=*** HTTP/1.1" in log


def test_fake_api_command_logs_no_secret_or_token(test_env, tmp_path):
    """`flask wechat fake-api`, as run.sh starts it, its output in a file."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in test_env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env = {**env, "PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)}
    log_file = tmp_path / "fake-wechat.log"
    base = f"http://127.0.0.1:{port}"
    with open(log_file, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "wechat", "fake-api", "--port",
                                 str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/_fake/messages", timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, log_file.read_text()
                time.sleep(0.1)
        token = token_fetch_send_and_download(base, env["WECHAT_APPID"], env["WECHAT_SECRET"])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert_clean(log_file.read_text(), env["WECHAT_SECRET"], token)


def test_fake_api_in_a_thread_logs_no_secret_or_token(caplog):
    """The fake the tests share (`run_in_thread`)."""
    appid, secret = "wxfa4e0000000001", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    caplog.set_level(logging.INFO, logger="werkzeug")
    base, shutdown = run_in_thread(create_fake_app(appid, secret))
    try:
        token = token_fetch_send_and_download(base, appid, secret)
    finally:
        shutdown()
    assert_clean("\n".join(r.getMessage() for r in caplog.records), secret, token)
