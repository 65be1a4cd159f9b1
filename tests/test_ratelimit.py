"""The rate limiter: per process without Redis, shared through Redis with it."""
from __future__ import annotations

import os

import pytest

from core.ratelimit import RateLimiter


def test_a_window_counts_then_resets():
    now = [1000.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.allow("k", 3, 60) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("other", 3, 60)  # keys are counted apart
    now[0] += 60
    assert limiter.allow("k", 3, 60)  # a new window


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_workers_share_the_count_through_redis():
    from redis import Redis

    redis = Redis.from_url(os.environ["TEST_REDIS_URL"])
    redis.delete("mashang:rate:shared")
    a, b = RateLimiter(redis), RateLimiter(redis)
    assert a.allow("shared", 2, 60) and b.allow("shared", 2, 60) and not a.allow("shared", 2, 60)
    assert 0 < redis.ttl("mashang:rate:shared") <= 60
    redis.delete("mashang:rate:shared")
