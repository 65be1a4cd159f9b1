"""Deadlines: reminders to the unit before a handover falls due (once per handover and reminder
day, by the periodic job), the unit's liaison reading them on the desk, and overdue cases marked
in the inbox and on the case page."""
from __future__ import annotations

import sqlalchemy as sa
import yaml

from admin.deadlines import remind_due_handovers
from admin.deploy import load_deployment
from core.models import Case, DeadlineReminder, Handover
from tests.conftest import DEMO
from tests.desk import login, tracking_numbers, with_passwords
from tests.oversight import day, handed, handover_of, reply


def periodic(app, name: str):
    """The function a feature registered for `flask jobs cron` (what RQ's cron runs)."""
    found = [func for func, _, _ in app.extensions["jobs"].periodic if func.__name__ == name]
    assert found, f"{name} is not a periodic job"
    return found[0]


def reminders(db) -> list[tuple[str, int]]:
    db.expire_all()
    return [tuple(row) for row in db.execute(
        sa.select(Case.tracking_no, DeadlineReminder.days_before).join(Handover, Handover.id == DeadlineReminder.handover_id)
        .join(Case, Case.id == Handover.case_id).order_by(DeadlineReminder.id))]


def test_a_unit_is_reminded_once_per_handover_and_reminder_day(app, db, clock):
    vault = app.extensions["vault"]
    clock.pin(f"{day(0)} 09:00")
    soon = handed(db, vault, "白沙村水渠堵塞，灌溉用不上水", "青石镇/白沙村", due_in=3)
    later = handed(db, vault, "白沙村村道坑洼多", "青石镇/白沙村", due_in=10)
    job = periodic(app, "remind_due_handovers")
    assert job is remind_due_handovers
    with app.app_context():
        assert job() == 1
        assert job() == 0  # the hourly run again: nothing new
    assert reminders(db) == [(soon.tracking_no, 3)]
    clock.pin(f"{day(1)} 09:00")  # two days left: the default is one reminder, 3 days before
    with app.app_context():
        assert job() == 0
    clock.pin(f"{day(7)} 09:00")  # `later` now 3 days off; `soon` is overdue, never reminded again
    with app.app_context():
        assert job() == 1
        assert job() == 0
    assert reminders(db) == [(soon.tracking_no, 3), (later.tracking_no, 3)]


def test_reminder_days_from_the_round_and_missed_runs(app, db, clock):
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["round"]["reminder_days"] = [3, 1]
    load_deployment(db, data)
    db.commit()
    vault = app.extensions["vault"]
    clock.pin(f"{day(0)} 09:00")
    case = handed(db, vault, "早禾田村低保名单不公开", "青石镇/早禾田村", due_in=3)
    # Runs were missed until the day before: only the nearest reminder is recorded.
    quiet = handed(db, vault, "早禾田村路灯不亮", "青石镇/早禾田村", due_in=1)
    with app.app_context():
        assert remind_due_handovers() == 2
    clock.pin(f"{day(2)} 09:00")
    with app.app_context():
        assert remind_due_handovers() == 1
        assert remind_due_handovers() == 0
    assert sorted(reminders(db)) == sorted([(case.tracking_no, 3), (quiet.tracking_no, 1), (case.tracking_no, 1)])


def test_the_unit_liaison_reads_reminders_and_overdue_items_on_the_desk(app, db, client):
    vault = app.extensions["vault"]
    with_passwords(db)
    soon = handed(db, vault, "白沙村水渠堵塞，灌溉用不上水", "青石镇/白沙村", due_in=2)
    late = handed(db, vault, "白沙村垃圾无人清运", "青石镇/白沙村", due_in=-4)
    calm = handed(db, vault, "白沙村文化广场灯坏了", "青石镇/白沙村", due_in=12)
    other = handed(db, vault, "石门村修路拖了一年", "柳溪镇/石门村", due_in=1, group="G2", member="wang")
    with app.app_context():
        remind_due_handovers()
    login(client, "baisha")
    inbox = client.get("/admin/").get_data(as_text=True)
    assert "期限提醒（2）" in inbox  # on the inbox, and the count in the header
    assert "预警（期限提醒 2）" in inbox
    assert f"{soon.tracking_no} 还有2天到期（办理期限{day(2)}）" in inbox
    assert f"{late.tracking_no} 已超期4天（办理期限{day(-4)}）" in inbox
    notices = inbox.split("期限提醒（2）")[1].split("</section>")[0]
    assert calm.tracking_no not in notices and other.tracking_no not in inbox
    # The overdue one is marked in the list; the case page says by how much.
    row = inbox.split(f">{late.tracking_no}<")[1].split("</tr>")[0]
    assert "超期" in row
    assert "超期" not in inbox.split(f">{calm.tracking_no}<")[1].split("</tr>")[0]
    assert "已超期4天" in client.get(f"/admin/cases/{late.tracking_no}").get_data(as_text=True)
    # The group and the office see the mark too; the 超期 filter lists the overdue case only.
    login(client, "zhang")
    assert tracking_numbers(client.get("/admin/?overdue=1").get_data(as_text=True)) == [late.tracking_no]
    assert "期限提醒" not in client.get("/admin/").get_data(as_text=True)
    # Answered, a handover ends: no notice, no mark.
    reply(db, db.merge(late))
    reply(db, db.merge(soon))
    login(client, "baisha")
    inbox = client.get("/admin/").get_data(as_text=True)
    assert "期限提醒" not in inbox
    assert "超期" not in inbox.split('<table class="cases">')[1]
    assert handover_of(db, late).due_on == day(-4)  # the handover itself stays as it was


def test_a_case_handed_over_again_is_judged_by_its_latest_handover(app, db, client):
    """Reopened and handed over again with a new due date: the old handover's date no longer counts."""
    vault = app.extensions["vault"]
    with_passwords(db)
    case = handed(db, vault, "白沙村水渠又堵了", "青石镇/白沙村", due_in=-5)
    login(client, "zhang")
    assert tracking_numbers(client.get("/admin/?overdue=1").get_data(as_text=True)) == [case.tracking_no]
    first = handover_of(db, case)
    db.add(Handover(case_id=case.id, unit_id=first.unit_id, due_on=day(6), text=first.text))
    db.commit()
    assert tracking_numbers(client.get("/admin/?overdue=1").get_data(as_text=True)) == []
    assert "已超期" not in client.get(f"/admin/cases/{case.tracking_no}").get_data(as_text=True)
