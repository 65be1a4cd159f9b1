"""Deadlines, warnings and survey campaigns in a real browser (Chromium through playwright): the
office's warnings page and a campaign page on a laptop (1366×768), the unit liaison's reminders
and card on a phone, and the survey's answer page on a phone (390×844), asserting what each
person sees and that each page fits its screen."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from admin.deadlines import send_reminders
from admin.warnings import compute_cards
from core.models import SurveyCampaign
from tests.browser import LAPTOP, PHONE, log_in, new_page
from tests.desk import PASSWORD, with_passwords
from tests.oversight import day, demo_round, handed, unit_id

pytestmark = pytest.mark.needs_browser
SHOTS = Path(os.environ["SHOTS"]) if os.environ.get("SHOTS") else None  # screenshots, when asked


@pytest.fixture
def overdue(app, db):
    vault = app.extensions["vault"]
    made = [handed(db, vault, f"白沙村第{i}件交办事项，至今未办", "青石镇/白沙村", due_in=-i) for i in (1, 2, 3)]
    made.append(handed(db, vault, "白沙村水渠堵塞，灌溉用不上水", "青石镇/白沙村", due_in=2))
    send_reminders(db)
    compute_cards(db)
    db.commit()
    with_passwords(db)
    return made


def fits(page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the screen"


def test_the_office_reads_the_warnings_and_runs_a_campaign_on_a_laptop(chromium, live_server, db, overdue):
    page = new_page(chromium, LAPTOP, live_server)
    try:
        log_in(page, "lizhuren", PASSWORD)
        page.get_by_role("link", name="预警").click()
        page.wait_for_url("**/admin/warnings")
        card = page.locator("section.warning.red")
        assert card.get_by_role("heading").inner_text().startswith("红牌 青石镇/白沙村")
        assert "交办事项逾期未办结3件（红牌线为3件及以上）" in card.inner_text()
        for case in overdue[:3]:
            assert card.get_by_role("link", name=case.tracking_no).is_visible()
        fits(page)
        page.screenshot(path=str(SHOTS / "warnings-laptop.png"), full_page=True) if SHOTS else None
        page.get_by_role("button", name="立即重新计算").click()
        assert page.get_by_text("已重新计算：红牌1个，黄牌0个，解除0个").is_visible()

        page.get_by_role("link", name="满意度测评").click()
        page.wait_for_url("**/admin/campaigns")
        page.get_by_label("被巡察单位").select_option(label="青石镇/白沙村")
        page.get_by_role("button", name="开始测评").click()
        page.wait_for_url("**/admin/campaigns/*")
        assert page.get_by_text("测评已开始").is_visible()
        assert page.get_by_role("heading", name="满意度测评：青石镇/白沙村").is_visible()
        assert page.locator(".qr svg").is_visible()
        code = db.scalar(sa.select(SurveyCampaign.code))
        assert page.get_by_text(f"http://127.0.0.1:5000/r/survey/{code}").is_visible()
        figures = page.get_by_label("测评结果").inner_text()
        assert "满意率" in figures and "有效回答（样本量）" in figures and "回复率" in figures
        page.screenshot(path=str(SHOTS / "campaign-laptop.png"), full_page=True) if SHOTS else None
        fits(page)
    finally:
        page.context.close()


def test_the_unit_liaison_reads_its_reminders_and_card_on_a_phone(chromium, live_server, overdue):
    page = new_page(chromium, PHONE, live_server)
    try:
        log_in(page, "baisha", PASSWORD)
        notices = page.get_by_role("region", name="期限提醒")
        assert notices.get_by_role("heading", name="期限提醒（4）").is_visible()
        assert f"{overdue[3].tracking_no} 还有2天到期" in notices.inner_text()
        assert f"{overdue[2].tracking_no} 已超期3天" in notices.inner_text()
        assert page.locator("table.cases .overdue-tag").count() == 3
        fits(page)
        page.get_by_role("link", name="预警（期限提醒 4）").click()
        page.wait_for_url("**/admin/warnings")
        assert page.locator("section.warning.red h2").inner_text().startswith("红牌 青石镇/白沙村")
        assert page.get_by_role("button", name="立即重新计算").count() == 0
        fits(page)
    finally:
        page.context.close()


def test_a_villager_answers_the_survey_on_a_phone(chromium, live_server, app, db, overdue):
    campaign = SurveyCampaign(code="bsqr2026", round_id=demo_round(db).id, unit_id=unit_id(db, "青石镇/白沙村"),
                              question="您对白沙村巡察整改工作的评价是？", closes_on=day(10), created_by=1)
    db.add(campaign)
    db.commit()
    page = new_page(chromium, PHONE, live_server)
    try:
        page.goto("/r/survey/bsqr2026")
        assert page.get_by_role("heading", name="白沙村巡察整改满意度测评").is_visible()
        assert page.get_by_text("同一部手机的同一个浏览器只计一次", exact=False).is_visible()
        assert page.get_by_text("截止日期", exact=False).is_visible()
        fits(page)
        page.screenshot(path=str(SHOTS / "survey-phone.png"), full_page=True) if SHOTS else None
        page.get_by_label("基本满意").check()
        page.get_by_label("意见或理由（可不填）").fill("路灯修好了，水渠还要再清一次")
        page.get_by_role("button", name="提交评价").click()
        assert page.get_by_role("status").inner_text() == "感谢您的评价，已计入本次测评结果。"
        fits(page)
        page.goto("/r/survey/bsqr2026")  # the same phone again
        page.get_by_label("不满意").check()
        page.get_by_role("button", name="提交评价").click()
        assert "以第一次评价为准" in page.get_by_role("status").inner_text()
    finally:
        page.context.close()
    from intake.campaigns import figures

    fig = figures(db, campaign.id)
    assert (fig.counted, fig.basically, fig.repeated) == (1, 1, 1)
