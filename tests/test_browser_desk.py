"""The desk in a real browser (Chromium through playwright), for each role on a laptop
(1366×768) and a phone (390×844): the login form, the inbox (its cases, a filter, a search,
opening a case) and the case page, asserting what the person sees: their cases and no other,
a unit's text redacted, never a reporter's name or phone, and a page that fits the screen."""
from __future__ import annotations

import re

import pytest

from core.models.case import CaseStatus as S
from tests.browser import SCREENS
from tests.desk import PASSWORD, make_case, with_passwords

pytestmark = pytest.mark.needs_browser

REPORTER_NAME, REPORTER_PHONE = "赵大妈", "13912345678"  # the named reporter: encrypted, never shown
TEXT_PHONE = "13800138000"  # a phone in the citizen's text: redacted for the unit

# The fixtures chromium, live_server, screen (laptop, phone) and page_for are tests/browser.py's.


@pytest.fixture
def cases(app, db):
    vault = app.extensions["vault"]
    made = {
        "handed": make_case(db, f"白沙村低保评定不公，村干部优亲厚友，有事可打{TEXT_PHONE}", status=S.handed_over,
                            handed_to="青石镇/白沙村", kind="petition", domain="funds", vault=vault,
                            name=REPORTER_NAME, phone=REPORTER_PHONE),
        "lamp": make_case(db, "白沙村路灯坏了很久，晚上出行不便", status=S.assigned, kind="petition", domain="livelihood"),
        "g2": make_case(db, "石门村修路款被挪用，路修了一半就停了", unit="柳溪镇/石门村", group="G2",
                        status=S.handed_over, handed_to="柳溪镇/石门村", kind="clue", domain="projects"),
        "clue": make_case(db, "早禾田村主任违规插手村部建设工程", unit="青石镇/早禾田村", kind="clue",
                          domain="projects", status=S.transferred, transferred=True),
        "office": make_case(db, "邻居借钱不还，想请政府帮忙要回来", unit=None, group=None, status=S.received,
                            kind="out_of_scope", domain="other"),
    }
    with_passwords(db)
    return made


# What each role's inbox lists (of the cases above).
INBOX = {"lizhuren": {"handed", "lamp", "g2", "clue", "office"}, "li": {"handed", "lamp", "clue"},
         "baisha": {"handed"}, "jw": {"clue"}, "audit": set()}


def listed(page) -> set[str]:
    return set(re.findall(r"XC\d{12}", page.locator("table.cases").inner_text())) if page.locator(
        "table.cases").count() else set()


def numbers(cases, keys) -> set[str]:
    return {cases[k].tracking_no for k in keys}


def assert_seen_well(page, screen: str) -> None:
    """No reporter identity anywhere on the page, and it fits the screen's width."""
    body = page.locator("body").inner_text()
    html = page.content()
    assert REPORTER_NAME not in html and REPORTER_PHONE not in html
    assert "码上巡察 · 工作台" in body
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the {screen} screen"


def test_login_form(chromium, live_server, cases, screen):
    from tests.browser import new_page

    page = new_page(chromium, SCREENS[screen], live_server)
    try:
        page.goto("/admin/")  # not logged in: the form
        assert page.get_by_role("heading", name="工作人员登录", exact=True).is_visible()
        page.get_by_label("账号").fill("lizhuren")
        page.get_by_label("密码").fill("wrong-password-123")
        page.get_by_role("button", name="登录").click()
        assert page.get_by_text("账号或密码错误。").is_visible()
        page.get_by_label("账号").fill("lizhuren")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        page.wait_for_url("**/admin/")
        assert page.get_by_role("heading", name="收件箱", exact=True).is_visible()
        assert page.get_by_text("李主任（巡察办管理员）").is_visible()
        assert_seen_well(page, screen)
        page.get_by_role("button", name="退出登录").click()
        page.wait_for_url("**/admin/login")
        page.goto("/admin/")
        assert page.get_by_role("heading", name="工作人员登录", exact=True).is_visible()
    finally:
        page.context.close()


