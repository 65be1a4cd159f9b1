"""Fixed-window counters (限流), shared by every worker: in Redis when configured, else in the
database (`rate_counters`), so that two gunicorn workers or two servers count together.

Used where one request costs real work on someone else's behalf (a query-code check is a
PBKDF2, ~13 ms of CPU) or where guessing must be slow (query codes, logins).

Counter names never carry what they count in the clear: a name is a keyed hash of the key
(an openid's blind index or a tracking number stays unreadable in Redis or the table), and
windows are aligned to the clock (an hour's window ends on the hour), so a counter's expiry
tells nothing about when it was first used.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import time
from datetime import datetime, timezone

import sqlalchemy as sa

log = logging.getLogger(__name__)

_BUMP = sa.text(
    "INSERT INTO rate_counters (name, window_end, count) VALUES (:name, :window_end, 1) "
    "ON CONFLICT (name) DO UPDATE SET count = CASE WHEN rate_counters.window_end = excluded.window_end "
    "THEN rate_counters.count + 1 ELSE 1 END, window_end = excluded.window_end RETURNING count")


class RateLimiter:
    def __init__(self, secret: bytes, engine: sa.Engine, redis=None, clock=time.time):
        self._secret = secret
        self.engine = engine
        self.redis = redis
        self.clock = clock

    def name(self, key: str) -> str:
        return hmac.new(self._secret, key.encode(), "sha256").hexdigest()[:40]

    def allow(self, key: str, limit: int, window_s: int, session=None) -> bool:
        """Count one use of `key`; False once it was used more than `limit` times in this window.
        Without Redis the count is written in `session`'s transaction when one is given (a request
        that already writes must not wait on itself), else in one of its own."""
        now = self.clock()
        window_end = int(now // window_s + 1) * window_s
        name = self.name(key)
        if self.redis is not None:
            from redis import RedisError

            redis_name = f"mashang:rate:{name}"
            try:
                pipe = self.redis.pipeline()
                pipe.incr(redis_name)
                pipe.expireat(redis_name, window_end)
                used, _ = pipe.execute()
                return used <= limit
            except RedisError:
                log.warning("rate limit store unavailable; counting in the database")
        params = {"name": name, "window_end": datetime.fromtimestamp(window_end, timezone.utc).replace(tzinfo=None)}
        if session is not None:
            return session.execute(_BUMP, params).scalar_one() <= limit
        with self.engine.begin() as conn:
            used = conn.execute(_BUMP, params).scalar_one()
        return used <= limit

    def purge(self) -> int:
        """Drop the database's finished windows (a periodic job)."""
        now = datetime.fromtimestamp(self.clock(), timezone.utc).replace(tzinfo=None)
        with self.engine.begin() as conn:
            return conn.execute(sa.text("DELETE FROM rate_counters WHERE window_end <= :now"), {"now": now}).rowcount


def limiter_secret(secret_key: str) -> bytes:
    return hmac.digest(hashlib.sha256(secret_key.encode()).digest(), b"rate-limit-names", "sha256")


def purge_rate_counters() -> int:
    """Periodic: finished windows of the database's counters go."""
    from core.app import limiter

    return limiter().purge()
