"""TEMPLATESENDJOBFINISH: after accepting a template message WeChat pushes, to the account's
webhook, an event naming the recipient (FromUserName), the msgid and how it ended (Status:
success, failed:user block, failed: system failed). The fake records each receipt and, once told
the webhook (`/_fake/webhook`), pushes it there signed as WeChat signs (plain, or AES safe
mode), from a thread of its own, retrying as WeChat does (3 more times)."""
from __future__ import annotations

import hashlib
import http.client
import logging
import queue
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

log = logging.getLogger(__name__)

RETRIES = 3


def receipt_xml(original_id: str, openid: str, msgid: int, status: str, created: int) -> str:
    return (f"<xml><ToUserName><![CDATA[{original_id}]]></ToUserName><FromUserName><![CDATA[{openid}]]>"
            f"</FromUserName><CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
            f"<Status><![CDATA[{status}]]></Status></xml>")


class Pusher:
    """Pushes receipts to the webhook from daemon threads (none until a webhook is set)."""

    def __init__(self, threads: int = 4):
        self.queue: queue.Queue = queue.Queue()
        self.threads = threads
        self.started = False
        self.pending = 0
        self.lock = threading.Lock()
        self.http = threading.local()

    def push(self, hook: dict[str, Any], xml: str) -> None:
        with self.lock:
            self.pending += 1
            if not self.started:
                self.started = True
                for n in range(self.threads):
                    threading.Thread(target=self._work, name=f"fake-receipts-{n}", daemon=True).start()
        self.queue.put((hook, xml))

    def _work(self) -> None:
        while True:
            hook, xml = self.queue.get()
            try:
                for attempt in range(1 + RETRIES):
                    if self._post(hook, xml):
                        break
                    time.sleep(0.2 * (attempt + 1))
            finally:
                with self.lock:
                    self.pending -= 1

    def _post(self, hook: dict[str, Any], xml: str) -> bool:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        params = {"timestamp": timestamp, "nonce": nonce, "openid": "x"}
        body = xml.encode()
        if hook.get("aes_key"):
            from wechatpy.crypto import WeChatCrypto

            crypto = WeChatCrypto(hook["token"], hook["aes_key"], hook["appid"])
            body = crypto.encrypt_message(xml, nonce, timestamp).encode()
            enc = body.decode()
            encrypted = enc.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
            params["msg_signature"] = hashlib.sha1("".join(sorted([hook["token"], timestamp, nonce, encrypted]))
                                                   .encode()).hexdigest()
            params["encrypt_type"] = "aes"
        params["signature"] = hashlib.sha1("".join(sorted([hook["token"], timestamp, nonce])).encode()).hexdigest()
        return self._send(hook["url"], params, body)

    def _send(self, url: str, params: dict[str, str], body: bytes) -> bool:
        """POST on this thread's keep-alive connection (WeChat's servers push from their own:
        the fake should cost the machine little, so a benchmark measures the product)."""
        parts = urlsplit(url)
        conn = getattr(self.http, "conn", None)
        if conn is None or getattr(self.http, "netloc", None) != parts.netloc:
            conn = self.http.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
            self.http.netloc = parts.netloc
        query = urlencode(params)
        target = f"{parts.path or '/'}?{parts.query + '&' if parts.query else ''}{query}"
        for attempt in (1, 2):  # a keep-alive connection the webhook closed meanwhile: once more
            try:
                conn.request("POST", target, body=body, headers={"Content-Type": "text/xml"})
                res = conn.getresponse()
                res.read()
                if res.will_close:
                    conn.close()
                return res.status == 200
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if attempt == 2:
                    log.warning("receipt push failed: %s", type(exc).__name__)
        return False
