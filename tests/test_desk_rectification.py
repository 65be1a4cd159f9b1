"""A handover's rectification and a clue's transfer, end to end through the desk: the unit's
progress with evidence, its proposed reply sent back and approved (the citizen's reply), the
commission's outcome and the reconciliation list, and a desk reply read in the WeChat chat."""
from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa

from core import clock
from core.models import Case, ClueOutcome, EvidenceFile, UnitReport
from core.models.case import CaseStatus as S
from intake.progress import citizen_view
from tests.desk import login, make_case, post, staff, tracking_numbers, with_passwords
from tests.images import exif, jpeg_with
from tests.replies import tracking_no


def upload(client, url: str, text: str, files: list[tuple[bytes, str]]):
    with client.session_transaction() as sess:
        token = sess["csrf"]
    return client.post(url, data={"csrf_token": token, "text": text,
                                  "files": [(io.BytesIO(content), name) for content, name in files]},
                       content_type="multipart/form-data")


def test_unit_progress_proposed_reply_sent_back_then_approved(client, db, app):
    with_passwords(db)
    case = make_case(db, "白沙村路灯坏了半年", status=S.assigned)
    login(client, "zhang")
    post(client, f"/admin/cases/{case.tracking_no}/handover", {"unit": str(case.unit_id), "text": "白沙村路灯坏了半年，请修复"})
    login(client, "baisha")
    url = f"/admin/cases/{case.tracking_no}"
    photo = jpeg_with(exif())
    r = upload(client, f"{url}/progress", "已更换路灯12盏", [(photo, "现场.jpg"), (b"%PDF-1.4 report", "验收单.pdf")])
    assert "整改进展已报送巡察组" in client.get(r.headers["Location"]).get_data(as_text=True)
    # A file that is not what it says is refused, nothing stored.
    r = upload(client, f"{url}/progress", "再补一张", [(b"MZ\x90\x00", "照片.jpg")])
    assert "文件内容与类型不符" in client.get(r.headers["Location"]).get_data(as_text=True)
    files = db.scalars(sa.select(EvidenceFile).order_by(EvidenceFile.id)).all()
    assert [f.filename for f in files] == ["现场.jpg", "验收单.pdf"]
    media_dir = app.extensions["settings"].media_dir
    stored = (media_dir / files[0].storage_path).read_bytes()
    assert files[0].storage_path.startswith("evidence/") and b"Exif" not in stored and b"HuaPhone" not in stored
    # The files: to the unit and the group, through the authorized route only.
    for who, code in (("baisha", 200), ("zhang", 200), ("lizhuren", 200), ("wang", 404), ("jw", 404), ("audit", 404)):
        login(client, who)
        got = client.get(f"{url}/evidence/{files[1].id}")
        assert got.status_code == code, who
        if code == 200:
            assert got.data == b"%PDF-1.4 report" and got.headers["Cache-Control"] == "private, no-store"
    login(client, "baisha")
    post(client, f"{url}/propose", {"text": "路灯已全部修复"})
    r = post(client, f"{url}/propose", {"text": "再来一份"})
    assert "已有待巡察组审核的拟答复" in client.get(r.headers["Location"]).get_data(as_text=True)
    # The group sees the progress, the evidence and the proposal; sends it back.
    login(client, "zhang")
    html = client.get(url).get_data(as_text=True)
    assert "已更换路灯12盏" in html and "验收单.pdf" in html and "待审核" in html and "采纳并答复" in html
    proposal = db.scalar(sa.select(UnitReport).where(UnitReport.kind == "proposal"))
    r = post(client, f"{url}/decide", {"report": str(proposal.id), "decision": "send_back", "note": "请写明修复时间"})
    assert "拟答复已退回单位" in client.get(r.headers["Location"]).get_data(as_text=True)
    db.expire_all()
    assert db.get(Case, case.id).status == "handed_over" and citizen_view(db, db.get(Case, case.id)).reply is None
    login(client, "baisha")
    html = client.get(url).get_data(as_text=True)
    assert "退回意见：请写明修复时间" in html and "已退回" in html
    post(client, f"{url}/propose", {"text": "白沙村路灯已于12月1日全部修复"})
    login(client, "zhang")
    proposal = db.scalar(sa.select(UnitReport).where(UnitReport.state == "pending"))
    r = post(client, f"{url}/decide", {"report": str(proposal.id), "decision": "approve",
                                       "text": "经督促，白沙村路灯已于12月1日全部修复，感谢您的监督。"})
    assert "拟答复已审核通过" in client.get(r.headers["Location"]).get_data(as_text=True)
    db.expire_all()
    case = db.get(Case, case.id)
    view = citizen_view(db, case)
    assert case.status == "replied" and view.reply.note == "经督促，白沙村路灯已于12月1日全部修复，感谢您的监督。"
    assert all("已更换路灯" not in (s.note or "") and "退回" not in (s.note or "") for s in view.timeline)
    assert db.get(UnitReport, proposal.id).state == "approved"
    # The unit still follows its item (replied), may report no more.
    login(client, "baisha")
    html = client.get(url).get_data(as_text=True)
    assert "已采纳为答复" in html and "报送整改进展" not in html
    assert post(client, f"{url}/progress", {"text": "x"}).status_code == 403


