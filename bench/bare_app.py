"""The baselines: a bare wechatpy + Flask webhook that verifies, decrypts, parses, replies and
encrypts, and nothing else (`gunicorn bench.bare_app:app`), and the same handler storing one
row per push in PostgreSQL, committed before it answers (`bench.bare_app:app_db`): what any
handler that keeps every push durably pays on the same machine."""
from __future__ import annotations

import os
import threading

from flask import Flask, Response, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply

crypto = WeChatCrypto(os.environ["WECHAT_TOKEN"], os.environ["WECHAT_AES_KEY"], os.environ["WECHAT_APPID"])
_local = threading.local()


def _store(msg, nonce: str) -> None:
    import psycopg

    conn = getattr(_local, "conn", None)
    if conn is None:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
        conn = _local.conn = psycopg.connect(url, autocommit=True)
    conn.execute("INSERT INTO bench_pushes (key) VALUES (%s) ON CONFLICT DO NOTHING",
                 (f"{msg.source}:{msg.id}:{msg.time}:{nonce}",))


def make(touch_db: bool) -> Flask:
    app = Flask(__name__)

    @app.post("/wechat")
    def receive():
        a = request.args
        try:
            xml = crypto.decrypt_message(request.get_data(), a["msg_signature"], a["timestamp"], a["nonce"])
        except InvalidSignatureException:
            return Response("invalid signature", 403)
        msg = parse_message(xml)
        if touch_db:
            _store(msg, a["nonce"])
        reply = TextReply(message=msg, content="已收到").render()
        return Response(crypto.encrypt_message(reply, a["nonce"], a["timestamp"]), mimetype="application/xml")

    return app


app = make(touch_db=False)
app_db = make(touch_db=True)
