"""Migrations: the schema they build is the models', and 0003 carries old rows into the lifecycle
(staff events name their member; the group's liaison is named apart)."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import Base
from core.search import unmodelled
from tests.conftest import ROOT


def _config(url: str):
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def test_the_migrated_schema_is_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(_config(url), "head")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": unmodelled}), Base.metadata)
        checks = {c["name"] for c in sa.inspect(conn).get_check_constraints("cases")}
    engine.dispose()
    assert diff == []
    assert "ck_cases_status" in checks


def test_0003_moves_old_rows_into_the_lifecycle(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = _config(url)
    command.upgrade(cfg, "0002")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO staff (id, login, name, role) VALUES (1, 'zhao', '赵', 'liaison'), "
                             "(2, 'zhang', '张', 'leader')"))
        conn.execute(sa.text(
            "INSERT INTO cases (id, channel, text, summary, anonymity, status, priority, labels_confirmed, "
            "created_at, updated_at) VALUES (1, 'wechat', 't', 't', 'default', 'assigned', 0, 1, "
            "'2026-11-20 01:00:00', '2026-11-20 01:00:00')"))
        conn.execute(sa.text(
            "INSERT INTO case_events (case_id, at, actor, action, from_status, to_status, public) VALUES "
            "(1, '2026-11-20 01:00:00', 'citizen', 'submitted', NULL, 'received', 1), "
            "(1, '2026-11-20 02:00:00', 'staff:zhang', 'labels_confirmed', 'assigned', 'assigned', 0)"))
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert dict(conn.execute(sa.text("SELECT login, role FROM staff")).all()) == {
            "zhao": "group_liaison", "zhang": "group_leader"}
        assert conn.execute(sa.text("SELECT actor, staff_id FROM case_events ORDER BY id")).all() == [
            ("citizen", None), ("staff", 2)]
    command.downgrade(cfg, "0002")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT actor FROM case_events ORDER BY id")).scalars().all() == [
            "citizen", "staff:zhang"]
        assert dict(conn.execute(sa.text("SELECT login, role FROM staff")).all())["zhao"] == "liaison"
    engine.dispose()


def test_0005_indexes_the_cases_already_there_and_goes_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = _config(url)
    command.upgrade(cfg, "0004")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO cases (id, channel, text, summary, anonymity, status, priority, labels_confirmed, "
            "created_at, updated_at) VALUES (1, 'wechat', '白沙村低保不公', 't', 'default', 'received', 0, 0, "
            "'2026-11-20 01:00:00', '2026-11-20 01:00:00')"))
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT rowid FROM case_search_fts WHERE case_search_fts MATCH '\"低保\"'")
                            ).scalars().all() == [1]
    command.downgrade(cfg, "0004")
    command.upgrade(cfg, "head")
    engine.dispose()


def test_0006_keeps_cases_and_handovers_and_goes_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = _config(url)
    command.upgrade(cfg, "0005")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO units (id, name, path, kind) VALUES (1, '白沙村', '白沙村', 'village')"))
        conn.execute(sa.text(
            "INSERT INTO cases (id, channel, text, summary, anonymity, status, priority, labels_confirmed, "
            "created_at, updated_at) VALUES (1, 'wechat', '路灯坏了', 't', 'default', 'handed_over', 0, 0, "
            "'2026-11-20 01:00:00', '2026-11-20 01:00:00')"))
        conn.execute(sa.text("INSERT INTO handovers (case_id, unit_id, due_on, at) "
                             "VALUES (1, 1, '2026-12-05', '2026-11-20 02:00:00')"))
    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status, merged_into_id FROM cases")).one() == ("handed_over", None)
        assert conn.execute(sa.text("SELECT case_id, text FROM handovers")).one() == (1, None)
        checks = {c["name"] for c in sa.inspect(conn).get_check_constraints("cases")}
    assert "ck_cases_status" in checks  # the batch copy of cases keeps its CHECK
    command.downgrade(cfg, "0005")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM handovers")).scalar() == 1
    command.upgrade(cfg, "head")
    engine.dispose()
