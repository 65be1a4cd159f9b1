"""Tests that need a service (pytest plugin, loaded by conftest).

`@pytest.mark.needs_redis` / `@pytest.mark.needs_postgres`: skipped, with the reason, when
TEST_REDIS_URL / TEST_DATABASE_URL is unset (the SQLite pass). In the pass that sets it, such a
test must run: a skip becomes a failure, and so does any other skip whose reason names that
service (a fixture that could not reach it, a check that found jobs in-process), so that a
pass on the real services cannot go green by skipping them.
"""
from __future__ import annotations

import os

import pytest

SERVICES = {  # marker: (environment variable, the service's name in a skip reason)
    "needs_redis": ("TEST_REDIS_URL", "redis"),
    "needs_postgres": ("TEST_DATABASE_URL", "postgres"),
}


def pytest_configure(config):
    for marker, (var, _) in SERVICES.items():
        config.addinivalue_line("markers", f"{marker}: skipped without {var}; must run (never skip) with it")


def pytest_collection_modifyitems(items):
    for item in items:
        for marker, (var, _) in SERVICES.items():
            if item.get_closest_marker(marker) is not None and not os.environ.get(var):
                item.add_marker(pytest.mark.skip(reason=f"needs {var}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    for marker, (var, word) in SERVICES.items():
        if os.environ.get(var) and (item.get_closest_marker(marker) is not None or word in reason.lower()):
            report.outcome = "failed"
            report.longrepr = f"skipped although {var} is set (this pass has the service): {reason}"
            return
