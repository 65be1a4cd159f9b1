"""`flask deploy load FILE`: the design's deployment file, idempotent, clear errors."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from core.models import Group, QrCode, Round, Staff, Unit, UnitAlias
from core.models.org import GROUP_ROLES


def test_demo_is_loaded_and_reload_changes_nothing(runner, db):
    out = runner.invoke(args=["deploy", "load", "deploy/demo.yaml"]).output
    assert "nothing changed" in out
    assert db.scalar(sa.select(Unit).where(Unit.path == "青石镇/白沙村")).parent.path == "青石镇"
    g1 = db.scalar(sa.select(Group).where(Group.code == "G1"))
    assert sorted(u.path for u in g1.units) == ["县人社局", "青石镇"] and g1.phone == "0734-1234501"
    assert {a.alias for a in db.scalars(sa.select(UnitAlias).join(Unit).where(Unit.path == "县人社局"))} == \
        {"人社局", "人力资源和社会保障局"}
    # A home unit outside the round's units is recorded (cross-inspection needs it).
    zhang = db.scalar(sa.select(Staff).where(Staff.login == "zhang"))
    assert zhang.home_unit.path == "柳溪镇/石门村" and zhang.group.code == "G1"
    office_qr = db.scalar(sa.select(QrCode).where(QrCode.scene == "OFFICE"))
    assert office_qr.group_id is None and office_qr.unit_id is None


def test_changed_file_updates_in_place(runner, db, tmp_path):
    text = open("deploy/demo.yaml", encoding="utf-8").read().replace("0734-1234501", "0734-9999999")
    path = tmp_path / "d.yaml"
    path.write_text(text, encoding="utf-8")
    out = runner.invoke(args=["deploy", "load", str(path)]).output
    assert "updated groups: 1" in out and "created" not in out
    db.expire_all()
    assert db.scalar(sa.select(Group.phone).where(Group.code == "G1")) == "0734-9999999"
    assert db.scalar(sa.select(sa.func.count()).select_from(Group)) == 2


def test_bad_files_get_clear_errors(runner, tmp_path):
    cases = {
        "office: [1, 2": "not valid YAML",
        "office: {name: X}\nround: {name: R, start: 2026-11-01, end: soon}": "round: end must be a date",
        "office: {name: X}\nround: {name: R, start: today-1w, end: today}":
            "round: start must be a date like 2026-11-01, or days from the day of loading like today-30, not 'today-1w'",
        "office: {name: X}\nround: {name: R, start: today, end: today-1}": "is before start",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "groups: [{code: G9, name: 第九组, units: [无此镇]}]"): "no unit '无此镇'",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "qrcodes: [{scene: S1, group: G404}]"): "no group 'G404'",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "units: [{name: 某镇, kind: city}]"): "kind must be one of",
        "office: 县委巡察办\nround: {name: R, start: 2026-11-01, end: 2026-12-01}": "office: expected a mapping",
        "office: {name: X}\nround: {name: R, start: 2026-12-01, end: 2026-11-01}": "end 2026-11-01 is before start",
        "office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01, handover_days: 十五}":
            "handover_days must be a number",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "units: [{name: 青石镇, aliases: 青石}]"): "aliases: expected a list",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "units: [{name: 青石镇, aliases: [青]}]"): "alias '青' is too short",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "units: [{name: 青石镇, lat: 北纬}]"): "lat must be a number",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\nunits: [青石镇]"):
            "units: expected a mapping",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\nunits: [{name: 青石镇}]\n"
         "groups: [{code: G1, name: 一组, units: [青石镇]}, {code: G1, name: 二组}]"): "code G1 is used twice",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\nunits: [{name: 青石镇}]\n"
         "groups: [{code: G1, name: 一组, units: [青石镇]}, {code: G2, name: 二组, units: [青石镇]}]"):
            "unit 青石镇 is inspected by groups G1 and G2",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "groups: [{code: G1, name: 一组, staff: [{login: li, name: 李, role: member}]},"
         " {code: G2, name: 二组, staff: [{login: li, name: 李, role: member}]}]"): "staff li is listed in groups G1 and G2",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "qrcodes: [{scene: S1}, {scene: S1}]"): "scene S1 is listed twice",
        ("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
         "groups: [{code: G1, name: 一组, staff: [{login: li, name: 李, role: member, home_unit: 12}]}]"):
            "home_unit must be a unit path",
    }
    for i, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.yaml"
        path.write_text(text, encoding="utf-8")
        result = runner.invoke(args=["deploy", "load", str(path)])
        assert result.exit_code != 0 and message in result.output, (text, result.output)


def test_a_home_unit_outside_the_file_is_recorded_and_shown(runner, tmp_path):
    path = tmp_path / "home.yaml"
    path.write_text("office: {name: X}\nround: {name: R, start: 2026-11-01, end: 2026-12-01}\n"
                    "units: [{name: 新桥镇, aliases: [新桥, 新桥]}]\n"
                    "groups: [{code: G7, name: 七组, units: [新桥镇],"
                    " staff: [{login: li, name: 李, role: member, home_unit: 柳西镇/石门村}]}]\n", encoding="utf-8")
    out = runner.invoke(args=["deploy", "load", str(path)]).output
    assert "created unit aliases: 1" in out  # the repeated alias once
    assert "home units not among the file's units, recorded (check the spelling): li: 柳西镇/石门村" in out
    assert "nothing changed" in runner.invoke(args=["deploy", "load", str(path)]).output


def test_a_member_left_out_of_the_file_leaves_the_group(runner, db, tmp_path):
    text = open("deploy/demo.yaml", encoding="utf-8").read()
    path = tmp_path / "demo.yaml"
    path.write_text(text.replace("      - {name: 张组长, role: leader, home_unit: 柳溪镇/石门村, login: zhang}\n", ""),
                    encoding="utf-8")
    out = runner.invoke(args=["deploy", "load", str(path)]).output
    assert "updated staff removed from their group: 1" in out, out
    db.expire_all()
    zhang = db.scalar(sa.select(Staff).where(Staff.login == "zhang"))
    assert zhang.group_id is None and zhang.home_unit.path == "柳溪镇/石门村"  # kept, out of the group
    assert "nothing changed" in runner.invoke(args=["deploy", "load", str(path)]).output


def test_a_poster_left_out_of_the_file_is_retired_and_comes_back(runner, db, tmp_path):
    text = Path("deploy/demo.yaml").read_text(encoding="utf-8")
    path = tmp_path / "demo.yaml"
    path.write_text(text.replace("  - {scene: G1-zaohetian, group: G1, unit: 青石镇/早禾田村}\n", ""), encoding="utf-8")
    out = runner.invoke(args=["deploy", "load", str(path)]).output
    assert "updated qr codes retired: 1" in out, out
    db.expire_all()
    retired = {q.scene for q in db.scalars(sa.select(QrCode).where(QrCode.retired_at.is_not(None)))}
    assert retired == {"G1-zaohetian"}  # kept (cases point at it), not deleted; the others untouched
    assert "nothing changed" in runner.invoke(args=["deploy", "load", str(path)]).output
    out = runner.invoke(args=["deploy", "load", "deploy/demo.yaml"]).output
    assert "updated qr codes: 1" in out, out
    db.expire_all()
    assert db.scalar(sa.select(QrCode.retired_at).where(QrCode.scene == "G1-zaohetian")) is None


def test_a_scene_two_rounds_list_is_reported_when_it_moves(runner, db, tmp_path):
    tenth = tmp_path / "tenth.yaml"
    tenth.write_text("office: {name: 示范县委巡察办}\n"
                     "round: {name: 十三届县委第十轮巡察, start: 2026-11-15, end: 2027-01-31}\n"
                     "qrcodes: [{scene: OFFICE}]\n", encoding="utf-8")
    out = runner.invoke(args=["deploy", "load", str(tenth)]).output
    assert "qr codes moved here from another round (check that file): OFFICE (from 十三届县委第九轮巡察)" in out, out
    out = runner.invoke(args=["deploy", "load", "deploy/demo.yaml"]).output  # and back: said again
    assert "OFFICE (from 十三届县委第十轮巡察)" in out, out


def test_a_file_without_qrcodes_or_groups_retires_or_detaches_nothing(runner, db, tmp_path):
    text = Path("deploy/demo.yaml").read_text(encoding="utf-8")
    path = tmp_path / "demo.yaml"
    path.write_text(text[:text.index("groups:")], encoding="utf-8")  # office, round, units only
    assert "nothing changed" in runner.invoke(args=["deploy", "load", str(path)]).output
    db.expire_all()
    assert db.scalar(sa.select(sa.func.count()).select_from(QrCode).where(QrCode.retired_at.is_not(None))) == 0
    group_roles = [r.value for r in GROUP_ROLES.values()]
    assert db.scalar(sa.select(sa.func.count()).select_from(Staff).where(
        Staff.group_id.is_(None), Staff.role.in_(group_roles))) == 0


def test_round_dates_relative_to_the_day_of_loading(runner, db, clock, tmp_path):
    from datetime import date

    path = tmp_path / "rehearsal.yaml"
    path.write_text("office: {name: X}\nround: {name: 演练, start: today-30, end: today + 60}\n", encoding="utf-8")

    def load() -> tuple[str, tuple[date, date]]:
        out = runner.invoke(args=["deploy", "load", str(path)]).output
        db.expire_all()
        return out, db.execute(sa.select(Round.start, Round.end).where(Round.name == "演练")).one()

    clock.pin("2027-06-15 10:00")
    out, dates = load()
    assert "created rounds: 1" in out and dates == (date(2027, 5, 16), date(2027, 8, 14))
    assert "round dates counted from today (2027-06-15): 2027-05-16 to 2027-08-14" in out, out
    clock.pin("2027-06-15 23:50")
    assert "nothing changed" in load()[0]  # the same day: the same round
    clock.pin("2028-01-01 00:30")  # 2027-12-31 16:30 UTC: already the new year in Beijing
    out, dates = load()
    assert "updated rounds: 1" in out and dates == (date(2027, 12, 2), date(2028, 3, 1))


def test_the_demo_is_live_on_whatever_day_it_is_loaded(runner, clock, make_citizen):
    for i, day in enumerate(["2026-10-15 10:00", "2031-03-01 00:30"]):  # before the first demo's round; years on
        clock.pin(day)
        assert "round dates counted from today" in runner.invoke(args=["deploy", "load", "deploy/demo.yaml"]).output
        greeting = make_citizen(f"oDEMO{i:023d}").scan("G1-baisha")
        assert "县委第一巡察组" in greeting and "正在开展" in greeting, greeting
