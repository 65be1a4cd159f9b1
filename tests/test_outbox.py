"""The outbox (intake.outbox, intake.delivery) against the fake WeChat API: who is written to,
the 48-hour switch between a customer-service text and a template message, 45015/45047, and
what the rows say afterwards. Jobs in-process (SQLite) or a real RQ worker (TEST_REDIS_URL)."""
from __future__ import annotations

import sqlalchemy as sa

from core import lifecycle
from core.models import Case, OutboxMessage
from core.models.case import CaseStatus as S
from intake import outbox
from intake.links import tracking_no_of
from tests.desk import make_case
from tests.outbox import delivered, fake, reporter, rows

OPENID, OTHER, THIRD = "oOUTBOX00000000000000000001", "oOUTBOX00000000000000000002", "oOUTBOX00000000000000000003"


def _case_of(db, rep, text="村里路灯坏了三个月没人修"):
    case = make_case(db, text)
    case.reporter_id = rep.id
    db.commit()
    return case


def _anonymous(db, text):
    case = make_case(db, text)
    case.anonymity = "anonymous"
    db.commit()
    return case


def test_a_message_within_48_hours_is_a_customer_service_text(app, db, fake_wechat, run_jobs):
    vault = app.extensions["vault"]
    rep = reporter(db, vault, OPENID, fake_wechat, wrote_hours_ago=3)
    case = _case_of(db, rep)
    with app.app_context():
        made = outbox.notify_case(db, case, "status", "您反映的问题已交办白沙村整改。")
    db.commit()
    run_jobs()
    [got] = delivered(fake_wechat, OPENID)
    assert got["kind"] == "custom" and got["content"].startswith(
        f"【受理编号{case.tracking_no}】您反映的问题已交办白沙村整改。\n查看详情：http://127.0.0.1:5000/r/case/")
    [row] = rows(db)
    assert (row.id, row.status, row.via, row.attempts, row.case_id, row.purpose) == (
        made[0].id, "sent", "custom", 1, case.id, "status")
    assert row.sent_at is not None and row.msgid is None


def test_outside_48_hours_a_template_message_links_the_case(app, db, fake_wechat, run_jobs, settings):
    vault = app.extensions["vault"]
    rep = reporter(db, vault, OPENID, fake_wechat, wrote_hours_ago=50)
    case = _case_of(db, rep)
    with app.app_context():
        outbox.notify_case(db, case, "reply", "路灯已修复。")
    db.commit()
    run_jobs()
    [got] = delivered(fake_wechat, OPENID)
    assert got["kind"] == "template" and got["template_id"] == settings.wechat_template_id
    assert got["url"].startswith("http://127.0.0.1:5000/r/case/")
    assert tracking_no_of(settings.secret_key, got["url"].rsplit("/", 1)[1]) == case.tracking_no
    assert got["data"]["keyword1"]["value"] == case.tracking_no
    assert got["data"]["keyword2"]["value"] == "路灯已修复。"
    [row] = rows(db)
    assert (row.status, row.via, row.msgid) == ("sent", "template", got["msgid"])


def test_no_conversation_at_all_is_a_template_message(app, db, fake_wechat, run_jobs):
    rep = reporter(db, app.extensions["vault"], OPENID)
    with app.app_context():
        outbox.queue(db, reporter_id=rep.id, purpose="reminder", text="请留意办理进度。")
    db.commit()
    run_jobs()
    assert [m["kind"] for m in delivered(fake_wechat, OPENID)] == ["template"]


def test_45015_falls_back_to_a_template_message(app, db, fake_wechat, run_jobs):
    """The product thinks the window is open (its hour says 40 hours ago) but WeChat says it is
    not (the citizen's message was earlier than the fake was told): 45015, nothing sent, template."""
    vault = app.extensions["vault"]
    rep = reporter(db, vault, OPENID, wrote_hours_ago=40)  # the fake knows of no message
    case = _case_of(db, rep)
    with app.app_context():
        outbox.notify_case(db, case, "status", "已转办县信访局。")
    db.commit()
    run_jobs()
    assert [m["kind"] for m in delivered(fake_wechat, OPENID)] == ["template"]
    [row] = rows(db)
    assert (row.status, row.via, row.last_error) == ("sent", "template", None)


