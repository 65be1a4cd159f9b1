"""Survey campaigns (满意度测评): the office starts one on the desk; the fan-out job surveys every
reporter concerned by the unit in the round through the outbox (one message each, a personal
link) to the fake WeChat API, in batches; the answer page counts a personal link once and a
browser once, keeps repeated and late answers without counting them; the desk shows the rate,
the sample size, the number surveyed and the response rate; out-of-scope roles get 404."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import segno
import sqlalchemy as sa
import yaml

from admin.deploy import load_deployment
from admin.warnings import refresh_cards
from core import clock
from core.db import utcnow
from core.models import OutboxMessage, SurveyAnswer, SurveyCampaign, SurveyRecipient, UnitCard
from intake import campaigns, survey_page
from tests.conftest import DEMO
from tests.desk import login, make_case, post, with_passwords
from tests.oversight import day, demo_round, handed, unit_id
from tests.outbox import delivered, reporter

A, B, C, F, D = ("oSURVEY000000000000000000A", "oSURVEY000000000000000000B", "oSURVEY000000000000000000C",
                 "oSURVEY000000000000000000F", "oSURVEY000000000000000000D")


@pytest.fixture
def people(app, db, fake_wechat):
    """A: two cases about 白沙村 (one handed over to it); B: one, and wrote 3 hours ago (a
    customer-service text); C: a named report about 白沙村; F: a case about 早禾田村 handed over
    to 白沙村; an anonymous case about 白沙村; D: a case about 石门村 only; A's case from long
    before the round (not in it)."""
    vault = app.extensions["vault"]
    rep = {k: reporter(db, vault, openid, fake_wechat, wrote_hours_ago=3 if k == "B" else None)
           for k, openid in (("A", A), ("B", B), ("C", C), ("F", F), ("D", D))}

    def mine(case, who):
        case.reporter_id = rep[who].id
        db.commit()
        return case

    mine(make_case(db, "白沙村路灯坏了三个月"), "A")
    mine(handed(db, vault, "白沙村水渠堵塞", "青石镇/白沙村", due_in=5), "A")
    mine(make_case(db, "白沙村低保评定不公"), "B")
    mine(make_case(db, "白沙村垃圾没人清运", vault=vault, name="赵大妈", phone="13912345678"), "C")
    mine(handed(db, vault, "早禾田村与白沙村交界的桥坏了", "青石镇/早禾田村", due_in=5,
                to="青石镇/白沙村"), "F")
    anonymous = make_case(db, "白沙村村干部优亲厚友")
    anonymous.anonymity = "anonymous"
    mine(make_case(db, "石门村修路拖了一年", unit="柳溪镇/石门村", group="G2"), "D")
    old = mine(make_case(db, "白沙村去年的路灯"), "A")
    old.created_at = utcnow() - timedelta(days=400)
    db.commit()
    return rep


def start(client, db, unit: str = "青石镇/白沙村", closes_in: int = 14):
    r = post(client, "/admin/campaigns", {"round": str(demo_round(db).id), "unit": str(unit_id(db, unit)),
                                          "closes_on": str(day(closes_in))})
    assert r.status_code == 302, r.get_data(as_text=True)
    return db.scalar(sa.select(SurveyCampaign).order_by(SurveyCampaign.id.desc()).limit(1))


def link_of(message: dict) -> str:
    url = message.get("url") or re.search(r"查看详情：(\S+)", message["content"]).group(1)
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def answer(client, path: str, score: str, reason: str = ""):
    page = client.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    data = {"csrf_token": token, "score": score, "reason": reason}
    if "?t=" in path:
        data["t"] = path.split("?t=")[1]
    return client.post(path.split("?")[0], data=data)


def test_the_office_starts_a_campaign_and_each_concerned_reporter_is_surveyed_once(
        app, db, client, people, fake_wechat, run_jobs, monkeypatch):
    monkeypatch.setattr(campaigns, "BATCH", 2)  # batches of two: three batches for four people
    with_passwords(db)
    login(client, "lizhuren")
    campaign = start(client, db)
    run_jobs()
    got = {openid: delivered(fake_wechat, openid) for openid in (A, B, C, F, D)}
    assert {k: len(v) for k, v in got.items()} == {A: 1, B: 1, C: 1, F: 1, D: 0}
    [b] = got[B]
    assert b["kind"] == "custom" and b["content"].startswith("【满意度测评】十三届县委第九轮巡察：您对白沙村巡察整改工作的评价是？")
    assert f"/r/survey/{campaign.code}?t=" in b["content"]
    [a] = got[A]
    assert a["kind"] == "template" and a["url"].startswith(f"http://127.0.0.1:5000/r/survey/{campaign.code}?t=")
    links = {link_of(m[0]) for k, m in got.items() if m}
    assert len(links) == 4  # a personal link each
    db.expire_all()
    rows = db.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert {(r.purpose, r.campaign_id, r.status) for r in rows} == {("survey", campaign.id, "sent")} and len(rows) == 4
    recipients = db.scalars(sa.select(SurveyRecipient)).all()
    assert sorted(r.reporter_id for r in recipients) == sorted(people[k].id for k in "ABCF")
    assert all(r.outbox_id for r in recipients) and db.get(SurveyCampaign, campaign.id).fanned_out_at is not None
    # The tokens are kept as their hash only.
    assert all(link.split("?t=")[1] not in {r.token_hash for r in recipients} for link in links)
    # Run again (a retried job): nobody is surveyed twice.
    with app.app_context():
        assert campaigns.fan_out(campaign.id) == 0
    page = client.get(f"/admin/campaigns/{campaign.id}").get_data(as_text=True)
    assert "调查对象<b>4</b>" in page and "有效回答（样本量）<b>0</b>" in page and "发送完成" in page


def test_a_personal_link_counts_once_and_the_desk_shows_the_rates(app, db, client, people, fake_wechat, run_jobs):
    with_passwords(db)
    login(client, "lizhuren")
    campaign = start(client, db)
    run_jobs()
    link_a, link_b = link_of(delivered(fake_wechat, A)[0]), link_of(delivered(fake_wechat, B)[0])
    citizen = app.test_client()
    page = citizen.get(link_a).get_data(as_text=True)
    assert "白沙村巡察整改满意度测评" in page and "这是发给您本人的测评链接，只计一次" in page
    assert "<script" not in page and "同一部手机的同一个浏览器只计一次" in page
    r = answer(citizen, link_a, "satisfied")
    assert "已计入本次测评结果" in r.get_data(as_text=True)
    fresh = app.test_client()  # the same link in another browser: still the same person
    assert "以第一次评价为准" in answer(fresh, link_a, "unsatisfied", "又不满意了").get_data(as_text=True)
    assert "已计入" in answer(app.test_client(), link_b, "unsatisfied", "垃圾还是没人管").get_data(as_text=True)
    assert app.test_client().get(f"/r/survey/{campaign.code}?t=forged").status_code == 404
    fig = campaigns.figures(db, campaign.id)
    assert (fig.surveyed, fig.counted, fig.satisfied, fig.unsatisfied, fig.link_counted, fig.repeated) == (4, 2, 1, 1, 2, 1)
    assert fig.rate == 0.5 and fig.response_rate == 0.5
    answers = db.scalars(sa.select(SurveyAnswer).order_by(SurveyAnswer.id)).all()
    assert [(x.via, x.score, x.state) for x in answers] == [("link", "satisfied", "counted"),
                                                            ("link", "unsatisfied", "repeated"),
                                                            ("link", "unsatisfied", "counted")]
    page = client.get(f"/admin/campaigns/{campaign.id}").get_data(as_text=True)
    assert "满意率<b>50.0%</b>" in page and "有效回答（样本量）<b>2</b>" in page
    assert "调查对象<b>4</b>" in page and "回复率<b>50.0%</b>" in page and "重复提交 1 份" in page
    listing = client.get("/admin/campaigns").get_data(as_text=True)
    assert "青石镇/白沙村" in listing and "50.0%" in listing


def test_the_public_code_counts_once_per_browser_and_late_answers_are_kept(app, db, client, people, run_jobs):
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["round"]["cards"] = {"survey_min_answers": 2}
    load_deployment(db, data)
    db.commit()
    with_passwords(db)
    login(client, "lizhuren")
    campaign = start(client, db)
    run_jobs()
    public = f"/r/survey/{campaign.code}"
    phone = app.test_client()
    assert "已计入" in answer(phone, public, "unsatisfied").get_data(as_text=True)
    again = answer(phone, public, "satisfied")
    assert "以第一次评价为准，不重复计入" in again.get_data(as_text=True)
    assert "已计入" in answer(app.test_client(), public, "basically").get_data(as_text=True)
    assert "已计入" in answer(app.test_client(), public, "unsatisfied").get_data(as_text=True)
    # Without the page's token (another site's form), nothing is kept.
    stranger = app.test_client()
    stranger.get(public)
    assert stranger.post(public, data={"score": "satisfied"}).status_code == 400
    # The office closes it: a later answer is kept, not counted, and the page says so.
    post(client, f"/admin/campaigns/{campaign.id}/close", {})
    late = app.test_client()
    assert "本次测评已于" in late.get(public).get_data(as_text=True)
    assert "不计入测评结果" in answer(late, public, "satisfied").get_data(as_text=True)
    fig = campaigns.figures(db, campaign.id)
    assert (fig.counted, fig.qr_counted, fig.repeated, fig.late, fig.basically) == (3, 3, 1, 1, 1)
    assert round(fig.rate, 4) == 0.3333 and fig.response_rate == 0
    assert db.scalar(sa.select(sa.func.count()).select_from(SurveyAnswer)) == 5
    # The rate feeds the warnings: 33% is under the red line (60%) with 3 answers (minimum 2 here).
    with app.app_context():
        refresh_cards()
    card = db.scalar(sa.select(UnitCard).where(UnitCard.unit_id == unit_id(db, "青石镇/白沙村")))
    assert card.level == "red" and card.reasons[0]["rule"] == "survey_rate" and card.reasons[0]["answers"] == 3
    html = client.get("/admin/warnings").get_data(as_text=True)
    assert "满意度测评满意率偏低：满意率33.3%（有效回答3份，红牌线为低于60%）" in html


def test_a_campaign_past_its_closing_day_counts_nothing(app, db, client, people, run_jobs, clock):
    with_passwords(db)
    login(client, "lizhuren")
    campaign = start(client, db, closes_in=2)
    run_jobs()
    clock.pin(f"{day(3)} 09:00")
    r = answer(app.test_client(), f"/r/survey/{campaign.code}", "satisfied")
    assert "本次测评已经结束" in r.get_data(as_text=True)
    assert db.scalar(sa.select(SurveyAnswer.state)) == "late"


def test_answers_are_rate_limited_per_address(app, db, client, people, run_jobs, monkeypatch):
    monkeypatch.setattr(survey_page, "PER_ADDRESS", (2, 600))
    with_passwords(db)
    login(client, "lizhuren")
    campaign = start(client, db)
    run_jobs()
    public = f"/r/survey/{campaign.code}"
    codes = [answer(app.test_client(), public, "satisfied").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert campaigns.figures(db, campaign.id).counted == 2


def test_only_the_office_runs_campaigns(app, db, client, people, run_jobs):
    with_passwords(db)
    login(client, "lizhuren")
    campaign = start(client, db)
    run_jobs()
    bad = post(client, "/admin/campaigns", {"round": str(demo_round(db).id), "unit": str(unit_id(db, "青石镇/白沙村")),
                                            "closes_on": str(day(-1))})
    assert "截止日期不能早于今天" in client.get(bad.headers["Location"]).get_data(as_text=True)
    page = client.get(f"/admin/campaigns/{campaign.id}").get_data(as_text=True)
    url = f"http://127.0.0.1:5000/r/survey/{campaign.code}"
    assert url in page and segno.make(url, error="m").svg_inline(scale=4, border=2) in page
    png = client.get(f"/admin/campaigns/{campaign.id}/qr.png")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    for who in ("zhang", "li", "wang", "baisha", "jw", "audit"):
        login(client, who)
        for url in ("/admin/campaigns", f"/admin/campaigns/{campaign.id}", f"/admin/campaigns/{campaign.id}/qr.png"):
            assert client.get(url).status_code == 404, (who, url)
        assert post(client, "/admin/campaigns", {"round": "1", "unit": "1", "closes_on": str(day(3))}).status_code == 404
        assert post(client, f"/admin/campaigns/{campaign.id}/close", {}).status_code == 404
        assert "满意度测评" not in client.get("/admin/").get_data(as_text=True)
    assert db.scalar(sa.select(sa.func.count()).select_from(SurveyCampaign)) == 1
    assert db.get(SurveyCampaign, campaign.id).closed_at is None
    assert app.test_client().get("/r/survey/nosuchcode").status_code == 404
    assert clock.today() <= campaign.closes_on
