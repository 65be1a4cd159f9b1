"""The outbox on the desk: a public reply, a rejection and a handover reach the citizen through
the fake WeChat API (the reply asks for the rating); failures show on the case page and in
/admin/outbox (the office: all; a group: its cases'; nobody else), with a CSRF-checked retry;
no page shows an openid."""
from __future__ import annotations

import sqlalchemy as sa

from core.models import OutboxMessage
from core.models.case import CaseStatus as S
from intake.outbox import RATING_ASK
from tests.desk import login, make_case, post, with_passwords
from tests.outbox import delivered, fake, reporter, rows

OPENID = "oDESKOUTBOX000000000000001"


def _reported(app, db, fake_wechat, wrote_hours_ago=None, group="G1", status=S.verifying):
    rep = reporter(db, app.extensions["vault"], OPENID, fake_wechat, wrote_hours_ago)
    case = make_case(db, "白沙村的路灯坏了三个月", group=group, status=status)
    case.reporter_id = rep.id
    db.commit()
    return case


def test_a_public_reply_reaches_the_citizen_and_asks_for_the_rating(app, db, client, fake_wechat, run_jobs):
    with_passwords(db)
    case = _reported(app, db, fake_wechat, wrote_hours_ago=5)
    login(client, "zhang")
    r = post(client, f"/admin/cases/{case.tracking_no}/reply", {"reply": "路灯已于本周修复。"})
    assert r.status_code == 302
    run_jobs()
    [got] = delivered(fake_wechat, OPENID)
    assert got["kind"] == "custom"
    assert got["content"].startswith(f"【受理编号{case.tracking_no}】您反映的问题有了答复：路灯已于本周修复。\n{RATING_ASK}")
    assert "回复 1 满意 2 基本满意 3 不满意" in got["content"]
    page = client.get(f"/admin/cases/{case.tracking_no}").get_data(as_text=True)
    assert "发给群众的消息" in page and "已发送" in page and "客服消息" in page
    assert OPENID not in page


def test_rejection_and_handover_are_told_outside_the_window_by_template(app, db, client, fake_wechat, run_jobs):
    with_passwords(db)
    case = _reported(app, db, fake_wechat, status=S.assigned)
    other = make_case(db, "青石镇集市占道经营")
    other.reporter_id = case.reporter_id
    db.commit()
    login(client, "zhang")
    unit = db.scalar(sa.text("SELECT id FROM units WHERE path = '青石镇/白沙村'"))
    post(client, f"/admin/cases/{case.tracking_no}/handover",
         {"unit": str(unit), "due_on": "", "text": "白沙村路灯坏了三个月"})
    post(client, f"/admin/cases/{other.tracking_no}/reject", {"reason": "属于城管执法事项，请向县城管局反映。"})
    run_jobs()
    got = {m["data"]["keyword1"]["value"]: m["data"]["keyword2"]["value"] for m in delivered(fake_wechat, OPENID)}
    assert got[case.tracking_no].startswith("您反映的问题有新进展：已交办白沙村整改，办理期限")
    assert got[other.tracking_no] == "您反映的问题不予受理，理由：属于城管执法事项，请向县城管局反映。"


def test_an_anonymous_case_sends_nothing_and_says_why(app, db, client, run_jobs):
    with_passwords(db)
    case = make_case(db, "匿名：村干部优亲厚友", status=S.verifying)
    case.anonymity = "anonymous"
    db.commit()
    login(client, "zhang")
    post(client, f"/admin/cases/{case.tracking_no}/reply", {"reply": "已核实处理。"})
    run_jobs()
    assert rows(db) == []
    assert "匿名反映：没有可发送的对象" in client.get(f"/admin/cases/{case.tracking_no}").get_data(as_text=True)


def test_a_failure_shows_on_the_case_and_in_the_outbox_and_is_retried(app, db, client, fake_wechat, run_jobs):
    with_passwords(db)
    case = _reported(app, db, fake_wechat)
    fake(fake_wechat, "fail", path="/cgi-bin/message/template/send", errcode=40003)  # invalid openid
    login(client, "zhang")
    post(client, f"/admin/cases/{case.tracking_no}/reply", {"reply": "路灯已修复。"})
    run_jobs()
    [row] = rows(db)
    assert row.status == "failed" and "40003" in row.last_error
    page = client.get(f"/admin/cases/{case.tracking_no}").get_data(as_text=True)
    assert "发送失败" in page and "40003" in page and "重发" in page
    listing = client.get("/admin/outbox").get_data(as_text=True)
    assert case.tracking_no in listing and "发送失败" in listing and OPENID not in listing
    # No CSRF token: refused, nothing queued.
    assert client.post(f"/admin/outbox/{row.id}/retry").status_code in (400, 403)
    assert rows(db)[0].status == "failed"
    r = post(client, f"/admin/outbox/{row.id}/retry", {"back": "case"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/cases/{case.tracking_no}")
    run_jobs()
    assert [m["kind"] for m in delivered(fake_wechat, OPENID)] == ["template"]
    assert (rows(db)[0].status, rows(db)[0].attempts) == ("sent", 1)


def test_who_sees_the_outbox(app, db, client, fake_wechat):
    with_passwords(db)
    mine = _reported(app, db, fake_wechat, group="G1")
    db.add(OutboxMessage(reporter_id=mine.reporter_id, case_id=mine.id, purpose="reply", text="甲", status="failed",
                         last_error="失败甲"))
    db.add(OutboxMessage(reporter_id=mine.reporter_id, purpose="survey", text="乙", status="failed",
                         last_error="测评失败"))
    db.commit()
    failed_id = db.scalar(sa.select(OutboxMessage.id).where(OutboxMessage.text == "甲"))
    expected = {"lizhuren": (200, True, True), "zhang": (200, True, False), "li": (200, True, False),
                "wang": (200, False, False), "baisha": (404, False, False), "jw": (404, False, False),
                "audit": (404, False, False)}
    for who, (status, sees_case, sees_survey) in expected.items():
        client.get("/admin/logout")
        client.cookie_jar.clear() if hasattr(client, "cookie_jar") else None
        login(client, who)
        r = client.get("/admin/outbox")
        assert r.status_code == status, who
        text = r.get_data(as_text=True)
        assert (mine.tracking_no in text) == sees_case, who
        assert ("测评失败" in text) == sees_survey, who
        retry = post(client, f"/admin/outbox/{failed_id}/retry", {})
        assert (retry.status_code == 302) == sees_case, who
        if sees_case:  # put it back for the next one
            db.execute(sa.update(OutboxMessage).where(OutboxMessage.id == failed_id).values(status="failed"))
            db.commit()
