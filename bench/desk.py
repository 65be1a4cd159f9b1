"""Staff desk benchmark: the inbox, its search and the case page over one million cases.

    .venv/bin/python bench/desk.py [--cases 1000000] [--reuse] [--repeat 20] [--workers 2]

1. Fills a fresh PostgreSQL database (`mashang_desk_bench`, migrated, the demo deployment
   loaded) with N cases as the product would hold them after a year: Chinese texts recombined
   from `routing/data/examples.csv` and the public complaints (`../shared/data/`), with the unit
   they name, kinds and domains, statuses over the whole lifecycle (recent cases undecided, old
   ones closed and rated), the group of the unit (out-of-scope reports in the office's queue),
   assignees, channels, anonymity, priorities, clusters, handovers with their due dates (some
   overdue), the events of each case's path and the search rows `core/search.py` writes. Rows
   are generated in Python and streamed with COPY (secondary indexes dropped during the load and
   built again after it, then VACUUM ANALYZE): a million cases take a few minutes.
   `--reuse` keeps a database that already holds N cases.
2. Serves the product with gunicorn (APP_ENV=production, `--workers W`) and asks it over HTTP,
   one request at a time, as the office admin (lizhuren) and as a group member (li, G1's
   liaison): the inbox's first page and 50 pages deep (following `下一页`), filtered by status,
   kind, group, unit, overdue, priority sort, a search (低保, 修路, a rarer word, 20 pages of
   低保) and the case page of random cases each may see. Every request is made once to warm up,
   then `--repeat` times; the p95 of each kind of page is over all its requests.

Last line:

    RESULT cases=<n> inbox_p95_ms=<ms> search_p95_ms=<ms> case_p95_ms=<ms>
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_PG, FLASK, bench_redis, database_url, fresh_database, production_env, serve, sh, stop  # noqa: E402,E501
from core.search import terms  # noqa: E402

EXAMPLES = ROOT / "routing" / "data" / "examples.csv"
COMPLAINTS = ROOT.parent / "shared" / "data" / "complaints_labeled.csv"
LOGINS = ("lizhuren", "zhang", "li", "wang", "baisha", "jw", "audit")
PASSWORD = "bench-desk-" + "x" * 10
BEIJING = timedelta(hours=8)
TABLES = ("cases", "case_events", "case_search", "handovers")

# ── data ────────────────────────────────────────────────────────────────────────────────────

# Status by age of the case: (days younger than, {status: weight}). Recent cases wait for a
# decision or a unit; a few months later most are replied, closed and rated.
STATUS_BY_AGE = [
    (3, {"received": 35, "assigned": 45, "handed_over": 8, "verifying": 4, "rejected": 2, "merged": 3,
         "transferred": 2, "referred": 1}),
    (20, {"received": 4, "assigned": 20, "handed_over": 30, "verifying": 10, "transferred": 6, "referred": 6,
          "filed": 6, "rejected": 4, "replied": 8, "merged": 4, "reopened": 2}),
    (90, {"received": 0.5, "assigned": 3, "handed_over": 8, "verifying": 5, "transferred": 5, "referred": 5,
          "filed": 8, "rejected": 5, "replied": 18, "closed": 20, "rated": 16, "merged": 4, "reopened": 2.5}),
    (10**6, {"received": 0.1, "assigned": 0.4, "handed_over": 1, "verifying": 1, "transferred": 3, "referred": 4,
             "filed": 9, "rejected": 5, "replied": 6, "closed": 34, "rated": 31, "merged": 4, "reopened": 1.5}),
]
CHANNELS = {"wechat": 68, "h5": 14, "meeting": 6, "letter": 4, "phone": 5, "visit": 3}
ANONYMITY = {"default": 70, "named": 14, "anonymous": 16}
PRIORITY = {0: 80, 1: 12, 2: 6, 3: 2}
ORIGIN_TEXT = {"wechat": "通过微信公众号提交", "h5": "通过手机网页提交", "meeting": "屋场恳谈会等现场收集",
               "letter": "来信", "phone": "来电", "visit": "来访"}
# Where a reply-bearing case went before its reply.
VIA = {"handed_over": 70, "referred": 15, "transferred": 10, "filed": 5}
NOTES = {
    "assigned": ("routed", "分办至巡察组", False), "handed_over": ("handover", "交办被巡察单位立行立改", False),
    "transferred": ("transfer", "问题线索移交纪委监委", False), "referred": ("refer", "转交相关部门办理", True),
    "verifying": ("verify", "巡察组自行核查", False), "filed": ("file", "存档备查", False),
    "rejected": ("reject", "不属于巡察受理范围，请通过12345热线反映", True),
    "replied": ("reply", "经核查，相关问题已整改到位，感谢您的监督。", True), "closed": ("close", "办结", True),
    "rated": ("rate", "群众评价：满意", True), "merged": ("merge", "与同一问题的反映合并办理", False),
    "reopened": ("reopen", "群众评价不满意，重新办理", True),
}


def weighted(table: dict, n: int, rng: random.Random) -> list:
    return rng.choices(list(table), weights=list(table.values()), k=n)


def path_to(status: str, rng: random.Random) -> list[str]:
    """The statuses a case went through to reach `status` (the lifecycle's moves)."""
    if status == "received":
        return ["received"]
    if status == "merged":
        return ["received", "merged"]
    head = ["received", "assigned"]
    if status in ("assigned", "handed_over", "transferred", "referred", "verifying", "filed", "rejected"):
        return head + ([] if status == "assigned" else [status])
    via = weighted(VIA, 1, rng)[0]
    replied = head + [via, "replied"]
    return {"replied": replied, "closed": replied + ["closed"], "rated": replied + ["closed", "rated"],
            "reopened": replied + ["closed", "rated", "reopened"]}[status]


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"[，。！？；,.!?;\s]+", text) if 4 <= len(c) <= 40]


