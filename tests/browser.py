"""A real browser on the real server: the app served by werkzeug from a thread on a free
loopback port, and Debian's Chromium driven by playwright (never `playwright install`).
Used by the browser tests (tests/test_browser_*.py, through the fixtures below, a pytest plugin
of tests/conftest.py) and the docs' screenshots (scripts/screenshots.py)."""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.services import CHROMIUM

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
SCREENS = {"laptop": LAPTOP, "phone": PHONE}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # no access log in the tests' output
        pass


def serve(app) -> tuple[str, Callable[[], None]]:
    """Serve `app` on 127.0.0.1 and a free port; returns its base URL and a stop function."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server",
                              daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.server_port}", stop


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])


def new_page(browser, viewport: dict, base_url: str):
    """A fresh browser context (its own cookies) of the viewport's size; phones get touch."""
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, base_url=base_url, locale="zh-CN", is_mobile=phone,
                                  has_touch=phone, device_scale_factor=2 if phone else 1)
    return context.new_page()


def log_in(page, login: str, password: str) -> None:
    """Through the login form, as a person would."""
    page.goto("/admin/login")
    page.get_by_label("账号").fill(login)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/admin/")


# ── fixtures ────────────────────────────────────────────────────────────────────────────────

@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    base, stop = serve(app)
    yield base
    stop()


@pytest.fixture(params=list(SCREENS))
def screen(request):
    """Each test of it runs on a laptop and on a phone."""
    return request.param


@pytest.fixture
def page_for(chromium, live_server):
    """`page_for(login, screen)`: a fresh browser context, logged in through the form."""
    from tests.desk import PASSWORD

    pages = []

    def make(login: str, screen: str):
        page = new_page(chromium, SCREENS[screen], live_server)
        pages.append(page)
        log_in(page, login, PASSWORD)
        return page

    yield make
    for page in pages:
        page.context.close()
