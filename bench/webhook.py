"""Webhook benchmark: the product against a bare wechatpy handler, same gunicorn settings.

    .venv/bin/python bench/webhook.py [--rounds 3] [--duration 10s] [--n 20000] [-c 16] [--workers 2]

Both servers run in AES safe mode under `gunicorn --workers W --threads T`; load comes from
`../shared/bench/wxload.py` (distinct signed pushes driven by wrk). The product runs on
PostgreSQL (a fresh database `mashang_bench`) with REDIS_URL set (jobs are queued, no worker
runs), so every push is stored. For scale, a third server runs the bare handler storing one
row per push, committed before it answers: the ceiling of any design that keeps every push
durably on this machine. After each product run its database is checked: every push answered
200 is stored once (one row per push under its unique key, each scan's conversation bound, none
lost).

A shared machine's speed drifts by a third from one minute to the next, so one run of each
proves little. The three servers run back to back in each of `--rounds` rounds (the product on
a fresh database each time), each round gives its ratio, and the result is their median. Last line:

    RESULT ratio=<median of product rps / bare rps> p99_ms=<median product p99> stored_once=<yes|no>
"""
from __future__ import annotations

import argparse
import os
import statistics
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_PG, FLASK, aes_key, bench_redis, fresh_database, production_env, serve, sh, stop  # noqa: E402,E501

WXLOAD = ROOT.parent / "shared" / "bench" / "wxload.py"
PY = sys.executable
# Made per run, as a deployment's are (APP_ENV=production refuses weak or sample values).
TOKEN, APPID, AES = secrets.token_hex(16), "wx" + secrets.token_hex(8), aes_key()


def load(port: int, a) -> dict[str, float]:
    out = subprocess.run(
        [PY, str(a.wxload), f"http://127.0.0.1:{port}/wechat", "--token", TOKEN, "--appid", APPID,
         "--aes-key", AES, "--n", str(a.n), "-c", str(a.connections), "-d", a.duration],
        capture_output=True, text=True).stdout
    print(out.strip().splitlines()[-1] if out.strip() else "(no output from wxload)")
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if not m:
        print(out)
        raise SystemExit("wxload printed no RESULT line")
    result = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    result["requests"] = float(re.search(r"(\d+) requests in", out).group(1))
    return result


def measure(label: str, app: str, port: int, env: dict, a) -> dict[str, float]:
    print(f"{label}:", end=" ", flush=True)
    proc = serve(app, port, env, a.workers, a.threads, probe="/wechat")
    try:
        return load(port, a)
    finally:
        stop(proc)


def check_stored(db_url: str, n: int, requests_done: float, connections: int) -> tuple[bool, str]:
    """Each push is a text or voice piece (one row with its conversation) or a scan (one row, and
    the conversation bound to its poster); wxload cycles through n of them, a quarter scans."""
    engine = sa.create_engine(db_url)
    with engine.connect() as c:
        stored = c.execute(sa.text("SELECT count(*) FROM pushes")).scalar()
        pieces = c.execute(sa.text("SELECT count(*) FROM pushes WHERE conversation IS NOT NULL")).scalar()
        scans = c.execute(sa.text("SELECT count(*) FROM pushes WHERE conversation IS NULL")).scalar()
        conversations = c.execute(sa.text("SELECT count(*) FROM conversations")).scalar()
    engine.dispose()
    expected_min = min(n, int(requests_done)) - connections  # in flight when wrk stopped counting
    # Keys are the primary key: a push stored twice would have failed its INSERT, not doubled.
    ok = (conversations == scans  # each push comes from its own account; a scan binds its conversation
          and expected_min <= stored <= min(n, int(requests_done) + connections))
    return ok, (f"stored={stored} pieces={pieces} scans={scans} conversations={conversations} "
                f"answered_requests={int(requests_done)} distinct_pushes_sent>={max(expected_min, 0)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--n", type=int, default=20000, help="distinct pushes (wrk cycles through them)")
    ap.add_argument("-c", "--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", DEFAULT_PG))
    ap.add_argument("--redis", default=os.environ.get("BENCH_REDIS"),
                    help="a Redis of your own (default: a private redis-server on a free port)")
    ap.add_argument("--wxload", type=Path, default=WXLOAD)
    a = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    if not a.wxload.exists():
        raise SystemExit(f"load driver not found: {a.wxload} (the shared bench/wxload.py)")

    with bench_redis(a.redis) as a.redis:
        return run(a)


def prepare(a) -> tuple[str, dict]:
    """A fresh database with the demo deployment, and the environment serving it."""
    db_url = fresh_database(a.pg, "mashang_bench")
    env = production_env("/tmp/mashang-bench", token=TOKEN, appid=APPID, aes=AES, DATABASE_URL=db_url,
                         REDIS_URL=a.redis)
    sh(*FLASK, "db", "upgrade", env=env)
    sh(*FLASK, "deploy", "load", "deploy/demo.yaml", env=env)
    engine = sa.create_engine(db_url)
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE bench_pushes (key text PRIMARY KEY)"))
    engine.dispose()
    return db_url, env


def run(a) -> int:
    print(f"gunicorn --workers {a.workers} --threads {a.threads}; wrk -c {a.connections} -d {a.duration}; "
          f"{a.n} distinct pushes, AES mode; {a.rounds} rounds")
    ratios, floors, p99s, all_ok = [], [], [], True
    for rnd in range(1, a.rounds + 1):
        print(f"round {rnd}")
        db_url, env = prepare(a)
        bare = measure("  bare wechatpy handler", "bench.bare_app:app", 18081, env, a)
        floor = measure("  bare handler + one durable INSERT per push", "bench.bare_app:app_db", 18083, env, a)
        product = measure("  product (PostgreSQL, every push stored)", "wsgi:app", 18082, env, a)
        ok, detail = check_stored(db_url, a.n, product["requests"], a.connections)
        ok = ok and product["non2xx"] == 0 and product["errors"] == 0
        all_ok = all_ok and ok
        ratios.append(product["rps"] / bare["rps"])
        floors.append(floor["rps"] / bare["rps"])
        p99s.append(product["p99_ms"])
        print(f"  bare {bare['rps']:.0f}/s, bare+INSERT {floor['rps']:.0f}/s ({floors[-1]:.2f}), "
              f"product {product['rps']:.0f}/s ({ratios[-1]:.2f}; {product['rps'] / floor['rps']:.2f} of "
              f"bare+INSERT); {'stored once' if ok else 'NOT STORED ONCE'}: {detail}")
    print(f"ratios {[round(r, 2) for r in ratios]}; bare+INSERT {[round(f, 2) for f in floors]} "
          f"(median {statistics.median(floors):.2f})")
    print(f"RESULT ratio={statistics.median(ratios):.2f} p99_ms={statistics.median(p99s):.1f} "
          f"stored_once={'yes' if all_ok else 'no'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
