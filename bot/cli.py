"""`flask wechat chat` (the chat simulator) and `flask wechat fake-api` (the fake WeChat API)."""
from __future__ import annotations

import base64
import secrets
import shlex

import click
import requests

from bot import simulator as sim
from core.app import settings
from core.cli import CommandGroup

wechat_cli = CommandGroup("wechat", help="Talk to the bot as WeChat does; run the fake WeChat API.")

CHAT_HELP = """输入文字直接发送给机器人。特殊命令：
  /voice 识别文字      发送一条语音（带语音识别文字）
  /image              发送一张图片
  /location 纬度 经度 地名
  /scan 场景值         扫码（已关注）
  /video              发送视频（机器人不支持的类型）
  /quit               退出"""


@wechat_cli.command("chat")
@click.option("--scene", help="QR scene scanned first (e.g. G1-baisha); omit to just follow.")
@click.option("--openid", default=None, help="Who is talking (default: a new random openid).")
@click.option("--url", default="http://127.0.0.1:5000/wechat", show_default=True, help="The webhook.")
def chat(scene: str | None, openid: str | None, url: str) -> None:
    """Chat with a running bot through its real webhook: signed (and encrypted in AES mode)."""
    cfg = settings()
    pusher = sim.WeChatPusher(cfg.wechat_token, cfg.wechat_appid, cfg.wechat_aes_key)
    openid = openid or "oSIM" + secrets.token_hex(12)
    http = requests.Session()
    fake = cfg.wechat_api_base.rstrip("/") if cfg.wechat_api_base else None
    click.echo(f"模拟微信用户 {openid} → {url}{'（安全模式）' if cfg.wechat_aes_key else ''}\n{CHAT_HELP}\n")

    def send(xml: str) -> None:
        query, body = pusher.push(xml)
        if fake:  # the fake API learns that this user just wrote (opens the 48-hour window)
            _quietly(http.post, f"{fake}/_fake/interaction", json={"openid": openid})
        try:
            r = http.post(f"{url}?{query}", data=body, headers={"Content-Type": "text/xml"}, timeout=10)
        except requests.ConnectionError:
            raise click.ClickException(f"无法连接 {url}：请先用 ./run.sh 启动服务，或用 --url 指定地址") from None
        if r.status_code != 200:
            click.secho(f"[HTTP {r.status_code}] {r.text}", fg="red")
            return
        reply = pusher.read_reply(r.content)
        click.secho(reply.get("Content", "（无回复）"), fg="green")

    def media(kind: str, data: bytes, content_type: str) -> str:
        media_id = f"SIM{kind}{secrets.token_hex(8)}"
        if fake:
            _quietly(http.post, f"{fake}/_fake/media", json={
                "media_id": media_id, "content_type": content_type, "data_b64": base64.b64encode(data).decode()})
        return media_id

    first = True
    if scene:
        send(sim.scan(openid, scene, first_time=True))
        first = False
    while True:
        try:
            line = input("> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        msg_id = secrets.randbits(62)
        if line == "/quit":
            return
        if line.startswith("/voice"):
            said = line[len("/voice"):].strip()
            send(sim.voice(openid, media("voice", b"#!AMR\n" + said.encode(), "audio/amr"), said, msg_id))
        elif line == "/image":
            send(sim.image(openid, media("image", _TINY_JPEG, "image/jpeg"), msg_id))
        elif line.startswith("/location"):
            parts = shlex.split(line)[1:]
            lat, lng = (float(parts[0]), float(parts[1])) if len(parts) >= 2 else (26.90, 112.55)
            send(sim.location(openid, lat, lng, " ".join(parts[2:]) or "白沙村村委会附近", msg_id))
        elif line.startswith("/scan"):
            send(sim.scan(openid, line[len("/scan"):].strip(), first_time=first))
            first = False
        elif line == "/video":
            send(sim.video(openid, "SIMvideo", msg_id))
        else:
            send(sim.text(openid, line, msg_id))


@wechat_cli.command("fake-api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8808, show_default=True)
def fake_api(host: str, port: int) -> None:
    """Run the fake WeChat API (token, messages, QR tickets, media) on loopback."""
    from werkzeug.serving import run_simple

    from fakewechat.server import RequestHandler, create_fake_app

    cfg = settings()
    click.echo(f"fake WeChat API for appid {cfg.wechat_appid} on http://{host}:{port}/")
    # RequestHandler: the log shows no app secret or access token.
    run_simple(host, port, create_fake_app(cfg.wechat_appid, cfg.wechat_secret), threaded=True,
               request_handler=RequestHandler)


def _quietly(call, *args, **kwargs) -> None:
    try:
        call(*args, timeout=3, **kwargs)
    except requests.RequestException:
        pass


# A 1×1 JPEG, enough for the fake API to serve as a photo.
_TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/"
    "wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q==")
