"""Fixtures: settings → app (fresh database, demo deployment) → a WeChat user talking to /wechat.

Dates: the demo's round is placed around the day it is loaded (today), so the suite passes on
any date. A test that needs a particular date (a round's edges, Beijing midnight) gives the round
literal dates (`round_dates`) and pins the clock (`clock`).

Environment: TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test) runs the suite
on PostgreSQL, tables truncated per test; TEST_REDIS_URL runs jobs through RQ on Redis (a
database number of its own, flushed per test). Unset: a SQLite file per test, jobs in-process.
Tests that need one of them are marked `needs_redis` / `needs_postgres` (tests/services.py):
skipped without it, never skipped with it.
"""
from __future__ import annotations

import itertools
import os
import shutil
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

import core.db
from admin.deploy import load_deployment
from bot import simulator as sim
from product import create_app
from core.db import Base
from core.models import Round
from core.settings import Settings
from fakewechat.server import create_fake_app, run_in_thread
from core import clock as beijing

pytest_plugins = ["tests.services", "tests.browser"]

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "deploy" / "demo.yaml"
DEMO_ROUND = "十三届县委第九轮巡察"
TOKEN, APPID, SECRET = "testtoken", "wxtestappid00001", "testsecret"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def _migrate(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "head")


@pytest.fixture(scope="session")
def fake_wechat():
    """The fake WeChat API on loopback, shared by the session (reset per test)."""
    app = create_fake_app(APPID, SECRET)
    base, shutdown = run_in_thread(app)
    yield base
    shutdown()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """SQLite: migrate once, copy the file per test. PostgreSQL: migrate the test database once."""
    pg = os.environ.get("TEST_DATABASE_URL")
    if pg:
        # A database of this run's own on that server, so that two runs never meet.
        server = Settings.from_env({"DATABASE_URL": pg}, instance_path=tmp_path_factory.mktemp("pg")).database_url
        name = f"mashang_test_{os.getpid()}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
        url = server.rsplit("/", 1)[0] + f"/{name}"
        _migrate(url)
        yield url
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    yield path


_redis_db = itertools.count(1)


def redis_url(db: int) -> str | None:
    """TEST_REDIS_URL with database number `db` (replacing the URL's own); None when unset."""
    url = os.environ.get("TEST_REDIS_URL", "").rstrip("/")
    if not url:
        return None
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{db}"


@pytest.fixture
def test_env(tmp_path, migrated_template, fake_wechat, request) -> dict[str, str]:
    """The environment of this test's deployment (also handed to real RQ worker processes)."""
    env = {"INSTANCE_PATH": str(tmp_path), "APP_ENV": "testing", "SECRET_KEY": "s" * 32, "IDENTITY_KEY": "identity-key-for-tests",
           "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET, "WECHAT_API_BASE": fake_wechat}
    marker = request.node.get_closest_marker("aes")
    if marker is not None:
        env["WECHAT_AES_KEY"] = AES_KEY
    if isinstance(migrated_template, Path):
        shutil.copy(migrated_template, tmp_path / "mashang.db")
    else:
        env["DATABASE_URL"] = migrated_template
    if os.environ.get("TEST_REDIS_URL"):
        env["REDIS_URL"] = redis_url(1 + next(_redis_db) % 14)
    return env


@pytest.fixture
def redis_db():
    """A client on TEST_REDIS_URL's server, database 15 (the apps' tests use 1-14), flushed."""
    from redis import Redis

    url = redis_url(15)
    if url is None:
        pytest.skip("needs TEST_REDIS_URL")
    client = Redis.from_url(url, socket_connect_timeout=1)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def settings(test_env, tmp_path):
    return Settings.from_env(test_env, instance_path=tmp_path, testing=True, job_retry_intervals=(0, 0))


@pytest.fixture
def run_jobs(app, test_env):
    """Run what the request queued: in-process, wait for the thread; on Redis, a real RQ worker
    process (`flask jobs worker --burst`) with this test's environment."""
    import subprocess
    import sys

    def run() -> None:
        jobs = app.extensions["jobs"]
        if jobs.in_process:
            jobs.wait(timeout=30)
            return
        env = {**os.environ, **test_env, "JOB_RETRY_INTERVALS": "0,0"}
        # umask 022: as a shell or systemd starts a worker, not with this process's (the app factory's 077).
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "worker", "--burst"],
                       cwd=ROOT, env=env, check=True, timeout=120, capture_output=True, umask=0o022)

    return run


@pytest.fixture
def app(settings, fake_wechat):
    import requests

    requests.post(f"{fake_wechat}/_fake/reset", timeout=5)
    app = create_app(settings)
    app.extensions["limiter"].clock = fresh_windows_clock()
    db = app.extensions["db"]
    if settings.database_url.startswith("postgresql"):
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    jobs = app.extensions["jobs"]
    if jobs.redis is not None:
        jobs.redis.flushdb()
    with db.session() as s:
        load_deployment(s, yaml.safe_load(DEMO.read_text(encoding="utf-8")))
        s.commit()
    yield app
    jobs.wait(timeout=30)
    db.dispose()


def fresh_windows_clock():
    """The rate limiter's clock in tests: the wall clock moved on to 1 s past the next hour. Its
    windows are aligned to the clock and all divide the hour, so every window has just begun when
    a test starts: a test counting up to a limit at hh:59:59 would otherwise see its window end
    before the limit and get 200 where it waits for 429. Moved forward, not back, so that Redis's
    expiry of a counter (EXPIREAT the window's end) is never in the past."""
    shift = 3600 - time.time() % 3600 + 1
    return lambda: time.time() + shift