def test_transfer_outcome_and_reconciliation(client, db):
    with_passwords(db)
    petition = make_case(db, "白沙村路灯坏了", status=S.assigned, kind="petition")
    older = make_case(db, "白沙村支书贪污扶贫款", status=S.assigned, kind="clue")
    newer = make_case(db, "早禾田村主任违规插手工程", unit="青石镇/早禾田村", status=S.assigned, kind="clue")
    login(client, "zhang")
    r = post(client, f"/admin/cases/{petition.tracking_no}/transfer", {})
    assert "只有问题线索可以移交" in client.get(r.headers["Location"]).get_data(as_text=True)
    for case in (older, newer):
        post(client, f"/admin/cases/{case.tracking_no}/transfer", {"remark": "线索具体"})
    db.expire_all()
    assert db.get(Case, older.id).status == "transferred" and db.get(Case, petition.id).status == "assigned"
    assert citizen_view(db, db.get(Case, older.id)).latest.note == "问题线索已移交示范县纪委监委依规依纪处置"
    assert client.get("/admin/reconciliation").status_code == 404  # the group does not reconcile
    login(client, "jw")
    listing = client.get("/admin/reconciliation").get_data(as_text=True)
    assert tracking_numbers(listing) == [older.tracking_no, newer.tracking_no]  # oldest transfer first
    html = client.get(f"/admin/cases/{older.tracking_no}").get_data(as_text=True)
    assert "尚未记录处置结果" in html and "谈话函询" in html and "暂存待查" in html
    r = post(client, f"/admin/cases/{older.tracking_no}/outcome", {"outcome": "bribe", "decided_on": str(clock.today())})
    assert "请选择处置结果" in client.get(r.headers["Location"]).get_data(as_text=True)
    tomorrow = clock.today() + timedelta(days=1)
    r = post(client, f"/admin/cases/{older.tracking_no}/outcome", {"outcome": "filed_case", "decided_on": str(tomorrow)})
    assert "处置日期不能晚于今天" in client.get(r.headers["Location"]).get_data(as_text=True)
    day = clock.today() - timedelta(days=2)
    post(client, f"/admin/cases/{older.tracking_no}/outcome", {"outcome": "filed_case", "decided_on": str(day),
                                                               "note": "已立案审查"})
    row = db.scalar(sa.select(ClueOutcome))
    assert (row.case_id, row.outcome, row.decided_on, row.staff_id) == (older.id, "filed_case", day, staff(db, "jw").id)
    assert tracking_numbers(client.get("/admin/reconciliation").get_data(as_text=True)) == [newer.tracking_no]
    assert f"立案（{day}）：已立案审查" in client.get(f"/admin/cases/{older.tracking_no}").get_data(as_text=True)
    # The commission's outcome is internal: the citizen reads only that the clue was transferred.
    assert all("立案" not in (s.note or "") for s in citizen_view(db, db.get(Case, older.id)).timeline)
    # The office reconciles too and sees the outcome; the group reads it on its case.
    login(client, "lizhuren")
    assert tracking_numbers(client.get("/admin/reconciliation").get_data(as_text=True)) == [newer.tracking_no]
    login(client, "zhang")
    assert "立案（" in client.get(f"/admin/cases/{older.tracking_no}").get_data(as_text=True)
    assert post(client, f"/admin/cases/{newer.tracking_no}/outcome",
                {"outcome": "talk", "decided_on": str(day)}).status_code == 403


def test_a_desk_reply_is_what_the_citizen_reads_in_the_chat(citizen, client, db, run_jobs):
    citizen.scan("G1-baisha")
    citizen.say("白沙村的水渠堵了好几个月，灌溉用不上水")
    number = tracking_no(citizen.say("提交"))
    run_jobs()
    with_passwords(db)
    login(client, "zhang")
    post(client, f"/admin/cases/{number}/note", {"note": "内部：村委会说没钱"})
    post(client, f"/admin/cases/{number}/verify", {})
    post(client, f"/admin/cases/{number}/reply", {"reply": "经核查，水渠已于本周清淤，恢复灌溉。"})
    listing = citizen.say("查询")
    assert number in listing and "已答复" in listing
    assert "答复（" in listing and "经核查，水渠已于本周清淤，恢复灌溉。" in listing
    assert "村委会说没钱" not in listing


def test_an_anonymous_citizen_reads_the_reply_of_the_main_case(citizen, client, db, run_jobs):
    import re

    citizen.scan("G1-baisha")
    citizen.say("白沙村的水渠堵了好几个月，灌溉用不上水")
    reply = citizen.say("匿名提交")
    number, code = tracking_no(reply), re.search(r"查询码：([0-9A-Z]+)", reply).group(1)
    run_jobs()
    main = make_case(db, "白沙村水渠堵塞", status=S.assigned)
    with_passwords(db)
    login(client, "zhang")
    post(client, f"/admin/cases/{number}/merge", {"main": main.tracking_no})
    post(client, f"/admin/cases/{main.tracking_no}/verify", {})
    post(client, f"/admin/cases/{main.tracking_no}/reply", {"reply": "水渠已清淤。"})
    status = citizen.say(f"查询 {number} {code}")
    assert "已合并办理" in status and "答复（" in status and "水渠已清淤。" in status
