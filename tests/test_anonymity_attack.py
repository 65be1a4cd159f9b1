"""An attacker with a copy of the database tries to find who made an anonymous report.

One villager (V) reports three times through the real webhook: a default report, an anonymous one
(with a location) that they then look up by tracking number and query code, and a named one;
other villagers report around them, anonymously too. The attacker then reads everything a copy
of the data files gives: live rows, system columns (xmin/xmax), deleted rows (`pageinspect`),
sequences, timestamps, the write-ahead log (`pg_walinspect`), and the logs and reply sizes, and
tries each link of README's "What 匿名 protects against". Then, the window of minutes past
(the periodic purge has run), the attacker also holds IDENTITY_KEY and tries again.

On SQLite the equivalent: the raw database and WAL files.
"""
from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.db import utcnow
from core.models import Case, Push
from tests.replies import tracking_no

V = "oVILLAGER0000000000000000V1"
ANON_TEXT = "白沙村会计把修桥的钱转到他老婆的账户上了"
ANON_PHRASE = "修桥的钱转到他老婆的账户"  # what the attacker looks for in the data files
LABEL = "白沙村老桥头东侧"
CONVERSATION_TABLES = ("conversations", "pushes", "submitted_pieces", "push_signatures", "rate_counters")


def _scenario(make_citizen, db, run_jobs):
    v = make_citizen(V)
    others = [make_citizen(f"oOTHER000000000000000000{i:03d}") for i in range(3)]
    v.scan("G1-baisha")
    others[0].scan("G2-shimen")
    v.say("白沙村的路灯坏了三个月，晚上出行很不方便")
    others[0].say("石门村的山塘水库年久失修，存在安全隐患")
    default_no = tracking_no(v.say("提交"))
    tracking_no(others[0].say("匿名提交"))
    others[1].say("青石镇的养老金发放拖了三个月还没到账")
    v.say(ANON_TEXT)
    v.location(26.9, 112.55, LABEL)
    others[1].say("补充：涉及好几户人家")
    v.say("匿名")
    reply = v.say("提交")
    wire = len(v.last_response.data)
    anon_no, code = tracking_no(reply), re.search(r"查询码：(\w+)", reply).group(1)
    tracking_no(others[1].say("提交"))
    run_jobs()
    assert anon_no in v.say(f"查询 {anon_no} {code}")  # V follows the case through the chat
    v.say("实名 张三 13800001234")
    v.say("白沙村村委会的账目三年没有公开了")
    named_no = tracking_no(v.say("提交"))
    others[2].say("早禾田村的水渠垮了一段，春耕用水成问题")
    tracking_no(others[2].say("匿名提交"))
    run_jobs()
    db.expire_all()
    cases = {n: db.scalar(sa.select(Case).where(Case.tracking_no == n)) for n in (default_no, anon_no, named_no)}
    return v, cases[anon_no], code, cases[default_no], cases[named_no], (reply, wire)


def _purge(app, db):
    """The window of minutes passes: replies outlive WeChat's retries, the purge runs."""
    db.execute(sa.update(Push).where(Push.conversation.is_(None)).values(at=utcnow() - timedelta(minutes=11)))
    db.commit()
    with app.app_context():
        from intake.jobs import purge_pushes

        purge_pushes()


def _sealed_texts(app, db) -> str:
    """With IDENTITY_KEY: everything sealed that is still stored, opened."""
    vault = app.extensions["vault"]
    opened = []
    for sealed, reply in db.execute(sa.select(Push.sealed, Push.reply)):
        opened += [str(vault.unseal(sealed))] if sealed else []
        opened += [vault.decrypt(reply)] if reply else []
    return "\n".join(opened)


@pytest.fixture
def pg(app, db):
    if not app.extensions["db"].url.startswith("postgresql"):
        pytest.skip("the PostgreSQL attacker (system columns, pageinspect, pg_walinspect): needs TEST_DATABASE_URL")
    for ext in ("pageinspect", "pg_walinspect"):
        db.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS {ext}"))
    db.commit()
    return db


def _tuples(db, table: str) -> list:
    """Every tuple in the table's pages, live or dead: xmin, xmax and the raw bytes."""
    return db.execute(sa.text(
        "SELECT t_xmin::text::bigint AS xmin, t_xmax::text::bigint AS xmax, t_data AS data FROM "
        "generate_series(0, (pg_relation_size(CAST(:t AS regclass)) / current_setting('block_size')::int) - 1) AS blk, "
        "heap_page_items(get_raw_page(CAST(:t AS text), blk::int)) WHERE t_data IS NOT NULL"), {"t": table}).all()


def _tables(db) -> list[str]:
    return list(db.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                   "AND tablename <> 'alembic_version'")))


