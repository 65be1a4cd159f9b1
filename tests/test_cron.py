"""`flask jobs cron` without Redis: the loop run.sh starts."""
from __future__ import annotations

import time


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