def text_pool(units: list[dict], size: int, rng: random.Random) -> list[dict]:
    """`size` distinct report texts, each naming a unit, with its kind, domain and search terms."""
    examples = [r for r in csv.DictReader(EXAMPLES.open(encoding="utf-8")) if r["kind"] and r["domain"]]
    extra: list[str] = []
    if COMPLAINTS.exists():
        for r in csv.DictReader(COMPLAINTS.open(encoding="utf-8")):
            extra.extend(_clauses(r.get("body") or ""))
    extra = extra or [c for r in examples for c in _clauses(r["text"])]
    openers = ["", "我要反映：", "反映一个问题，", "请巡察组关注：", "群众反映，", "实名举报：", "匿名反映："]
    pool = []
    for _ in range(size):
        ex = rng.choice(examples)
        unit = rng.choice(units)
        name = rng.choice([unit["name"], *unit["aliases"]])
        body = ex["text"]
        if rng.random() < 0.6:
            body += "。" + rng.choice(extra)
        if rng.random() < 0.3:
            body += "，" + rng.choice(extra)
        text = f"{rng.choice(openers)}{name}{rng.choice(['', '这边', '村里', '的'])}{body}。"
        if rng.random() < 0.05:
            text += f"联系电话1{rng.randint(3, 9)}{rng.randint(0, 10**9 - 1):09d}"
        pool.append({"text": text, "kind": ex["kind"], "domain": ex["domain"], "unit": unit["id"],
                     "terms": " ".join(terms(text))})
    return pool