def test_45047_too_many_in_the_window_falls_back_too(app, db, fake_wechat, run_jobs):
    fake(fake_wechat, "config", cs_window_limit=2)
    rep = reporter(db, app.extensions["vault"], OPENID, fake_wechat, wrote_hours_ago=1)
    with app.app_context():
        for n in range(3):
            outbox.queue(db, reporter_id=rep.id, purpose="status", text=f"第{n + 1}条")
    db.commit()
    run_jobs()
    got = delivered(fake_wechat, OPENID)
    assert [(m["kind"], (m.get("content") or m["data"]["keyword2"]["value"]).split("】")[-1]) for m in got] == [
        ("custom", "第1条"), ("custom", "第2条"), ("template", "第3条")]
    assert [r.via for r in rows(db)] == ["custom", "custom", "template"]


def test_merged_cases_citizens_hear_the_main_case_each_about_their_own(app, db, fake_wechat, run_jobs, settings):
    vault = app.extensions["vault"]
    a, b, c = (reporter(db, vault, o) for o in (OPENID, OTHER, THIRD))
    main = _case_of(db, a)
    dup = _case_of(db, b, "白沙村路灯不亮")
    dup2 = _case_of(db, c, "路灯坏了")
    again = _case_of(db, a, "路灯还是坏的")  # the main case's own citizen reported twice
    anonymous = _anonymous(db, "匿名：路灯")
    for each in (dup, dup2, again, anonymous):
        each.merged_into_id = main.id
        lifecycle.move(db, each, S.merged, lifecycle.SYSTEM, "merged")
    db.commit()
    with app.app_context():
        made = outbox.notify_case(db, main, "reply", "路灯已全部修复。")
    db.commit()
    assert sorted((m.reporter_id, m.case_id) for m in made) == sorted([(a.id, main.id), (b.id, dup.id), (c.id, dup2.id)])
    run_jobs()
    for openid, case in ((OPENID, main), (OTHER, dup), (THIRD, dup2)):
        [got] = delivered(fake_wechat, openid)
        assert got["data"]["keyword1"]["value"] == case.tracking_no
        assert tracking_no_of(settings.secret_key, got["url"].rsplit("/", 1)[1]) == case.tracking_no
    assert len(delivered(fake_wechat)) == 3


def test_an_anonymous_case_queues_nothing(app, db):
    case = _anonymous(db, "匿名反映")
    with app.app_context():
        assert outbox.notify_case(db, case, "reply", "已处理") == []
    db.commit()
    assert rows(db) == []


def test_queue_refuses_an_unknown_purpose_or_no_text(app, db):
    rep = reporter(db, app.extensions["vault"], OPENID)
    with app.app_context():
        for purpose, text in (("spam", "x"), ("reply", "  ")):
            try:
                outbox.queue(db, reporter_id=rep.id, purpose=purpose, text=text)
            except ValueError:
                continue
            raise AssertionError(f"{purpose!r}, {text!r} was queued")


def test_one_job_per_transaction(app, db, monkeypatch):
    jobs = app.extensions["jobs"]
    queued = []
    monkeypatch.setattr(jobs, "enqueue", lambda func, *args, job_id=None: queued.append(func.__name__) or True)
    rep = reporter(db, app.extensions["vault"], OPENID)
    with app.app_context():
        for n in range(5):
            outbox.queue(db, reporter_id=rep.id, purpose="status", text=f"{n}")
        assert queued == []  # not before the commit
        db.commit()
    assert queued == ["deliver"]
    assert db.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 5
