"""Tests that need a service (pytest plugin, loaded by conftest).

`@pytest.mark.needs_redis` / `@pytest.mark.needs_postgres`: skipped, with the reason, when
TEST_REDIS_URL / TEST_DATABASE_URL is unset (the SQLite pass). In the pass that sets it, such a
test must run: a skip becomes a failure, and so does any other skip whose reason names that
service (a fixture that could not reach it, a check that found jobs in-process), so that a
pass on the real services cannot go green by skipping them.

`@pytest.mark.needs_browser`: skipped, with the reason, when Debian's Chromium or the
`playwright` package is missing (scripts/browser-setup.sh installs the one, requirements.txt
pins the other); in CI (CI=true) such a skip, or any skip whose reason names chromium or
playwright, is a failure.
"""
from __future__ import annotations

import os

import pytest

SERVICES = {  # marker: (environment variable, the service's name in a skip reason)
    "needs_redis": ("TEST_REDIS_URL", "redis"),
    "needs_postgres": ("TEST_DATABASE_URL", "postgres"),
}


CHROMIUM = "/usr/bin/chromium"


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"needs chromium at {CHROMIUM} (scripts/browser-setup.sh, as root)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright package (scripts/setup.sh)"
    return None


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def pytest_configure(config):
    for marker, (var, _) in SERVICES.items():
        config.addinivalue_line("markers", f"{marker}: skipped without {var}; must run (never skip) with it")
    config.addinivalue_line("markers", "needs_browser: skipped without Chromium and playwright; never skips in CI")


def pytest_collection_modifyitems(items):
    browser = None
    for item in items:
        for marker, (var, _) in SERVICES.items():
            if item.get_closest_marker(marker) is not None and not os.environ.get(var):
                item.add_marker(pytest.mark.skip(reason=f"needs {var}"))
        if item.get_closest_marker("needs_browser") is not None:
            browser = browser or browser_missing() or ""
            if browser:
                item.add_marker(pytest.mark.skip(reason=browser))


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
    if in_ci() and (item.get_closest_marker("needs_browser") is not None
                    or "chromium" in reason.lower() or "playwright" in reason.lower()):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI (CI=true: the browser tests must run): {reason}"