def _esc(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    v = str(value)
    if "\\" in v or "\t" in v or "\n" in v or "\r" in v:
        v = v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return v


class Copier:
    """Rows to one COPY, written in large chunks."""

    def __init__(self, url: str, table: str, columns: list[str]):
        import psycopg

        self.conn = psycopg.connect(url)  # a COPY of its own per table, all streaming at once
        self.cur = self.conn.cursor()
        self.ctx = self.cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN")  # kept: closing it ends the COPY
        self.copy = self.ctx.__enter__()
        self.buf: list[str] = []
        self.rows = 0

    def row(self, *values) -> None:
        self.buf.append("\t".join(_esc(v) for v in values))
        self.rows += 1
        if len(self.buf) >= 20000:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.copy.write(("\n".join(self.buf) + "\n").encode())
            self.buf = []

    def close(self) -> None:
        self.flush()
        self.ctx.__exit__(None, None, None)
        self.conn.commit()
        self.conn.close()


def generate(db_url: str, n: int, seed: int) -> None:
    import psycopg

    rng = random.Random(seed)
    engine = sa.create_engine(db_url)
    with engine.connect() as c:
        units = [dict(r._mapping) for r in c.execute(sa.text("SELECT id, name, path, parent_id FROM units"))]
        aliases = c.execute(sa.text("SELECT unit_id, alias FROM unit_aliases")).all()
        group_units = c.execute(sa.text("SELECT group_id, unit_id FROM group_units")).all()
        staff = [dict(r._mapping) for r in c.execute(sa.text("SELECT id, login, role, group_id FROM staff"))]
        qrs = c.execute(sa.text("SELECT id, unit_id FROM qr_codes WHERE unit_id IS NOT NULL")).all()
        round_id = c.execute(sa.text("SELECT id FROM rounds ORDER BY id LIMIT 1")).scalar()
    engine.dispose()
    for u in units:
        u["aliases"] = [a for uid, a in aliases if uid == u["id"]]
    by_id = {u["id"]: u for u in units}
    group_of: dict[int, int] = {}
    for gid, uid in group_units:  # a township brings its villages
        group_of[uid] = gid
    for u in units:
        p = u
        while u["id"] not in group_of and p["parent_id"] is not None:
            p = by_id[p["parent_id"]]
            if p["id"] in group_of:
                group_of[u["id"]] = group_of[p["id"]]
    members = {}
    for m in staff:
        if m["group_id"] is not None:
            members.setdefault(m["group_id"], []).append(m["id"])
    office_admin = next(m["id"] for m in staff if m["role"] == "office_admin")
    qr_of = {uid: qid for qid, uid in qrs}

    t0 = time.monotonic()
    pool = text_pool(units, min(60000, max(2000, n // 15)), rng)
    print(f"  {len(pool)} distinct texts in {time.monotonic() - t0:.1f}s", flush=True)

    now = datetime.utcnow().replace(microsecond=0)
    start = now - timedelta(days=365)
    # Ids follow time, as they do when cases arrive: n instants over the year, sorted.
    seconds = sorted(rng.random() * 365 * 86400 for _ in range(n))
    statuses_by_age = [(limit, list(w), list(w.values())) for limit, w in STATUS_BY_AGE]
    channels, anonymity, priorities = (weighted(CHANNELS, n, rng), weighted(ANONYMITY, n, rng),
                                       weighted(PRIORITY, n, rng))

    url = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=False) as conn:
        cur = conn.cursor()
        cur.execute("SET synchronous_commit = off")
        indexes = cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint)", (list(TABLES),)).fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX "{name}"')
        for table in TABLES:
            cur.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")  # foreign keys: the data is made consistent
        conn.commit()
        case_cols = ["id", "tracking_no", "anonymity", "channel", "text", "summary", "kind", "domain", "round_id",
                     "unit_id", "group_id", "qr_code_id", "status", "priority", "model_version", "evidence",
                     "routed_at", "assignee_id", "cluster_id", "labels_confirmed", "created_at", "updated_at"]
        cases = Copier(url, "cases", case_cols)
        events = Copier(url, "case_events", ["id", "case_id", "at", "actor", "staff_id", "action", "from_status",
                                             "to_status", "note", "public"])
        search = Copier(url, "case_search", ["case_id", "terms"])
        handovers = Copier(url, "handovers", ["id", "case_id", "unit_id", "due_on", "at", "staff_id"])
        event_id = handover_id = 0
        last_of_unit: dict[int, int] = {}
        for i in range(n):
            case_id = i + 1
            created = start + timedelta(seconds=seconds[i])
            age = (now - created).days
            _, names, weights = next(s for s in statuses_by_age if age < s[0])
            status = rng.choices(names, weights)[0]
            p = pool[rng.randrange(len(pool))]
            kind, unit_id = p["kind"], p["unit"]
            office_queue = kind == "out_of_scope" or rng.random() < 0.03
            group_id = None if office_queue else group_of.get(unit_id)
            if kind == "out_of_scope" and status in ("handed_over", "transferred", "verifying"):
                status = "rejected"
            if status == "transferred" and kind != "clue":
                kind = "clue"
            path = path_to(status, rng)
            if "transferred" in path and kind != "clue":
                kind = "clue"
            routed = len(path) > 1 or rng.random() < 0.8
            assignee = None
            if len(path) > 1 and status != "merged":
                pool_ids = members.get(group_id) if group_id else [m for ms in members.values() for m in ms]
                assignee = rng.choice(pool_ids) if pool_ids else None
            local = created + BEIJING
            cluster = None
            if rng.random() < 0.04 and unit_id in last_of_unit:
                cluster = last_of_unit[unit_id]
            last_of_unit[unit_id] = case_id
            evidence = json.dumps({"rule": None, "unit_by": "gazetteer", "group_by": "unit",
                                   "scores": {kind: round(rng.uniform(0.5, 0.99), 2)}}, ensure_ascii=False)
            # Each move a little later than the one before it.
            at, times = created, []
            for _ in path:
                times.append(at)
                at = min(now, at + timedelta(hours=rng.uniform(1, 24 * 6)))
            channel = channels[i]
            cases.row(case_id, f"XC{local:%y%m%d}{case_id:06d}", anonymity[i], channel, p["text"], p["text"][:120],
                      kind if routed else None, p["domain"] if routed else None, round_id, unit_id, group_id,
                      qr_of.get(unit_id) if channel == "wechat" else None, status, priorities[i],
                      "bench" if routed else None, evidence if routed else None,
                      created + timedelta(seconds=2) if routed else None, assignee, cluster, rng.random() < 0.1,
                      created, times[-1])
            search.row(case_id, p["terms"])
            prev = None
            for step, when in zip(path, times):
                event_id += 1
                if step == "received":
                    events.row(event_id, case_id, when, "citizen", None, "submitted", None, "received",
                               ORIGIN_TEXT[channel], True)
                else:
                    action, note, public = NOTES[step]
                    staff_id = assignee or office_admin if step != "assigned" else None
                    events.row(event_id, case_id, when, "system" if staff_id is None else "staff", staff_id, action,
                               prev, step, note, public)
                if step == "handed_over":
                    handover_id += 1
                    handovers.row(handover_id, case_id, unit_id, (when + BEIJING).date() + timedelta(days=15), when,
                                  assignee)
                prev = step
            if (i + 1) % 100000 == 0:
                print(f"  {i + 1} cases ({time.monotonic() - t0:.0f}s)", flush=True)
        for c in (cases, events, search, handovers):
            c.close()
        print(f"  copied {cases.rows} cases, {events.rows} events, {handovers.rows} handovers "
              f"({time.monotonic() - t0:.0f}s)", flush=True)
        for table in TABLES:
            cur.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
        for table, column in (("cases", "id"), ("case_events", "id"), ("handovers", "id")):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                        f"(SELECT coalesce(max({column}), 1) FROM {table}))")
        conn.commit()
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute("SET max_parallel_maintenance_workers = 2")
        for name, definition in indexes:
            t1 = time.monotonic()
            cur.execute(definition)
            conn.commit()
            print(f"  index {name} ({time.monotonic() - t1:.0f}s)", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
    print(f"  generated in {time.monotonic() - t0:.0f}s", flush=True)


# ── measuring ───────────────────────────────────────────────────────────────────────────────

def count_cases(db_url: str) -> int | None:
    try:
        engine = sa.create_engine(db_url)
        with engine.connect() as c:
            return c.execute(sa.text("SELECT count(*) FROM cases")).scalar()
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


class Desk:
    """One staff member's browser: the session cookie sent by hand (it is Secure in production,
    and this is plain HTTP on loopback)."""

    def __init__(self, base: str, login: str):
        self.base, self.http = base, requests.Session()
        r = self.http.get(f"{base}/admin/login")
        cookie = r.cookies.get("session") or next(iter(r.cookies.values()))
        self.cookie_name = next(iter(r.cookies.keys()))
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
        r = self.http.post(f"{base}/admin/login", data={"login": login, "password": PASSWORD, "csrf_token": token},
                           headers={"Cookie": f"{self.cookie_name}={cookie}"}, allow_redirects=False)
        if r.status_code != 302:
            raise SystemExit(f"login {login}: {r.status_code}")
        self.cookie = r.cookies.get(self.cookie_name)
        self.http.cookies.clear()

    def get(self, path: str) -> tuple[float, str]:
        t = time.perf_counter()
        r = self.http.get(self.base + path, headers={"Cookie": f"{self.cookie_name}={self.cookie}"},
                          allow_redirects=False)
        ms = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise SystemExit(f"GET {path}: {r.status_code}")
        return ms, r.text


NEXT = re.compile(r'<a href="(/admin/\?[^"]*cursor=[^"]*)">下一页')
TRACKING = re.compile(r">(XC\d{12,})<")


def _label(args: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in args.items())


def p95(values: list[float]) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))] if v else 0.0


