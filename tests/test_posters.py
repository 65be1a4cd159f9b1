"""Posters (二维码): what a scan says and where its reports go when the poster is retired, or
scanned before or after its round."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from core.models import Case
from tests.replies import tracking_no


def test_a_poster_scanned_after_its_round_greets_as_the_office(citizen, clock, round_dates):
    round_dates("2026-11-01", "2026-12-31")
    clock.pin("2027-02-01 10:00")
    greeting = citizen.scan("G1-baisha")
    assert greeting.startswith("您好！这里是示范县委巡察办。") and "已经结束" in greeting
    assert "县委第一巡察组" not in greeting and "正在开展" not in greeting and "0734-1234500" in greeting
    citizen.say("村里的路灯坏了三个月，晚上走路很不安全")
    reply = citizen.say("提交")  # the group has gone home: the office takes it, not 第一巡察组
    assert "承办：巡察办" in reply and "县委第一巡察组" not in reply


def _retire(runner, tmp_path, scene_line: str) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(Path("deploy/demo.yaml").read_text(encoding="utf-8").replace(scene_line, ""), encoding="utf-8")
    assert "qr codes retired: 1" in runner.invoke(args=["deploy", "load", str(path)]).output


def test_a_retired_poster_greets_as_the_office_and_its_group_gets_nothing(citizen, db, runner, run_jobs,
                                                                           tmp_path):
    _retire(runner, tmp_path, "  - {scene: G1-baisha, group: G1, unit: 青石镇/白沙村}\n")
    greeting = citizen.scan("G1-baisha")
    assert greeting.startswith("您好！这里是示范县委巡察办。") and "这张二维码已停用" in greeting
    assert "县委第一巡察组" not in greeting and "白沙村" not in greeting
    citizen.say("这里的路灯坏了三个月，晚上走路很不安全")
    reply = citizen.say("提交")
    assert "承办：巡察办" in reply and "县委第一巡察组" not in reply
    run_jobs()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == tracking_no(reply)))
    assert case.qr_code.scene == "G1-baisha"  # where it came from is kept
    assert case.group_id is None and case.unit_id is None  # but its group and village no longer hold
    assert case.evidence["qr"] == "qr code G1-baisha retired: ignored"
    assert case.evidence["group"] == "no group: office queue"


def test_the_latest_scan_wins_also_when_it_is_a_retired_poster(citizen, db, runner, run_jobs, tmp_path):
    citizen.scan("G2-shimen")
    citizen.say("村里的路灯坏了三个月，晚上走路很不安全")
    citizen.say("提交")  # an earlier report through a live poster: the conversation remembers it
    citizen.scan("G2-shimen", first_time=False)
    citizen.say("路边的垃圾堆了半个月没人清")  # an open draft, bound to 第二组's poster
    _retire(runner, tmp_path, "  - {scene: G1-baisha, group: G1, unit: 青石镇/白沙村}\n")
    greeting = citizen.scan("G1-baisha", first_time=False)
    assert "这张二维码已停用，您的反映将由巡察办受理" in greeting and "1条内容" in greeting
    reply = citizen.say("提交")  # as the greeting said: the office, not 第二巡察组 or 石门村
    assert "承办：巡察办" in reply, reply
    run_jobs()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == tracking_no(reply)))
    assert case.qr_code.scene == "G1-baisha" and case.unit_id is None and case.group_id is None


def test_a_retired_posters_case_stays_in_the_posters_round(citizen, db, runner, tmp_path):
    tenth = tmp_path / "tenth.yaml"  # a second round, started later, running at the same time
    tenth.write_text("office: {name: 示范县委巡察办}\n"  # the demo's round: today-30 .. today+60
                     "round: {name: 十三届县委第十轮巡察, start: today-10, end: today+90}\n"
                     "groups: [{code: G1, name: 十轮第一组}]\nqrcodes: [{scene: R10-OFFICE}]\n", encoding="utf-8")
    assert "created rounds: 1" in runner.invoke(args=["deploy", "load", str(tenth)]).output
    citizen.scan("G1-baisha")
    citizen.say("这里的路灯坏了三个月，晚上走路很不安全")
    _retire(runner, tmp_path, "  - {scene: G1-baisha, group: G1, unit: 青石镇/白沙村}\n")
    reply = citizen.say("提交")
    assert "承办：巡察办" in reply
    case = db.scalar(sa.select(Case).where(Case.tracking_no == tracking_no(reply)))
    assert case.round.name == "十三届县委第九轮巡察" and case.group_id is None


def test_a_case_routed_after_its_poster_was_retired_keeps_nothing_of_the_poster(citizen, db, app, runner,
                                                                                 tmp_path, monkeypatch):
    import core.app
    from routing.jobs import route_case

    class Backlog:  # the routing job waits in a long queue
        def after_commit(self, *args, **kwargs):
            pass

    monkeypatch.setattr(core.app, "jobs", lambda: Backlog())
    citizen.scan("G1-baisha")
    citizen.say("这里的路灯坏了三个月，晚上走路很不安全")
    reply = citizen.say("提交")  # the routing job is still queued when the office retires the poster
    case = db.scalar(sa.select(Case).where(Case.tracking_no == tracking_no(reply)))
    assert case.unit_id is not None and case.group_id is not None  # the poster's, until routing decides
    _retire(runner, tmp_path, "  - {scene: G1-baisha, group: G1, unit: 青石镇/白沙村}\n")
    with app.app_context():
        route_case(case.id)
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.group_id is None and case.unit_id is None and case.status == "received"
    assert case.evidence["qr"] == "qr code G1-baisha retired: ignored"


def test_a_poster_scanned_before_its_round_greets_as_the_office(citizen, db, app, clock, round_dates):
    from routing.jobs import route_case

    round_dates("2026-11-01", "2026-12-31")
    clock.pin("2026-10-20 10:00")
    greeting = citizen.scan("G1-baisha")
    assert greeting.startswith("您好！这里是示范县委巡察办。") and "将于2026年11月01日开始" in greeting
    assert "县委第一巡察组" not in greeting and "正在开展" not in greeting
    citizen.say("村里的路灯坏了三个月，晚上走路很不安全")
    reply = citizen.say("提交")
    assert "承办：巡察办" in reply  # as the greeting said
    case = db.scalar(sa.select(Case).where(Case.tracking_no == tracking_no(reply)))
    if app.extensions["jobs"].in_process:
        app.extensions["jobs"].wait(timeout=30)  # routed already, in this process
    with app.app_context():  # else here, on the pinned date (a worker process would have today's)
        route_case(case.id)
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.group_id is None and case.evidence["group"] == "qr code's round starts 2026-11-01: office queue"


def test_a_round_begins_and_ends_at_midnight_in_beijing(citizen, db, clock, round_dates):
    round_dates("2026-11-01", "2026-12-31")
    clock.pin("2026-10-31 23:50")  # Beijing; 15:50 UTC
    assert "将于2026年11月01日开始" in citizen.scan("G1-baisha")
    clock.pin("2026-11-01 00:10")  # still 2026-10-31 in UTC, the round's first day in Beijing
    assert "县委第一巡察组" in citizen.scan("G1-baisha", first_time=False)
    clock.pin("2026-12-31 23:50")  # the last day
    assert "县委第一巡察组" in citizen.scan("G1-baisha", first_time=False)
    citizen.say("村里的路灯坏了三个月，晚上走路很不安全")
    clock.pin("2027-01-01 00:10")  # 2026-12-31 16:10 UTC: over in Beijing
    reply = citizen.say("提交")
    assert "承办：巡察办" in reply and "县委第一巡察组" not in reply
    number = tracking_no(reply)
    assert number.startswith("XC270101")  # the Beijing date, not UTC's 261231
    assert db.scalar(sa.select(Case.group_id).where(Case.tracking_no == number)) is None