def test_office_admin(page_for, cases, screen):
    page = page_for("lizhuren", screen)
    assert listed(page) == numbers(cases, INBOX["lizhuren"])
    assert_seen_well(page, screen)
    # A filter: the status select, then 筛选.
    page.get_by_label("状态").select_option("handed_over")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**status=handed_over**")
    assert listed(page) == numbers(cases, {"handed", "g2"})
    # A group: the office's queue.
    page.goto("/admin/")
    page.get_by_label("巡察组").select_option(label="巡察办分办队列")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**group=office**")
    assert listed(page) == numbers(cases, {"office"})
    # A search, as typed (Enter), then the case it found.
    page.goto("/admin/")
    page.get_by_label("搜索").fill("低保")
    page.get_by_label("搜索").press("Enter")
    page.wait_for_url("**q=**")
    assert listed(page) == numbers(cases, {"handed"})
    page.get_by_role("link", name=cases["handed"].tracking_no).click()
    page.wait_for_url(f"**/admin/cases/{cases['handed'].tracking_no}")
    text = page.locator("section.card", has=page.get_by_role("heading", name="反映内容", exact=True)).inner_text()
    assert "白沙村低保评定不公" in text and TEXT_PHONE in text and "已脱敏" not in text  # the text as written
    assert page.get_by_role("heading", name="机器分类", exact=True).is_visible()
    assert page.get_by_text("交办").first.is_visible() and page.get_by_text("青石镇/白沙村").first.is_visible()
    assert page.get_by_text("公开（群众可见）").first.is_visible()
    assert page.get_by_text("实名（身份不显示）").is_visible()
    assert_seen_well(page, screen)


def test_group_member(page_for, cases, screen):
    page = page_for("li", screen)
    assert listed(page) == numbers(cases, INBOX["li"])  # not G2's, not the office queue's
    assert_seen_well(page, screen)
    page.get_by_label("搜索").fill("修路")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**q=**")
    assert listed(page) == set() and page.get_by_text("没有符合条件的案件。").is_visible()
    page.get_by_label("搜索").fill("路灯")
    page.get_by_role("button", name="筛选").click()
    page.wait_for_url("**q=%E8%B7%AF%E7%81%AF**")
    assert listed(page) == numbers(cases, {"lamp"})
    page.get_by_role("link", name=cases["lamp"].tracking_no).click()
    page.wait_for_url(f"**/admin/cases/{cases['lamp'].tracking_no}")
    assert page.locator("p.text", has_text="白沙村路灯坏了很久，晚上出行不便").is_visible()
    assert page.get_by_role("heading", name="分派", exact=True).is_visible()  # undecided: it may be given
    assert_seen_well(page, screen)
    # Another group's case is a 404, like a case that does not exist.
    response = page.goto(f"/admin/cases/{cases['g2'].tracking_no}")
    assert response.status == 404


def test_unit_liaison_reads_redacted_text(page_for, cases, screen):
    page = page_for("baisha", screen)
    assert listed(page) == numbers(cases, INBOX["baisha"])
    row = page.locator("table.cases tbody tr").first.inner_text()
    assert TEXT_PHONE not in row and "＊＊＊" in row
    assert page.get_by_label("巡察组").count() == 0  # a unit has no group or unit filter
    assert_seen_well(page, screen)
    page.get_by_role("link", name=cases["handed"].tracking_no).click()
    page.wait_for_url(f"**/admin/cases/{cases['handed'].tracking_no}")
    assert page.get_by_text("（已脱敏）").is_visible()
    content = page.locator("p.text").inner_text()
    assert "白沙村低保评定不公" in content and "＊＊＊" in content and TEXT_PHONE not in content
    assert TEXT_PHONE not in page.content()
    assert page.get_by_role("heading", name="机器分类", exact=True).count() == 0
    assert page.get_by_text("内部（仅工作人员）").count() == 0
    assert_seen_well(page, screen)


def test_commission_liaison(page_for, cases, screen):
    page = page_for("jw", screen)
    assert listed(page) == numbers(cases, INBOX["jw"])
    assert_seen_well(page, screen)
    page.get_by_role("link", name=cases["clue"].tracking_no).click()
    page.wait_for_url(f"**/admin/cases/{cases['clue'].tracking_no}")
    assert page.get_by_text("早禾田村主任违规插手村部建设工程").is_visible()
    assert page.get_by_role("heading", name="分派", exact=True).count() == 0
    assert_seen_well(page, screen)


def test_auditor_sees_no_case(page_for, cases, screen):
    page = page_for("audit", screen)
    assert page.get_by_text("审计员查看审计日志与统计，不查看案件内容").is_visible()
    assert page.get_by_role("link", name="审计日志与统计").is_visible()
    assert page.locator("table.cases").count() == 0
    body = page.locator("body").inner_text()
    assert not re.search(r"XC\d{12}", body) and "低保" not in body
    assert_seen_well(page, screen)
    assert page.goto(f"/admin/cases/{cases['handed'].tracking_no}").status == 404
