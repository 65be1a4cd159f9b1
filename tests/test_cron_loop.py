"""The periodic jobs without Redis: `flask jobs cron`'s loop in this process, as run.sh starts it."""
from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.cli import run_periodic


def test_jobs_run_when_due_and_a_failing_one_does_not_stop_the_others(capsys):
    now = [datetime(2026, 12, 2, 10, 0, 30).timestamp()]  # local time, as cron fields are
    runs: list[tuple[str, str]] = []
    slept: list[float] = []

    def at() -> str:
        return datetime.fromtimestamp(now[0]).strftime("%H:%M:%S")

    def every_five():
        runs.append(("every_five", at()))
        return "ok"

    def flaky():
        runs.append(("flaky", at()))
        raise RuntimeError("WeChat busy")

    def hourly():
        runs.append(("hourly", at()))
        return {"cleared": 0}

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    run_periodic([(every_five, "*/5 * * * *", None), (flaky, "*/10 * * * *", None), (hourly, "17 * * * *", None)],
                 clock=lambda: now[0], sleep=sleep, until=lambda: len(runs) >= 19)  # 10:00:30 to 11:00
    assert [t for name, t in runs if name == "every_five"] == [f"{10 + m // 60}:{m % 60:02d}:00"
                                                               for m in range(5, 61, 5)]
    assert [t for name, t in runs if name == "flaky"] == [f"{10 + m // 60}:{m % 60:02d}:00" for m in range(10, 61, 10)]
    assert [t for name, t in runs if name == "hourly"] == ["10:17:00"]
    assert runs[runs.index(("flaky", "10:10:00")) + 1] == ("every_five", "10:15:00")  # the failure is not the end
    assert min(slept) >= 0 and abs(sum(slept) - (3600 - 30)) < 1e-6  # it waited for each, never ran early
    out = capsys.readouterr()
    assert out.err.count("flaky failed: WeChat busy") == 6
    assert out.out.count("every_five: ok") == 12 and "hourly: {'cleared': 0}" in out.out


class Stop(Exception):
    pass


def test_flask_jobs_cron_runs_the_schedule_in_this_process(app, db, monkeypatch):
    """run.sh's `flask jobs cron` (no REDIS_URL): the periodic jobs the features registered, the
    next hour of them (the waits skipped); a routing job lost at submission is queued again and
    the case routed."""
    from core.db import utcnow
    from core.models import Case

    lost = Case(channel="visit", text="白沙村的路灯坏了三个月", summary="x", status="received",
                created_at=utcnow() - timedelta(minutes=30))
    db.add(lost)
    db.commit()

    waits = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if seconds > 3600 or len(waits) > 100:  # the next job is due more than an hour from the start
            raise Stop

    jobs = app.extensions["jobs"]
    monkeypatch.setattr(jobs, "queue", None)  # the loop and in-process jobs, also on a TEST_REDIS_URL run
    start = time.time()
    monkeypatch.setattr(time, "time", lambda: start)  # each wait counted from the start
    monkeypatch.setattr(time, "sleep", sleep)
    result = app.test_cli_runner().invoke(args=["jobs", "cron"])
    assert isinstance(result.exception, Stop), result.output
    out = result.output
    assert all(f"{func.__name__} (" in out.splitlines()[0] for func, _, _ in jobs.periodic), out
    counts = {name: len(re.findall(rf"^{name}: ", out, re.M)) for name in
              ("requeue_pending_media", "purge_pushes", "requeue_unrouted", "sweep_drafts")}
    assert counts == {"requeue_pending_media": 12, "purge_pushes": 12, "requeue_unrouted": 6, "sweep_drafts": 2}, out
    assert "requeue_unrouted: 1" in out and "failed" not in out, out
    monkeypatch.undo()
    jobs.wait(timeout=30)
    db.expire_all()
    assert db.scalar(sa.select(Case.routed_at).where(Case.id == lost.id)) is not None


class Stop(Exception):
    pass


def test_the_loop_reads_cron_fields_as_local_time(app, monkeypatch):
    """A machine set to Beijing time (TZ=Asia/Shanghai): the five-minute jobs come within five
    minutes, not eight hours late."""
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        raise Stop  # the first wait is all this test needs

    monkeypatch.setattr(app.extensions["jobs"], "queue", None)  # the loop, also on a TEST_REDIS_URL run
    monkeypatch.setattr(time, "sleep", sleep)
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        result = app.test_cli_runner().invoke(args=["jobs", "cron"])
    finally:
        monkeypatch.undo()  # the machine's zone (and sleep) back
        time.tzset()
    assert isinstance(result.exception, Stop), result.output
    assert 0 <= slept[0] <= 300