def test_a_copy_of_the_postgresql_database_does_not_name_the_anonymous_reporter(
        app, pg, make_citizen, run_jobs, caplog):
    db = pg
    vault = app.extensions["vault"]
    caplog.set_level(logging.DEBUG)
    start_lsn = db.scalar(sa.text("SELECT pg_current_wal_lsn()"))
    v, anon, code, default_case, named_case, (anon_reply, anon_wire) = _scenario(make_citizen, db, run_jobs)
    mine = vault.openid_hash(V).encode()
    end_lsn = db.scalar(sa.text("SELECT pg_current_wal_lsn()"))
    assert anon.reporter_id is None and default_case.reporter_id == named_case.reporter_id is not None

    # 1. The transaction that made the anonymous case: what else did it write? Nothing of V's.
    made = db.scalar(sa.text("SELECT xmin::text::bigint FROM case_events WHERE case_id = :c AND action = 'submitted'"),
                     {"c": anon.id})
    every = {t: _tuples(db, t) for t in _tables(db)}
    for table, tuples in every.items():
        for tup in tuples:
            if made in (tup.xmin, tup.xmax):
                assert mine not in bytes(tup.data), f"{table}: a row of V's written with the anonymous case"
                assert table != "conversations" and table != "reporters", table
    # ... nor in the write-ahead log: no record of that transaction touches a conversation, and
    # none deletes or updates a piece (only the 提交 push's own row is written).
    conversations = db.scalar(sa.text("SELECT pg_relation_filenode('conversations')"))
    pushes = db.scalar(sa.text("SELECT pg_relation_filenode('pushes')"))
    records = db.execute(sa.text("SELECT record_type, block_ref, description FROM pg_get_wal_records_info(:a, :b) "
                                 "WHERE xid::text::bigint = :x"), {"a": start_lsn, "b": end_lsn, "x": made}).all()
    assert records, "the anonymous case's transaction is in the WAL"
    assert not [r for r in records if f"/{conversations} " in (r.block_ref or "") + " "]
    on_pushes = [r for r in records if f"/{pushes} " in (r.block_ref or "") + " "]
    assert not [r for r in on_pushes if r.record_type.startswith("DELETE")]
    assert len({re.search(r"off (\d+)", r.description).group(1) for r in on_pushes
                if re.search(r"off (\d+)", r.description)}) <= 2  # the 提交 row (inserted, then its reply)

    # 2. Deleted and live rows: the report's words are in the clear in the case only (a draft's
    # pieces are sealed, and no deleted draft row keeps them).
    phrase = ANON_PHRASE.encode()
    holding = {table for table, tuples in every.items() for tup in tuples if phrase in bytes(tup.data)}
    assert holding == {"cases"}
    assert not any(LABEL.encode() in bytes(t.data) for table in CONVERSATION_TABLES for t in every[table])
    assert not any(code.encode() in bytes(t.data) for tuples in every.values() for t in tuples)
    # V's other cases share a reporter (its blind index is V's); nothing else outside the
    # conversation's own rows carries it, and (1.) none of those was written with the anonymous case.
    assert {table for table, tuples in every.items() if table not in CONVERSATION_TABLES
            for t in tuples if mine in bytes(t.data)} == {"reporters"}

    # 3. Sequences and identifiers: nothing V wrote is numbered in the order of arrival.
    sequences = set(db.scalars(sa.text("SELECT sequencename FROM pg_sequences")))
    assert not {s for s in sequences if s.split("_id_seq")[0] in CONVERSATION_TABLES}
    # 4. Times: V's conversation and pieces say the hour, never the minute.
    for row in db.execute(sa.text("SELECT last_inbound_at, created_at, reminded_at FROM conversations")):
        assert all(t is None or (t.minute, t.second, t.microsecond) == (0, 0, 0) for t in row)
    assert all((t.minute, t.second) == (0, 0) for t in db.scalars(
        sa.select(Push.at).where(Push.conversation.is_not(None))))
    # 5. Logs: no openid, no blind index, no query code; the anonymous reply is as long as any.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert V not in logged and vault.openid_hash(V) not in logged and code not in logged
    other = make_citizen("oSIZE0000000000000000000001")
    other.say("石门村的路灯也坏了好久，晚上很黑")
    default_reply = other.say("提交")
    assert len(anon_reply.encode()) == len(default_reply.encode())
    assert anon_wire == len(other.last_response.data)  # on the wire too (same length of openid)
    # A lookup of the anonymous case and of none: the same size.
    assert len(other.say(f"查询 {anon.tracking_no} {code}").encode()) == len(other.say("查询").encode())

    # 6. The window passes (the purge runs): with IDENTITY_KEY too, nothing is left to open.
    _purge(app, db)
    db.expire_all()
    opened = _sealed_texts(app, db)
    assert ANON_PHRASE not in opened and anon.tracking_no not in opened and code not in opened
    for table in ("pushes", "submitted_pieces"):
        dead = [t for t in _tuples(db, table) if t.xmax != 0]
        assert dead == [], f"{table}: deleted rows left after the purge's VACUUM"
    # The pieces V still has are none: every draft V wrote was submitted.
    assert db.scalar(sa.select(sa.func.count()).select_from(Push).where(
        Push.conversation == vault.openid_hash(V))) == 0


def test_a_copy_of_the_sqlite_files_does_not_keep_the_anonymous_draft(app, db, make_citizen, run_jobs, settings):
    """SQLite has no system columns to join on; what it could keep is the draft itself, in freed
    pages or the WAL. Deleted content is overwritten (secure_delete) and the purge checkpoints
    the WAL: afterwards the report's words are in the file exactly as often as the case holds them."""
    if not app.extensions["db"].url.startswith("sqlite"):
        pytest.skip("the SQLite files: the default set-up")
    vault = app.extensions["vault"]
    v, anon, code, *_ = _scenario(make_citizen, db, run_jobs)
    files = [settings.instance_path / "mashang.db", settings.instance_path / "mashang.db-wal"]
    assert code.encode() not in b"".join(p.read_bytes() for p in files if p.exists())
    _purge(app, db)
    db.close()
    raw = b"".join(p.read_bytes() for p in files if p.exists())
    live = sum(ANON_PHRASE in (value or "") for value in (anon.text, anon.summary))
    assert live >= 1 and raw.count(ANON_PHRASE.encode()) == live
    # V's blind index: the conversation and the reporter of V's default and named cases, each a
    # row and its index entry. No piece, no deleted row, no leftover index entry.
    assert raw.count(vault.openid_hash(V).encode()) == 4
    assert code.encode() not in raw and _sealed_texts(app, db).count(ANON_PHRASE) == 0
