"""Fixed-window counters (限流): Redis when configured, shared by every worker; else per process.

Used where one request costs real work on someone else's behalf, e.g. a query-code check
(PBKDF2, ~13 ms of CPU): a flood of guesses must not take the webhook's CPU.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, redis=None, clock=time.monotonic):
        self.redis = redis
        self.clock = clock
        self._local: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, window_s: int) -> bool:
        """Count one use of `key`; False once it was used more than `limit` times in the window."""
        if self.redis is not None:
            from redis import RedisError

            name = f"mashang:rate:{key}"
            try:
                used = self.redis.incr(name)
                if used == 1:
                    self.redis.expire(name, window_s)
                return used <= limit
            except RedisError:
                log.warning("rate limit store unavailable; counting in this process")
        now = self.clock()
        with self._lock:
            start, used = self._local.get(key, (now, 0))
            if now - start >= window_s:
                start, used = now, 0
            self._local[key] = (start, used + 1)
            if len(self._local) > 10_000:  # forget finished windows now and then
                self._local = {k: v for k, v in self._local.items() if now - v[0] < window_s}
            return used + 1 <= limit
