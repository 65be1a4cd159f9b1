"""What the benchmarks share: a deployment's environment made per run, a fresh PostgreSQL
database, a private Redis server (never the machine's 6379, which CI and others use), commands,
and the product served by gunicorn in its own process group."""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
FLASK = [str(ROOT / ".venv/bin/flask"), "--app", "wsgi"]
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def production_env(instance: str, token: str | None = None, appid: str | None = None, aes: str | None = None,
                   identity_key: str | None = None, **more: str) -> dict[str, str]:
    """APP_ENV=production with secrets made for this run (a deployment refuses weak or sample
    values); WeChat's API is a closed port: nothing leaves the machine."""
    return {**os.environ, "APP_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(32),
            "IDENTITY_KEY": identity_key or secrets.token_urlsafe(32), "WECHAT_TOKEN": token or secrets.token_hex(16),
            "WECHAT_APPID": appid or "wx" + secrets.token_hex(8), "WECHAT_SECRET": secrets.token_hex(16),
            "WECHAT_AES_KEY": aes or aes_key(), "INSTANCE_PATH": instance, "WECHAT_API_BASE": "http://127.0.0.1:9/",
            "PUBLIC_URL": "https://xuncha.example.gov.cn", "WECHAT_TEMPLATE_ID": "bench-case-update", **more}


def aes_key() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


def sh(*args: str, env: dict | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, input=stdin)
    if done.returncode:
        raise SystemExit(f"{' '.join(args[-3:])} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return done.stdout


def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def fresh_database(admin_url: str, name: str) -> str:
    if name in ("test", "postgres", "root"):
        raise SystemExit(f"the benchmark drops its database: {name!r} is not its own")
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return database_url(admin_url, name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def private_redis() -> tuple[str, subprocess.Popen]:
    """A redis-server of the run's own on a free port, keeping nothing on disk; stop() it after."""
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is needed (or pass --redis URL of a server of your own)")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", tempfile.gettempdir()], stdout=subprocess.DEVNULL, start_new_session=True)
    import redis

    for _ in range(100):
        try:
            redis.Redis(port=port).ping()
            return f"redis://127.0.0.1:{port}/0", proc
        except redis.ConnectionError:
            time.sleep(0.05)
    stop(proc)
    raise SystemExit("redis-server did not start")


@contextmanager
def bench_redis(url: str | None) -> Iterator[str]:
    """The Redis a benchmark runs on: `url` (a server of your own; that database is flushed
    first), else a private redis-server for the run, stopped after it."""
    if url is not None:
        import redis

        redis.Redis.from_url(url).flushdb()
        yield url
        return
    url, proc = private_redis()
    try:
        yield url
    finally:
        stop(proc)


def serve(app: str, port: int, env: dict, workers: int, threads: int, probe: str = "/healthz") -> subprocess.Popen:
    """gunicorn serving `app`, once it answers `probe` (any status)."""
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "--workers", str(workers), "--threads", str(threads),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app],
        cwd=ROOT, env=env, start_new_session=True)
    for _ in range(200):
        try:
            requests.get(f"http://127.0.0.1:{port}{probe}", timeout=0.5)
            return proc
        except requests.RequestException:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn {app} exited")
            time.sleep(0.1)
    stop(proc)
    raise SystemExit(f"{app} did not start on port {port}")


def stop(proc: subprocess.Popen) -> None:
    """The process and its children (it runs in its own session)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