def measure(base: str, db_url: str, repeat: int, deep: int) -> dict[str, list[float]]:
    engine = sa.create_engine(db_url)
    with engine.connect() as c:
        groups = dict(c.execute(sa.text("SELECT code, id FROM groups")).all())
        # Case pages: random cases of each role's scope.
        all_cases = [r[0] for r in c.execute(sa.text(
            "SELECT tracking_no FROM cases TABLESAMPLE SYSTEM (1) REPEATABLE (7) LIMIT 40"))]
        g1_cases = [r[0] for r in c.execute(sa.text(
            "SELECT tracking_no FROM cases TABLESAMPLE SYSTEM (1) REPEATABLE (8) WHERE group_id = :g LIMIT 40"),
            {"g": groups["G1"]})]
    engine.dispose()
    samples: dict[str, list[float]] = {"inbox": [], "search": [], "case": []}
    detail: dict[str, list[float]] = {}

    def timed(desk: Desk, kind: str, label: str, path: str) -> str:
        desk.get(path)  # warm-up
        out = ""
        for _ in range(repeat):
            ms, out = desk.get(path)
            samples[kind].append(ms)
            detail.setdefault(label, []).append(ms)
        return out

    def walk(desk: Desk, kind: str, label: str, path: str, pages: int) -> int:
        """Follow 下一页 `pages` times; the last page is timed `repeat` times, every page once."""
        walked = 0
        for _ in range(pages):
            ms, html = desk.get(path)
            samples[kind].append(ms)
            detail.setdefault(label + " (each page)", []).append(ms)
            m = NEXT.search(html)
            if not m:
                break
            path = m.group(1).replace("&amp;", "&")
            walked += 1
        timed(desk, kind, f"{label} (page {walked + 1})", path)
        return walked

    for login, cases in (("lizhuren", all_cases), ("li", g1_cases)):
        desk = Desk(base, login)
        who = "office" if login == "lizhuren" else "group"
        filters = [
            {}, {"status": "handed_over"}, {"status": "reopened"}, {"status": "received"}, {"kind": "clue"},
            {"group": str(groups["G2"])}, {"group": "office"}, {"unit": "柳溪镇"}, {"unit": "青石镇/白沙村"},
            {"overdue": "1"}, {"sort": "priority"}, {"priority": "2"}, {"status": "assigned", "unit": "青石镇"},
            {"channel": "letter", "kind": "suggestion"}, {"sort": "oldest"},
        ]
        for f in filters:
            timed(desk, "inbox", f"{who} inbox {_label(f) or 'first page'}",
                  "/admin/?" + urlencode(f))
        walked = walk(desk, "inbox", f"{who} inbox deep", "/admin/", deep)
        walk(desk, "inbox", f"{who} inbox deep status=closed", "/admin/?status=closed", deep)
        print(f"  {who}: walked {walked} pages deep", flush=True)
        for q in ({"q": "低保"}, {"q": "修路"}, {"q": "路灯"}, {"q": "挪用扶贫资金"}, {"q": "低保", "status": "closed"},
                  {"q": "低保", "sort": "priority"}, {"q": "工程款", "unit": "柳溪镇"}, {"q": "噪音 养殖场"}):
            timed(desk, "search", f"{who} search {_label(q)}", "/admin/?" + urlencode(q))
        walk(desk, "search", f"{who} search deep q=低保", "/admin/?q=低保", deep // 2)
        for number in cases:
            ms, html = desk.get(f"/admin/cases/{number}")  # warm-up
            for _ in range(max(1, repeat // 4)):
                ms, _html = desk.get(f"/admin/cases/{number}")
                samples["case"].append(ms)
                detail.setdefault(f"{who} case page", []).append(ms)
    for label, values in detail.items():
        print(f"  {label:50s} n={len(values):4d} p50={sorted(values)[len(values) // 2]:7.1f} "
              f"p95={p95(values):7.1f} max={max(values):7.1f}")
    return samples


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--reuse", action="store_true", help="keep the database if it already holds --cases cases")
    ap.add_argument("--generate-only", action="store_true")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--deep", type=int, default=50, help="pages to follow for the deep page")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--port", type=int, default=18091)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--db", default="mashang_desk_bench")
    ap.add_argument("--pg", default=os.environ.get("BENCH_PG", DEFAULT_PG), help="a PostgreSQL URL to create --db from")
    ap.add_argument("--redis", default=os.environ.get("BENCH_REDIS"),
                    help="a Redis of your own (default: a private redis-server on a free port)")
    a = ap.parse_args()

    with bench_redis(a.redis) as a.redis:
        return run(a)


def run(a) -> int:
    # The identity key stays the same from run to run: a reused database's names still decrypt.
    env = production_env(f"/tmp/{a.db}", identity_key="bench-desk-identity-" + "k" * 20, REDIS_URL=a.redis)
    db_url = database_url(a.pg, a.db)
    if a.reuse and count_cases(db_url) == a.cases:
        print(f"reusing {a.db}: {a.cases} cases")
        env["DATABASE_URL"] = db_url
        sh(*FLASK, "db", "upgrade", env=env)  # a migration added since (e.g. an index) is applied
    else:
        db_url = fresh_database(a.pg, a.db)
        env["DATABASE_URL"] = db_url
        sh(*FLASK, "db", "upgrade", env=env)
        sh(*FLASK, "deploy", "load", "deploy/demo.yaml", env=env)
        for login in LOGINS:
            sh(*FLASK, "staff", "password", login, env=env, stdin=PASSWORD + "\n")
        print(f"generating {a.cases} cases into {a.db}", flush=True)
        t = time.monotonic()
        generate(db_url, a.cases, a.seed)
        print(f"generation took {time.monotonic() - t:.0f}s", flush=True)
    if a.generate_only:
        return 0
    import redis

    redis.Redis.from_url(a.redis).flushdb()  # login limits of an earlier run
    print(f"gunicorn --workers {a.workers} --threads {a.threads}, APP_ENV=production; one request at a time; "
          f"each request once to warm up, then {a.repeat} times (case pages {max(1, a.repeat // 4)} times each)")
    proc = serve("wsgi:app", a.port, env, a.workers, a.threads)
    try:
        samples = measure(f"http://127.0.0.1:{a.port}", db_url, a.repeat, a.deep)
    finally:
        stop(proc)
    print(f"RESULT cases={a.cases} inbox_p95_ms={p95(samples['inbox']):.0f} "
          f"search_p95_ms={p95(samples['search']):.0f} case_p95_ms={p95(samples['case']):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
