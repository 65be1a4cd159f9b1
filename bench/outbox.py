"""Outbox benchmark: N messages through the fake WeChat API by two RQ workers, one of them
killed half-way, each message checked to have arrived exactly once.

    .venv/bin/python bench/outbox.py [--messages 100000] [--redis redis://127.0.0.1:6379]
        [--database postgresql://postgres@127.0.0.1:5432/postgres] [--template-share 0.2]

1. A fresh PostgreSQL database (`mashang_outbox_bench`, migrated) with N/4 reporters (openids
   encrypted as the product keeps them), most of whom wrote within 48 hours (their conversation's
   hour, and the fake told too) and `--template-share` of whom did not; N outbox rows, four per
   reporter, interleaved, each text naming its row ("bench #<id>").
2. The fake WeChat API (its own process, under gunicorn), the product's webhook (gunicorn, in
   safe (AES) mode as deployed, for the template receipts the fake pushes back), and two `flask jobs worker` processes on the given Redis
   (a database number of its own, flushed); the lease is 10 s, the receipt window 20 s.
3. Two delivery jobs are queued and the clock starts; the cron's `reap` runs every 2 s (the
   product runs it every minute). When half the messages are sent, one worker and its work
   horse are killed with SIGKILL. The clock stops when no message is waiting or in flight.
4. The fake's record of every delivered message is counted per row: lost = rows that never
   arrived, doubled = rows that arrived more than once. Rows left `unknown` (a text whose
   answer the dead worker never read) are reported: each arrived once or not at all.

Last line:

    RESULT messages=<n> per_s=<r> lost=<n> doubled=<n>
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import bench_redis  # noqa: E402
from tests.workers import kill_worker, start_worker, stop_worker  # noqa: E402

DB_NAME = "mashang_outbox_bench"
APPID, SECRET, TOKEN = "wxbench0000000001", "benchsecret", "benchtoken"
AES = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # safe mode, as a deployment runs (a 43-character key)
PER_REPORTER = 4  # WeChat allows 5 customer-service messages per window


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--redis", default=os.environ.get("BENCH_REDIS"),
                    help="a Redis of your own, its database 13 used and flushed (default: a private redis-server)")
    ap.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--template-share", type=float, default=0.2,
                    help="share of reporters outside the 48-hour window (template messages)")
    ap.add_argument("--ports", default="5191,5192", help="the fake WeChat API's and the webhook's")
    args = ap.parse_args()
    own = args.redis and (args.redis.rstrip("/").rsplit("/", 1)[0] if args.redis.count("/") > 2 else args.redis)
    with bench_redis(own + "/13" if own else None) as redis_url:
        result = _bench(args, redis_url)
    print(f"RESULT messages={args.messages} per_s={result['per_s']:.0f} lost={result['lost']} "
          f"doubled={result['doubled']}", flush=True)


def _bench(args, redis_url: str) -> dict:
    fake_port, web_port = (int(p) for p in args.ports.split(","))
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"outbox-bench-{os.getpid()}"
    work.mkdir(parents=True)
    url = _database(args.database)
    fake = f"http://127.0.0.1:{fake_port}"
    env = {"APP_ENV": "testing", "INSTANCE_PATH": str(work), "DATABASE_URL": url, "REDIS_URL": redis_url,
           "SECRET_KEY": secrets.token_urlsafe(32), "IDENTITY_KEY": secrets.token_urlsafe(32),
           "WECHAT_TOKEN": TOKEN, "WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET, "WECHAT_API_BASE": fake,
           "OUTBOX_LEASE_SECONDS": "10", "OUTBOX_RECEIPT_SECONDS": "20", "JOB_RETRY_INTERVALS": "1,2,5",
           "PUSH_MAX_AGE": "3600", "WECHAT_AES_KEY": AES}
    os.environ.update(env)
    procs = []
    try:
        # The fake under gunicorn (one process: its state is in memory; threads): werkzeug's
        # development server alone answers ~300 calls/s on this machine.
        procs.append(subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--workers", "1", "--threads", "16",
                                       "--bind", f"127.0.0.1:{fake_port}",
                                       f'fakewechat.server:create_fake_app("{APPID}", "{SECRET}")'], cwd=ROOT,
                                      stdout=open(work / "fake.log", "wb"), stderr=subprocess.STDOUT))
        procs.append(subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "--workers", "1", "--threads", "4",
                                       "--bind", f"127.0.0.1:{web_port}", "wsgi:app"], cwd=ROOT, env={**os.environ},
                                      stdout=open(work / "web.log", "wb"), stderr=subprocess.STDOUT))
        _wait(f"{fake}/_fake/stats")
        _wait(f"http://127.0.0.1:{web_port}/healthz")
        requests.post(f"{fake}/_fake/config", json={"template_daily_quota": 10**9}, timeout=5)
        requests.post(f"{fake}/_fake/webhook", json={"url": f"http://127.0.0.1:{web_port}/wechat", "token": TOKEN,
                                                         "aes_key": AES, "appid": APPID},
                      timeout=5)
        from product import create_app

        app = create_app()
        with app.app_context():
            _fill(app, fake, args.messages, args.template_share)
            app.extensions["jobs"].redis.flushdb()
            result = _run(app, env, work, args.messages, fake)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
    return result


def _database(server: str) -> str:
    server = server.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {DB_NAME}"))
    admin.dispose()
    url = server.rsplit("/", 1)[0] + f"/{DB_NAME}"
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "head")
    return url


def _wait(url: str) -> None:
    for _ in range(200):
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def _fill(app, fake: str, n: int, template_share: float) -> None:
    """Reporters and their conversations, then N outbox rows, streamed with COPY."""
    from core.db import utcnow
    from intake.pushes import hour

    vault = app.extensions["vault"]
    engine = app.extensions["db"].engine
    reporters = (n + PER_REPORTER - 1) // PER_REPORTER
    now = utcnow()
    wrote = hour(now - timedelta(hours=2))
    openids = [f"oBENCH{i:022d}" for i in range(reporters)]
    in_window = [o for i, o in enumerate(openids) if (i % 100) >= template_share * 100]
    t0 = time.time()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY reporters (id, openid_hash, openid_enc, created_at) FROM STDIN") as copy:
            for i, o in enumerate(openids, 1):
                copy.write_row((i, vault.openid_hash(o), vault.encrypt(o), now))
        with cur.copy("COPY conversations (openid_hash, last_inbound_at, created_at) FROM STDIN") as copy:
            for o in in_window:
                copy.write_row((vault.openid_hash(o), wrote, wrote))
        with cur.copy("COPY outbox (id, reporter_id, purpose, text, status, attempts, next_at, created_at) "
                      "FROM STDIN") as copy:
            for i in range(1, n + 1):
                copy.write_row((i, (i - 1) % reporters + 1, "status", f"bench #{i}", "queued", 0, now, now))
        cur.execute("SELECT setval('reporters_id_seq', %s)", (reporters,))
        cur.execute("SELECT setval('outbox_id_seq', %s)", (n,))
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE outbox, reporters, conversations"))
    at = (wrote + timedelta(minutes=30)).replace(tzinfo=timezone.utc).timestamp()
    for i in range(0, len(in_window), 5000):
        requests.post(f"{fake}/_fake/interaction", json={"openids": in_window[i:i + 5000], "at": at},
                      timeout=30).raise_for_status()
    print(f"filled: {reporters} reporters ({len(in_window)} within 48 hours), {n} messages "
          f"in {time.time() - t0:.1f} s", flush=True)


def _count(engine, where: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM outbox WHERE {where}")).scalar()


def _run(app, env: dict, work: Path, n: int, fake: str) -> dict:
    from intake.delivery import deliver, reap

    engine = app.extensions["db"].engine
    jobs = app.extensions["jobs"]
    workers = [start_worker(env, log=work / f"worker{i}.log") for i in range(2)]
    killed = None
    try:
        time.sleep(3)  # both workers up (each imports the product)
        start = time.time()
        jobs.enqueue(deliver)
        jobs.enqueue(deliver)
        last_reap = time.time()
        while True:
            time.sleep(0.5)
            sent = _count(engine, "status = 'sent'")
            if killed is None and sent >= n // 2:
                killed = workers[0]
                kill_worker(killed)
                print(f"killed worker {killed.pid} and its work horse at {sent} sent "
                      f"({time.time() - start:.1f} s)", flush=True)
            if time.time() - last_reap > 2:
                reap()
                last_reap = time.time()
            open_rows = _count(engine, "status IN ('queued', 'claimed', 'sending')")
            if open_rows == 0:
                break
            if time.time() - start > 3600:
                raise SystemExit(f"still {open_rows} messages open after an hour")
        elapsed = time.time() - start
    finally:
        for w in workers:
            stop_worker(w)
    with engine.connect() as conn:
        statuses = dict(conn.execute(sa.text("SELECT status, count(*) FROM outbox GROUP BY status")).all())
        vias = dict(conn.execute(sa.text("SELECT via, count(*) FROM outbox GROUP BY via")).all())
    messages = requests.get(f"{fake}/_fake/messages", timeout=120).json()["messages"]
    counts = Counter()
    for m in messages:
        text = m.get("content") or m["data"]["keyword2"]["value"]
        found = re.search(r"bench #(\d+)", text)
        counts[int(found.group(1))] += 1
    lost = sum(1 for i in range(1, n + 1) if counts[i] == 0)
    doubled = sum(1 for i in range(1, n + 1) if counts[i] > 1)
    print(f"statuses {statuses}; via {vias}; delivered {len(messages)} in {elapsed:.1f} s "
          f"(the killed worker's claims waited for their 10 s lease)", flush=True)
    return {"per_s": n / elapsed, "lost": lost, "doubled": doubled}


if __name__ == "__main__":
    main()
