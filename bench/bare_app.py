"""The baseline: a bare wechatpy + Flask webhook that verifies, decrypts, parses, replies and
encrypts, and nothing else (no database). `gunicorn bench.bare_app:app` with the same env."""
from __future__ import annotations

import os

from flask import Flask, Response, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply

app = Flask(__name__)
crypto = WeChatCrypto(os.environ["WECHAT_TOKEN"], os.environ["WECHAT_AES_KEY"], os.environ["WECHAT_APPID"])


@app.post("/wechat")
def receive():
    a = request.args
    try:
        xml = crypto.decrypt_message(request.get_data(), a["msg_signature"], a["timestamp"], a["nonce"])
    except InvalidSignatureException:
        return Response("invalid signature", 403)
    msg = parse_message(xml)
    reply = TextReply(message=msg, content="已收到").render()
    return Response(crypto.encrypt_message(reply, a["nonce"], a["timestamp"]), mimetype="application/xml")
