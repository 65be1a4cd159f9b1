"""The rate limiter: shared by every worker, through Redis or (without it) the database; counter
names keyed hashes, windows aligned to the clock."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.models import RateCounter
from core.ratelimit import RateLimiter, limiter_secret


def _pair(app, redis=None, now=None):
    """Two limiters as two workers (or two servers) have them."""
    engine = app.extensions["db"].engine
    clock = (lambda: now[0]) if now else None
    make = (lambda: RateLimiter(b"k" * 32, engine, redis, clock)) if clock else (lambda: RateLimiter(b"k" * 32, engine, redis))
    return make(), make()


def test_workers_share_the_count_through_the_database(app, db):
    now = [3600.0 * 1000 + 10]
    a, b = _pair(app, now=now)
    assert [a.allow("k", 3, 3600), b.allow("k", 3, 3600), a.allow("k", 3, 3600), b.allow("k", 3, 3600)] == [
        True, True, True, False]
    assert a.allow("other", 3, 3600)  # keys are counted apart
    names = set(db.scalars(sa.select(RateCounter.name)))
    assert names == {a.name("k"), a.name("other")} and not any("k" == n or "other" in n for n in names)
    now[0] += 3580  # still this hour: the window ends on the hour, whenever it began
    assert not a.allow("k", 3, 3600)
    now[0] += 20
    assert a.allow("k", 3, 3600)  # a new window
    now[0] += 3600
    assert a.purge() == 2


def test_a_count_inside_a_request_uses_its_transaction(app, db):
    a, _ = _pair(app)
    db.execute(sa.text("SELECT 1"))
    assert a.allow("in-request", 1, 60, db) and not a.allow("in-request", 1, 60, db)
    db.rollback()  # the request failed: its counts go with it
    assert a.allow("in-request", 1, 60)


@pytest.mark.needs_redis
def test_workers_share_the_count_through_redis(app):
    redis = app.extensions["jobs"].redis
    a, b = _pair(app, redis)
    name = f"mashang:rate:{a.name('shared')}"
    redis.delete(name)
    assert a.allow("shared", 2, 60) and b.allow("shared", 2, 60) and not a.allow("shared", 2, 60)
    assert 0 < redis.ttl(name) <= 60
    assert redis.get(f"mashang:rate:{a.name('shared')}") is not None and redis.keys("*shared*") == []


def test_names_depend_on_the_secret():
    engine = sa.create_engine("sqlite://")
    a, b = RateLimiter(limiter_secret("one"), engine), RateLimiter(limiter_secret("two"), engine)
    assert a.name("query-case:XC1") != b.name("query-case:XC1") and len(a.name("x")) == 40
