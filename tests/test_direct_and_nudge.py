"""The webhook's hot path below the bot: the direct PostgreSQL connections (`core.direct`) and the
debounced media nudge (`core.jobs.Jobs.nudge`)."""
from __future__ import annotations

import time
from datetime import datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from core.direct import _numbered
from core.jobs import NUDGE_WINDOW, Jobs
from tests.conftest import redis_url


def test_psycopg_parameters_become_numbered_and_a_repeated_name_is_one():
    assert _numbered("SELECT %(a)s, %(b)s, %(a)s WHERE x LIKE 'a%%'") == ("SELECT $1, $2, $1 WHERE x LIKE 'a%'",
                                                                          ("a", "b"))
    assert _numbered("SELECT 1") == ("SELECT 1", ())


@pytest.mark.needs_postgres
def test_direct_statements_take_any_parameter_types_and_name_their_columns(app):
    """A statement run first with NULL, then with a timestamp, in a place where PostgreSQL must be
    told the type (a SELECT list): each set of types is prepared on its own."""
    db = app.extensions["db"]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (TEST_DATABASE_URL)")
    stmt = sa.text("SELECT :at AS at, :n AS n, :b AS b, :s AS s")
    assert db.autocommit_row(stmt, {"at": None, "n": None, "b": None, "s": None}) == (None, None, None, None)
    row = db.autocommit_row(stmt, {"at": datetime(2026, 12, 2, 9), "n": 7, "b": b"\x00\xff", "s": "巡察"})
    assert (row.at, row.n, row.b, row.s) == (datetime(2026, 12, 2, 9), 7, b"\x00\xff", "巡察")
    assert db.autocommit_row(sa.text("SELECT g FROM generate_series(:a, 3) g"), {"a": 2}) == (2,)  # the first row
    assert db.autocommit_row(sa.text("SELECT 1 WHERE false"), {}) is None


@pytest.mark.needs_postgres
def test_a_failing_direct_statement_raises_and_leaves_its_connection_usable(app):
    db = app.extensions["db"]
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (TEST_DATABASE_URL)")
    with pytest.raises(sa.exc.DBAPIError) as caught:
        db.autocommit_row(sa.text("SELECT 1 / :zero"), {"zero": 0})
    assert "division by zero" in str(caught.value.orig) and not caught.value.connection_invalidated
    assert db.autocommit_row(sa.text("SELECT 1 + :one AS two"), {"one": 1}).two == 2


def _queued() -> None:
    """A job for the nudge test (RQ records its import path; nothing runs it)."""


@pytest.mark.needs_redis
def test_a_nudge_inside_the_window_is_carried_by_one_when_the_window_ends(redis_db):
    jobs = Jobs(None, SimpleNamespace(job_retry_intervals=(1,), redis_url=redis_url(15)))
    jobs.nudge(_queued, "media")
    assert jobs.queue.count == 1  # the first nudge queues the run at once
    jobs.started("media")  # the run starts and reads; what is committed next needs a new run
    jobs.nudge(_queued, "media")
    jobs.nudge(_queued, "media")
    assert jobs.queue.count == 1  # inside the window: no Redis call, one nudge owed
    deadline = time.monotonic() + 10
    while jobs.queue.count < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.queue.count == 2  # the owed nudge, made when the window ended
    time.sleep(NUDGE_WINDOW + 0.1)
    jobs.nudge(_queued, "media")
    assert jobs.queue.count == 2  # a run is queued and not started: a nudge adds nothing
