"""The whole loop in one test, through the product's real doors: a villager scans a poster and
reports in the chat (signed pushes to /wechat), the router routes it, the group hands it over on
the desk, the unit reports its progress and proposes a reply, the group approves it, the outbox
sends it through the fake WeChat API, the villager answers 不满意 in the chat, the case reopens,
the group replies again, the villager answers 满意, and the case is rated. At each step the case's
timeline (desk), the citizen's chat and the mobile status page say what happened."""
from __future__ import annotations

import time

import requests
import sqlalchemy as sa

from core.models import Case, CaseEvent, UnitReport
from core.models.case import CaseStatus as S
from intake.links import case_path
from intake.outbox import RATING_ASK
from tests.desk import login, post, with_passwords
from tests.outbox import delivered
from tests.replies import tracking_no

TEXT = "白沙村村口的路灯坏了三个月，晚上出门很不方便，村里一直没人修"


def _case(db, number: str) -> Case:
    db.expire_all()
    return db.scalar(sa.select(Case).where(Case.tracking_no == number))


def _wechat_knows_they_wrote(fake_wechat, citizen) -> None:
    """WeChat itself knows when the citizen last wrote (its 48-hour window): tell the fake."""
    requests.post(f"{fake_wechat}/_fake/interaction", json={"openid": citizen.openid, "at": time.time()},
                  timeout=5).raise_for_status()


def _public_actions(db, case: Case) -> list[str]:
    db.expire_all()
    return [e.action for e in db.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                                      CaseEvent.public.is_(True))
                                         .order_by(CaseEvent.id))]


def test_scan_report_route_hand_over_reply_unsatisfied_reopen_reply_satisfied(
        app, db, client, citizen, fake_wechat, run_jobs, settings):
    with_passwords(db)
    # The villager: scan, report, submit.
    assert "白沙村" in citizen.scan("G1-baisha")
    citizen.say(TEXT)
    number = tracking_no(citizen.say("提交"))
    _wechat_knows_they_wrote(fake_wechat, citizen)
    run_jobs()  # routing
    case = _case(db, number)
    assert (case.group.code, case.unit.name, case.status) == ("G1", "白沙村", S.assigned.value)
    status_page = case_path(settings.secret_key, number)
    page = client.get(status_page).get_data(as_text=True)
    assert number in page and "已分派巡察组" in page and "已受理" in page

    # The group: the case is in zhang's inbox; he hands it over to the village.
    login(client, "zhang")
    assert number in client.get("/admin/").get_data(as_text=True)
    url = f"/admin/cases/{number}"
    r = post(client, f"{url}/handover", {"unit": str(case.unit_id), "text": "白沙村村口路灯坏了三个月，请修复"})
    assert r.status_code == 302
    run_jobs()
    assert _case(db, number).status == S.handed_over.value
    told = delivered(fake_wechat, citizen.openid)
    assert told and "交办" in (told[-1].get("content") or str(told[-1].get("data")))

    # The unit: progress, then a proposed reply.
    login(client, "baisha")
    assert "白沙村村口路灯坏了三个月" in client.get(url).get_data(as_text=True)
    post(client, f"{url}/progress", {"text": "已更换村口路灯3盏"})
    post(client, f"{url}/propose", {"text": "村口路灯已于本周更换"})

    # The group approves it: the reply goes out through the outbox and asks for the rating.
    login(client, "zhang")
    proposal = db.scalar(sa.select(UnitReport).where(UnitReport.state == "pending"))
    post(client, f"{url}/decide", {"report": str(proposal.id), "decision": "approve",
                                   "text": "经督促，村口路灯已于本周更换，感谢您的监督。"})
    run_jobs()
    assert _case(db, number).status == S.replied.value
    reply = delivered(fake_wechat, citizen.openid)[-1]
    assert reply["kind"] == "custom"  # the citizen wrote within 48 hours
    assert "经督促，村口路灯已于本周更换" in reply["content"] and RATING_ASK in reply["content"]
    assert "经督促，村口路灯已于本周更换" in client.get(status_page).get_data(as_text=True)

    # The villager is not satisfied: the case reopens for its group.
    assert "已重新交巡察组办理" in citizen.say("不满意，只换了一盏")
    _wechat_knows_they_wrote(fake_wechat, citizen)
    assert _case(db, number).status == S.reopened.value
    assert number in client.get("/admin/?status=reopened").get_data(as_text=True)

    # The group replies again, from the desk.
    post(client, f"{url}/reply", {"reply": "已督促全部更换，村口三盏路灯均已恢复照明。"})
    run_jobs()
    second = delivered(fake_wechat, citizen.openid)[-1]
    assert "三盏路灯均已恢复照明" in second["content"] and RATING_ASK in second["content"]

    # Satisfied: the case is rated, the loop closed.
    assert "欢迎继续监督" in citizen.say("满意")
    case = _case(db, number)
    assert case.status == S.rated.value
    assert _public_actions(db, case) == ["submitted", "handed_over", "reply", "reopen", "reply", "rate"]
    listing = citizen.say("查询")
    assert "已评价" in listing and "三盏路灯均已恢复照明" in listing
    page = client.get(status_page).get_data(as_text=True)
    assert "三盏路灯均已恢复照明" in page and "已评价" in page
    timeline = client.get(url).get_data(as_text=True)
    assert "群众评价不满意，已重新办理" in timeline and "评价不满意的原因：只换了一盏" in timeline
    assert "群众评价：满意" in timeline and timeline.count("客服消息") == 3  # handover, two replies
    assert citizen.openid not in timeline