class Clock:
    """The product's clock in this process, once pinned: `core.db.utcnow` (and with it the Beijing
    today, a round's state, the tracking number's date, the age of drafts and dedupe rows) starts
    at the pinned instant and runs on from there. Unpinned, it is the wall clock."""

    def __init__(self, wall: type[datetime]):
        self._wall = wall
        self._pinned: tuple[datetime, float] | None = None

    def pin(self, when: str) -> None:
        """`when` in ISO form, Beijing time unless it names its zone: "2026-11-01 00:30" (Beijing),
        "2026-10-31 16:30Z" (the same instant in UTC)."""
        at = datetime.fromisoformat(when)
        at = at.replace(tzinfo=beijing.BEIJING) if at.tzinfo is None else at
        self._pinned = (at.astimezone(timezone.utc), time.monotonic())
        # The product reads the time through core.db.utcnow; should that change, fail here.
        assert abs((core.db.utcnow() - at.astimezone(timezone.utc).replace(tzinfo=None)).total_seconds()) < 5

    def now(self, tz=None) -> datetime:
        if self._pinned is None:
            return self._wall.now(tz)
        at, since = self._pinned
        at += timedelta(seconds=time.monotonic() - since)
        return at.astimezone(tz) if tz is not None else at.astimezone().replace(tzinfo=None)


@pytest.fixture
def clock(app):
    """Pin the clock of this test's process (`clock.pin("2027-02-01 10:00")`, Beijing time).
    A real RQ worker process (TEST_REDIS_URL) keeps the wall clock: a test on a pinned date runs
    its jobs here (`with app.app_context(): route_case(...)`)."""
    module = sys.modules[core.db.utcnow.__module__]  # where utcnow reads `datetime.now`
    wall = module.datetime
    pinned = Clock(wall)

    class PinnedDatetime(wall):
        @classmethod
        def now(cls, tz=None):
            return pinned.now(tz)

    module.datetime = PinnedDatetime
    try:
        yield pinned
        app.extensions["jobs"].wait(timeout=30)  # jobs started on the pinned date finish on it
    finally:
        module.datetime = wall


@pytest.fixture
def round_dates(db):
    """Give the demo round literal dates (the demo file places it around today), for tests of a
    round's edges: `round_dates("2026-11-01", "2026-12-31")`."""
    def set_dates(start: str, end: str) -> None:
        db.execute(sa.update(Round).where(Round.name == DEMO_ROUND)
                   .values(start=date.fromisoformat(start), end=date.fromisoformat(end)))
        db.commit()
    return set_dates


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    with app.extensions["db"].session() as s:
        yield s


class Citizen:
    """A WeChat user talking to the real webhook with signed (and, in AES mode, encrypted) pushes."""

    _ids = itertools.count(6_000_000_000)

    def __init__(self, client, settings: Settings, openid: str):
        self.client, self.openid = client, openid
        self.pusher = sim.WeChatPusher(settings.wechat_token, settings.wechat_appid, settings.wechat_aes_key)
        self.last_response = None

    def push(self, xml: str, **sign):
        query, body = self.pusher.push(xml, **sign)
        self.last_response = self.client.post(f"/wechat?{query}", data=body, content_type="text/xml")
        return self.last_response

    def send(self, xml: str) -> str | None:
        r = self.push(xml)
        assert r.status_code == 200, r.get_data(as_text=True)
        return self.pusher.read_reply(r.data).get("Content")

    def say(self, content: str) -> str | None:
        return self.send(sim.text(self.openid, content, next(self._ids)))

    def scan(self, scene: str, first_time: bool = True) -> str | None:
        return self.send(sim.scan(self.openid, scene, first_time))

    def voice(self, media_id: str, recognition: str | None) -> str | None:
        return self.send(sim.voice(self.openid, media_id, recognition, next(self._ids)))

    def image(self, media_id: str) -> str | None:
        return self.send(sim.image(self.openid, media_id, next(self._ids)))

    def location(self, lat: float, lng: float, label: str) -> str | None:
        return self.send(sim.location(self.openid, lat, lng, label, next(self._ids)))


@pytest.fixture
def draft_of(app, db):
    """The citizen's unsubmitted draft as the product derives it (None: none)."""
    from intake.drafts import open_draft

    def read(citizen):
        db.expire_all()
        vault = app.extensions["vault"]
        return open_draft(db, vault, vault.openid_hash(citizen.openid))

    return read


@pytest.fixture
def age_pieces(db):
    """Move every draft piece (and the conversations' last-seen hour) back in time."""
    from datetime import timedelta

    from core.db import utcnow
    from core.models import Conversation, Push

    def age(hours: float, conversations: bool = False) -> None:
        back = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)
        db.execute(sa.update(Push).where(Push.conversation.is_not(None)).values(at=back))
        if conversations:
            db.execute(sa.update(Conversation).values(last_inbound_at=back))
        db.commit()

    return age


@pytest.fixture
def citizen(client, settings):
    return Citizen(client, settings, "oCITIZEN0000000000000000001")


@pytest.fixture
def make_citizen(client, settings):
    return lambda openid: Citizen(client, settings, openid)


def pytest_configure(config):
    config.addinivalue_line("markers", "aes: run the test with the account in AES safe mode")
