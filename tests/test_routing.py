"""The router end to end: `flask routing explain | eval | train`, the routing job after a
submission, duplicate clusters, the location fallback. Uses the shipped model."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.models import Attachment, Case, CaseEvent
from tests.replies import tracking_no

HELDOUT = Path(__file__).resolve().parent.parent / "routing" / "data" / "heldout.csv"


def explain(runner, text: str, qr: str | None = None) -> dict:
    args = ["routing", "explain", "--text", text] + (["--qr", qr] if qr else [])
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_explain_a_clue_about_a_village_party_secretary(runner):
    d = explain(runner, "白沙村村支书把低保名额给了自己亲戚，家里有车有房还吃低保")
    assert set(d) == {"kind", "domain", "unit", "group", "priority", "evidence"}
    assert (d["kind"], d["domain"], d["unit"], d["group"]) == ("clue", "funds", "青石镇/白沙村", "G1")
    assert d["priority"] == 3  # a clue (+1) about the top official (一把手, +2)
    ev = d["evidence"]
    assert ev["unit"] == "named: 白沙村" and ev["group"] == "inspects the unit" and ev["top_official"] == "村支书"
    assert ev["model_version"].startswith("route-") and "kind" in ev["scores"] and "domain" in ev["words"]


def test_unit_falls_back_to_the_qr_code_and_the_text_wins_over_it(runner):
    d = explain(runner, "我们村的自来水停了半个月，一直没人管", qr="G2-shimen")
    assert (d["unit"], d["group"], d["evidence"]["unit"]) == ("柳溪镇/石门村", "G2", "qr: G2-shimen")
    d = explain(runner, "石门村修路的工程款被村干部挪用了", qr="G1-baisha")
    assert (d["unit"], d["group"]) == ("柳溪镇/石门村", "G2")


def test_out_of_scope_and_unplaced_reports_go_to_the_office(runner):
    d = explain(runner, "我和邻居因为宅基地的事吵架，已经起诉到法院了", qr="G1-baisha")
    assert d["kind"] == "out_of_scope" and d["group"] is None and d["evidence"]["rule"]["name"] == "out_of_scope"
    d = explain(runner, "建议巡察组多到偏远的组里走一走，听听老百姓的意见")
    assert d["unit"] is None and d["group"] is None and d["evidence"]["group"] == "no group: office queue"
    d = explain(runner, "建议巡察组多到偏远的组里走一走", qr="OFFICE")
    assert d["group"] is None


def test_submission_is_routed_once_by_the_job(citizen, db, run_jobs, app):
    citizen.scan("G1-zaohetian")
    citizen.say("早禾田村村主任挪用了村里修路的工程款，路修了一半就停了")
    number = tracking_no(citizen.say("提交"))
    run_jobs()
    db.expire_all()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert (case.kind, case.status, case.group.code, case.unit.path) == ("clue", "assigned", "G1", "青石镇/早禾田村")
    assert case.assignee.login == "li" and case.model_version.startswith("route-") and case.routed_at
    assert case.evidence["rule"]["name"] == "official+misconduct" and case.priority == 3
    events = [(e.action, e.from_status, e.to_status) for e in case.events]
    assert events == [("submitted", None, "received"), ("routed", "received", "assigned")]
    # The job again (a retry): nothing changes.
    with app.app_context():
        from routing.jobs import route_case

        assert route_case(case.id) == "already routed"
    assert db.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id)) == 2


def test_duplicates_cluster_and_raise_priority(make_citizen, db, run_jobs):
    texts = ["白沙村自来水停了半个月，一直没人管", "白沙村停水半个月了，自来水一直不来", "我们白沙村自来水半个月没来了"]
    numbers = []
    for i, text in enumerate(texts):
        c = make_citizen(f"oDUP{i:022d}")
        c.scan("G1-baisha")
        c.say(text)
        numbers.append(tracking_no(c.say("提交")))
        run_jobs()
    db.expire_all()
    cases = [db.scalar(sa.select(Case).where(Case.tracking_no == n)) for n in numbers]
    first = cases[0]
    assert first.cluster_id is None and [c.cluster_id for c in cases[1:]] == [first.id, first.id]
    assert cases[2].evidence["cluster"]["size"] == 3
    assert all(c.priority >= 2 for c in cases)  # three reports of one issue: +2 for all of them


def test_location_finds_the_unit_when_nothing_else_does(citizen, db, run_jobs):
    citizen.say("这里的路灯坏了三个月，晚上出行很不方便")
    citizen.location(26.71, 112.42, "路边")
    number = tracking_no(citizen.say("提交"))
    run_jobs()
    db.expire_all()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert case.unit.path == "柳溪镇/石门村" and case.group.code == "G2" and case.evidence["unit"] == "location"
    assert db.scalar(sa.select(Attachment.kind).where(Attachment.case_id == case.id)) == "location"


def test_eval_prints_accuracy_per_column_and_confusion(runner):
    out = runner.invoke(args=["routing", "eval", str(HELDOUT)]).output
    acc = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+)\s+accuracy (\d\.\d+)", out, re.M)}
    assert set(acc) == {"kind", "domain", "unit", "group"}, out
    # Floors a point or so under today's figures (shipped model route-20261125-7475dcdf: kind
    # 0.938 = 152/162, domain 0.858 = 139/162, unit 59/59, group 162/162): one more miss passes,
    # a real regression fails. A better model raises them.
    assert acc["kind"] >= 0.93 and acc["domain"] >= 0.85 and acc["unit"] >= 0.98 and acc["group"] >= 0.99, out
    assert "confusion: kind" in out and "confusion: domain" in out


def test_train_uses_confirmed_cases_and_new_cases_record_the_version(runner, db, app, citizen, run_jobs):
    db.add(Case(channel="visit", tracking_no="XC261125999999", text="石门村村主任的儿子在村里开采石场，污染了河道",
                summary="x", kind="petition", domain="other"))
    db.commit()
    out = runner.invoke(args=["routing", "correct", "XC261125999999", "--kind", "clue", "--domain", "environment",
                              "--by", "wang"]).output
    assert "clue/environment (confirmed by wang)" in out
    assert "unknown kind" in runner.invoke(args=["routing", "correct", "XC261125999999", "--kind", "x",
                                                 "--by", "wang"]).output
    db.expire_all()
    event = db.scalar(sa.select(CaseEvent).where(CaseEvent.action == "labels_confirmed"))
    assert event.actor == "staff" and event.staff.login == "wang" and event.note == "petition/other → clue/environment"
    out = runner.invoke(args=["routing", "train"]).output
    m = re.search(r"trained (route-\S+) on (\d+) examples \(0 from the office's files, (\d+) confirmed by staff\)", out)
    assert m and m.group(3) == "1", out
    version = m.group(1)
    assert (app.extensions["settings"].instance_path / "models" / "CURRENT").read_text().strip() == f"{version}.joblib"
    citizen.say("白沙村的路灯坏了三个月没人修")
    number = tracking_no(citizen.say("提交"))
    run_jobs()
    db.expire_all()
    assert db.scalar(sa.select(Case.model_version).where(Case.tracking_no == number)) == version


def _submitted(citizen, *pieces) -> str:
    for kind, value in pieces:
        getattr(citizen, kind)(*value) if isinstance(value, tuple) else getattr(citizen, kind)(value)
    return tracking_no(citizen.say("提交"))


def test_a_photo_only_report_is_routed_but_neither_classified_nor_clustered(make_citizen, db, run_jobs):
    numbers = []
    for i in range(2):
        c = make_citizen(f"oPHOTO{i:021d}")
        c.scan("G1-baisha")
        numbers.append(_submitted(c, ("image", f"MEDIA_PHOTO_{i}")))
        run_jobs()
    db.expire_all()
    for number in numbers:
        case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
        assert (case.kind, case.domain, case.cluster_id, case.priority) == (None, None, None, 0)
        assert (case.unit.path, case.group.code, case.status) == ("青石镇/白沙村", "G1", "assigned")
        assert "unclassified" in case.evidence and "scores" not in case.evidence
        note = db.scalar(sa.select(CaseEvent.note).where(CaseEvent.case_id == case.id, CaseEvent.action == "routed"))
        assert note.startswith("分类：待人工分类")


def test_a_cluster_raises_each_case_from_its_own_priority(make_citizen, db, run_jobs):
    texts = ["白沙村村支书挪用了村里的低保金，好几户都没领到", "白沙村的低保金被村支书挪用了，好几户领不到"]
    numbers = []
    for i, text in enumerate(texts):
        c = make_citizen(f"oCLUE{i:022d}")
        numbers.append(_submitted(c, ("say", text)))
        run_jobs()
    db.expire_all()
    first, second = (db.scalar(sa.select(Case).where(Case.tracking_no == n)) for n in numbers)
    assert first.kind == second.kind == "clue" and second.cluster_id == first.id
    assert first.evidence["base_priority"] == 3
    assert (first.priority, second.priority) == (4, 4)  # 3 (clue about the 一把手) + 1 (two reports)


def test_a_group_whose_members_all_come_from_the_unit_sends_it_to_the_office(citizen, db, run_jobs):
    from core.models import Group, Staff, Unit

    baisha = db.scalar(sa.select(Unit.id).where(Unit.path == "青石镇/白沙村"))
    g1 = db.scalar(sa.select(Group.id).where(Group.code == "G1"))
    for member in db.scalars(sa.select(Staff).where(Staff.group_id == g1)):
        member.home_unit_id = baisha
    db.commit()
    number = _submitted(citizen, ("say", "白沙村的路灯坏了三个月，晚上出行很不方便"))
    run_jobs()
    db.expire_all()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert (case.group_id, case.assignee_id, case.status) == (None, None, "received")
    assert case.evidence["group"] == "every member of G1 is conflicted: office queue"
    assert sorted(case.evidence["conflict_of_interest"]) == ["li", "zhang"]


def test_rounds_start_and_end_on_beijing_dates(app, db, clock, round_dates):
    from routing.jobs import router
    from routing.service import route_case

    def route(text: str, utc: str) -> str | None:
        clock.pin(utc)
        case = Case(channel="visit", text=text, summary=text, status="received")
        db.add(case)
        db.flush()
        with app.app_context():
            return route_case(db, router(), case.id).group

    round_dates("2026-11-01", "2026-12-31")
    # 2026-10-31 15:59 UTC is 23:59 in Beijing: the day before the round.
    assert route("白沙村的路灯坏了三个月", "2026-10-31 15:59Z") is None
    # 2026-10-31 17:00 UTC is 2026-11-01 01:00 in Beijing: the round's first day.
    assert route("白沙村的路灯坏了三个月", "2026-10-31 17:00Z") == "G1"
    # 2026-12-31 15:59 UTC is 23:59 in Beijing: the round's last day.
    assert route("白沙村的路灯又坏了", "2026-12-31 15:59Z") == "G1"
    # 2026-12-31 20:00 UTC is 2027-01-01 04:00 in Beijing: the round is over.
    assert route("白沙村的路灯又坏了", "2026-12-31 20:00Z") is None
    db.rollback()


def test_eval_reads_excel_csv_scores_office_and_skips_unknown_scenes(runner, tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("text,kind,domain,unit,qr,group\r\n"
                    "白沙村的路灯坏了三个月,petition,,青石镇/白沙村,,G1\r\n"
                    "建议巡察组多到偏远的组里走一走,suggestion,,,,office\r\n"
                    "我们村的路灯坏了,petition,,,NO-SUCH-POSTER,G2\r\n"
                    "村里的路灯坏了三个月,petition,,,,\r\n", encoding="utf-8-sig")
    out = runner.invoke(args=["routing", "eval", str(path)]).output
    assert "4 rows from" in out and "skipped 1 rows with an unknown QR scene: NO-SUCH-POSTER (1)" in out
    assert "kind    accuracy 1.000 (3/3)" in out
    assert "group   accuracy 1.000 (2/2)" in out  # G1 and the office; the empty cell is not scored
    assert "domain" not in out.split("confusion")[0].split("group")[0]  # no domain given: not scored
    bad = tmp_path / "bad.csv"
    bad.write_text("message,kind\r\nx,clue\r\n", encoding="utf-8")
    result = runner.invoke(args=["routing", "eval", str(bad)])
    assert result.exit_code != 0 and "no 'text' column" in result.output


def test_eval_reads_an_offices_excel_files_with_chinese_labels(runner, tmp_path):
    from openpyxl import Workbook

    rows = [("反映内容", "类别", "领域", "单位", "qr", "巡察组"),  # names, as an office writes them
            ("白沙村的路灯坏了三个月", "民生诉求", "民生服务", "白沙村", None, "县委第一巡察组"),
            ("建议巡察组多到偏远的组里走一走", "意见建议", None, None, None, "巡察办"),
            ("石门村会计把低保名额给了自己亲戚", "问题线索", "惠民惠农资金", "柳溪镇/石门村", None, "G2")]
    book = Workbook()
    for row in rows:
        book.active.append(row)
    book.save(tmp_path / "台账.xlsx")
    gbk = tmp_path / "台账.csv"  # "CSV (逗号分隔)" from Excel on a Chinese Windows: GB18030
    gbk.write_bytes("\r\n".join(",".join(c or "" for c in r) for r in rows).encode("gb18030"))
    utf16 = tmp_path / "unicode.txt"  # Excel's "Unicode 文本": UTF-16, tab-separated
    utf16.write_bytes("\r\n".join("\t".join(c or "" for c in r) for r in rows).encode("utf-16"))
    for path in (tmp_path / "台账.xlsx", gbk, utf16):
        out = runner.invoke(args=["routing", "eval", str(path)]).output
        assert "3 rows from" in out and "warning" not in out, out
        assert "kind    accuracy 1.000 (3/3)" in out and "domain  accuracy 1.000 (2/2)" in out, out
        assert "unit    accuracy 1.000 (2/2)" in out and "group   accuracy 1.000 (3/3)" in out, out
    odd = tmp_path / "odd.csv"
    odd.write_text("text;kind;group\n白沙村的路灯坏了;民生;第九组\n", encoding="utf-8")  # semicolons
    out = runner.invoke(args=["routing", "eval", str(odd)]).output
    assert "warning: unknown kind '民生'" in out and "warning: unknown group '第九组'" in out, out
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    result = runner.invoke(args=["routing", "eval", str(junk)])
    assert result.exit_code == 1 and "not a readable Excel workbook" in result.output


def test_an_offices_history_is_kept_as_training_data(runner, app, tmp_path):
    from openpyxl import Workbook

    from routing.jobs import retrain_if_changed
    from routing.labeled import import_name

    book = Workbook()
    book.active.title = "说明"
    book.active.append(["本台账记录2025年巡察期间群众反映的问题"])
    sheet = book.create_sheet("台账")  # the data on the second sheet, under a title row
    for row in [("2025年巡察信访台账",), ("序号", "反映内容", "类别", "领域"),
                (1, "村里的光伏电站收益不知道去哪了", "问题线索", "集体三资"),
                (2, "村集体的山林承包款没有公示", None, "集体三资"),  # 类别 merged over rows 3-4
                (3, "老年协会的活动室能不能冬天开空调", "ＳＵＧＧＥＳＴＩＯＮ", "民生服务"),
                (4, "只有文字没有分类", None, None)]:
        sheet.append(row)
    sheet.merge_cells("C3:C4")
    history = tmp_path / "2025年台账.xlsx"
    book.save(history)
    out = runner.invoke(args=["routing", "import", str(history)]).output
    assert "kept 3 labelled reports" in out and "(1 without labels skipped)" in out, out
    kept = app.extensions["settings"].instance_path / "training" / import_name(history)
    assert kept.read_text(encoding="utf-8").splitlines()[1:] == [
        "村里的光伏电站收益不知道去哪了,clue,collective_assets", "村集体的山林承包款没有公示,clue,collective_assets",
        "老年协会的活动室能不能冬天开空调,suggestion,livelihood"]
    out = runner.invoke(args=["routing", "import", str(history)]).output
    assert "replaces the earlier import of this file" in out and len(list(kept.parent.iterdir())) == 1
    other = tmp_path / "2025年_台账.xlsx"  # the same name once sanitised: a second import, not a replacement
    other.write_bytes(history.read_bytes())
    assert "replaces" not in runner.invoke(args=["routing", "import", str(other)]).output
    assert len(list(kept.parent.iterdir())) == 2
    with app.app_context():  # the nightly job learns from them without anyone running train
        version = retrain_if_changed()
        assert version.startswith("route-") and retrain_if_changed() is None
    out = runner.invoke(args=["routing", "train"]).output
    assert "(6 from the office's files, 0 confirmed by staff)" in out and version in out, out
    for path in kept.parent.iterdir():  # the office takes its history back: so does the model
        path.unlink()
    with app.app_context():
        assert retrain_if_changed() == "shipped" and retrain_if_changed() is None
        from routing import model
        from routing.jobs import router

        assert f"{router().model.version}.joblib" == (model.SHIPPED / "CURRENT").read_text().strip()


@pytest.mark.parametrize("name, content, error", [
    ("wrong.csv", "text,kind,domain\n路灯坏了,民生,livelihood\n".encode(),
     "unknown kind '民生' (one of clue, petition, suggestion, out_of_scope)"),
    ("mixed.csv", "text,kind\n路灯坏了,petition\n".encode() + "低保被冒领,clue\n".encode("gbk"),
     "mixed encodings (line 2 is UTF-8"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "an old Excel .xls file"),
    ("fake.xlsx", b"text,kind\n", "not a readable Excel workbook"),
    ("twice.csv", "反映内容,text,kind\n路灯坏了,,petition\n".encode(), "the columns 反映内容、text both mean 'text'"),
    ("none.csv", "message,kind\nx,clue\n".encode(), "no 'text' column"),
])
def test_an_unusable_file_is_refused_in_one_line_and_nothing_is_kept(runner, app, tmp_path, name, content, error):
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(args=["routing", "import", str(path)])
    assert result.exit_code == 1 and error in result.output and "Traceback" not in result.output, result.output
    assert not (app.extensions["settings"].instance_path / "training").exists()


def test_a_hand_copied_training_file_cannot_teach_unknown_labels(app, caplog):
    from routing.jobs import training_rows

    folder = app.extensions["settings"].instance_path / "training"
    folder.mkdir()
    (folder / "copied.csv").write_bytes("text,kind,domain\n路灯坏了,民生诉求,民生服务\n桥断了,民生,\n".encode("gbk"))
    with app.app_context():
        rows, counts = training_rows()
    assert counts["office"] == 1 and rows[-1 - counts["staff"]] == {"text": "路灯坏了", "kind": "petition",
                                                                    "domain": "livelihood"}
    assert "1 rows with labels outside the taxonomy skipped" in caplog.text


def test_a_lost_routing_job_is_queued_again(app, db, run_jobs):
    from datetime import timedelta

    from core.db import utcnow
    from routing.jobs import requeue_unrouted

    case = Case(channel="visit", text="白沙村的路灯坏了三个月", summary="x", status="received",
                created_at=utcnow() - timedelta(minutes=30))
    db.add(case)
    db.commit()
    with app.app_context():
        assert requeue_unrouted() == 1
    run_jobs()
    db.expire_all()
    assert db.get(Case, case.id).routed_at is not None and db.get(Case, case.id).group.code == "G1"
    with app.app_context():
        assert requeue_unrouted() == 0


def test_staff_corrections_retrain_the_model_overnight(app, db, runner):
    from routing.jobs import retrain_if_changed

    with app.app_context():
        assert retrain_if_changed() is None  # nothing confirmed yet: the shipped model stays
    db.add(Case(channel="visit", tracking_no="XC261125999998", text="柳溪镇的砂石场半夜偷采河砂，河堤都挖空了",
                summary="x", kind="petition", domain="other"))
    db.commit()
    assert runner.invoke(args=["routing", "correct", "XC261125999998", "--kind", "clue", "--domain",
                               "environment", "--by", "wang"]).exit_code == 0
    with app.app_context():
        version = retrain_if_changed()
        assert version and version.startswith("route-")
        from routing.jobs import router

        assert router().model.version == version  # the next case is routed by it
        assert retrain_if_changed() is None  # nothing new since


def test_a_poster_left_up_after_its_round_sends_reports_to_the_office(app, db, clock, round_dates):
    from core.models import QrCode
    from routing.jobs import router

    round_dates("2026-11-01", "2026-12-31")
    qr = db.scalar(sa.select(QrCode).where(QrCode.scene == "G1-baisha"))
    with app.app_context():
        clock.pin("2026-12-01 10:00")
        during = router().decide(db, "这里的路灯坏了三个月", qr)
        clock.pin("2027-02-01 10:00")
        after = router().decide(db, "这里的路灯坏了三个月", qr)
    assert (during.group, during.evidence["group"]) == ("G1", "inspects the unit")
    assert after.group is None and after.evidence["group"] == "qr code's round ended 2026-12-31: office queue"
    assert after.unit == "青石镇/白沙村"  # the poster still says where


def test_the_nightly_retrain_may_run_for_hours(app, monkeypatch):
    import rq.cron

    from intake.delivery import reap
    from intake.jobs import purge_orphan_media, purge_pushes, requeue_pending_media, sweep_drafts
    from routing.jobs import requeue_unrouted, retrain_if_changed

    registered = {}

    class Scheduler:  # RQ's cron, recording what `flask jobs cron` registers
        def __init__(self, connection):
            pass

        def register(self, func, queue_name, cron, job_timeout=None):
            registered[func] = job_timeout

        def start(self):
            pass

    monkeypatch.setattr(rq.cron, "CronScheduler", Scheduler)
    monkeypatch.setattr(app.extensions["jobs"], "queue", object())  # as with REDIS_URL: RQ's cron, not the loop
    assert app.test_cli_runner().invoke(args=["jobs", "cron"]).exit_code == 0
    # Every feature registered its periodic jobs (core names none of them but its own).
    from admin.deadlines import remind_due_handovers
    from admin.retention import purge_identities
    from admin.warnings import refresh_cards
    from core.ratelimit import purge_rate_counters

    assert set(registered) == {requeue_pending_media, requeue_unrouted, sweep_drafts, purge_pushes,
                               purge_orphan_media, retrain_if_changed, purge_rate_counters, remind_due_handovers,
                               refresh_cards, purge_identities, reap}
    assert registered[retrain_if_changed] >= 3600  # RQ's default 180 s would kill a big retrain
