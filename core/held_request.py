"""An HTTP POST written in two moves: everything but its last byte, then (`release`) that byte.

A server acts on a request only once its body is complete (its Content-Length), so a request
held back by one byte has not happened: if the process dies, the connection closes and the
server drops the partial request. The outbox (`intake.delivery`) writes each message this way
before the commit that records the attempt, and releases the bytes while that COMMIT is on its
way to the database: the moment where a message can be recorded as attempted and yet never
sent shrinks from a round trip (and the thread switches around it) to a few writes in a row.

One `HeldRequest` is one keep-alive connection (http or https, `http.client`); a request is
`begin` → `release` → `response`, then the next one may begin.
"""
from __future__ import annotations

import http.client
import json
import select
from typing import Any
from urllib.parse import urlsplit


class NotSent(Exception):
    """The request could not be written whole: the server cannot have acted on it."""


class NoAnswer(Exception):
    """The request went out whole and no answer came back: the server may have acted on it."""


class HeldRequest:
    def __init__(self, base_url: str, timeout: float):
        parts = urlsplit(base_url)
        self.prefix = parts.path if parts.path.endswith("/") else parts.path + "/"
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        proxy = _proxy_for(base_url)
        if proxy is None:
            self.conn = cls(parts.hostname, parts.port, timeout=timeout)
        elif parts.scheme == "https":  # through the proxy's CONNECT tunnel, as requests does
            self.conn = cls(proxy.hostname, proxy.port or 8080, timeout=timeout)
            self.conn.set_tunnel(parts.hostname, parts.port or 443)
        else:  # a plain-HTTP proxy takes the whole URL in the request line
            self.conn = cls(proxy.hostname, proxy.port or 8080, timeout=timeout)
            self.prefix = f"{parts.scheme}://{parts.netloc}{self.prefix}"
        self._last: bytes | None = None

    def begin(self, path: str, payload: Any) -> None:
        """Write the request for `path` (below the base URL's path) but its last byte. Raises
        NotSent when that fails: a refused connection, or one the server closed meanwhile."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            if self.conn.sock is not None and _dropped(self.conn.sock):
                self.conn.close()  # the server closed an idle keep-alive connection
            if self.conn.sock is None:
                self.conn.connect()
            self.conn.putrequest("POST", self.prefix + path.lstrip("/"), skip_accept_encoding=True)
            self.conn.putheader("Content-Type", "application/json; charset=utf-8")
            self.conn.putheader("Content-Length", str(len(body)))
            self.conn.endheaders(body[:-1])
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise NotSent(f"{type(exc).__name__}: {exc}") from None
        self._last = body[-1:]

    def release(self) -> None:
        """Complete the request: from here on the server may act on it."""
        last, self._last = self._last, None
        if last is None or self.conn.sock is None:
            raise NotSent("no request begun on this connection")
        try:
            self.conn.send(last)
        except OSError as exc:
            self.close()
            raise NotSent(f"{type(exc).__name__}: {exc}") from None

    def abandon(self) -> None:
        """Never complete the request (the connection goes, and the partial request with it)."""
        self._last = None
        self.close()

    def response(self) -> tuple[int, bytes]:
        """The answer's HTTP status and body. Raises NoAnswer."""
        try:
            res = self.conn.getresponse()
            body = res.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise NoAnswer(f"{type(exc).__name__}: {exc}") from None
        if res.will_close:
            self.close()
        return res.status, body

    def close(self) -> None:
        self.conn.close()


def _proxy_for(url: str):
    """The proxy the environment names for `url` (HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as
    `requests` reads them: offices often reach the internet only through one), or None."""
    import urllib.request

    parts = urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    proxy = urllib.request.getproxies().get(parts.scheme)
    return urlsplit(proxy if "://" in proxy else "http://" + proxy) if proxy else None


def _dropped(sock) -> bool:
    """An idle keep-alive connection that is readable has been closed by the server (or sent
    something unasked for): either way it cannot carry a request."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
