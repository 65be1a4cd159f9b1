"""The desk's main paths in a real browser (Chromium through playwright), each on a laptop and a
phone (the fixtures of tests/browser.py): real clicks and form fills through the pages,
asserting what each person then sees.

- triage: the group accepts a case and corrects its labels;
- hand over (交办) with redaction: the member sees the redacted text, edits it, sends it; the
  unit's liaison reads the edited redacted text only;
- the unit's progress with evidence and a proposed reply; the group approves it as the reply;
- transfer (移交) of a clue and the commission's outcome (对账销号);
- reveal with a reason, then the audit log (the office's and the auditor's).
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from core.models import Case, ClueOutcome, Handover
from core.models.case import CaseStatus as S
from tests.desk import make_case, with_passwords
from tests.images import TINY_JPEG

pytestmark = pytest.mark.needs_browser

NAME, PHONE = "赵大妈", "13912345678"  # the named reporter (encrypted; shown only by a reveal)
TEXT_PHONE = "13800138000"


@pytest.fixture
def cases(app, db):
    vault = app.extensions["vault"]
    made = {
        "new": make_case(db, "白沙村的路灯坏了半年没人修，晚上出行不便", status=S.received, kind="suggestion",
                         domain="other"),
        # The reporter names herself in the text too: the unit must read neither her name nor phone.
        "handover": make_case(db, f"我是{NAME}，白沙村低保评定不公，村干部优亲厚友，电话{TEXT_PHONE}",
                              status=S.assigned, kind="petition", domain="funds", vault=vault, name=NAME, phone=PHONE),
        "clue": make_case(db, "早禾田村主任违规插手村部建设工程，收受好处", unit="青石镇/早禾田村", kind="clue",
                          domain="projects", status=S.assigned),
    }
    with_passwords(db)
    return made


def assert_seen_well(page, screen: str) -> None:
    """The named reporter's phone on no page (before a reveal), her name only in her own words
    (the group reads the text as written), and the page fits the screen's width."""
    html = page.content()
    assert PHONE not in html
    own_words = page.locator("p.text").all_inner_texts()
    assert html.count(NAME) == sum(text.count(NAME) for text in own_words)
    assert "码上巡察 · 工作台" in page.locator("body").inner_text()
    assert_fits(page, screen)


def assert_fits(page, screen: str) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the {screen} screen"


def card(page, heading: str):
    """The page's section under the heading `heading`."""
    return page.locator("section.card", has=page.get_by_role("heading", name=re.compile("^" + heading)))


def open_case(page, number: str) -> None:
    """From the inbox, as a person would: the case's number in the list."""
    page.goto("/admin/")
    page.get_by_role("link", name=number).click()
    page.wait_for_url(f"**/admin/cases/{number}")


def flash(page) -> str:
    return page.locator(".flash").first.inner_text()


def submit(page, button) -> None:
    """Click a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        button.click()


def test_triage_with_a_label_correction(page_for, cases, screen, db):
    page = page_for("li", screen)
    number = cases["new"].tracking_no
    open_case(page, number)
    labels = card(page, "机器分类")
    assert "类别：意见建议" in labels.inner_text() and "已由工作人员确认" not in labels.inner_text()
    submit(page, page.get_by_role("button", name="受理确认"))
    assert "已受理确认" in flash(page)
    assert page.locator("h1 small").inner_text() == "已分派巡察组"
    page.get_by_label("类别").select_option(label="民生诉求")
    page.get_by_label("领域").select_option(label="民生服务")
    submit(page, page.get_by_role("button", name="确认分类"))
    assert "分类已确认" in flash(page)
    labels = card(page, "机器分类").inner_text()
    assert "类别：民生诉求" in labels and "领域：民生服务" in labels and "已由工作人员确认" in labels
    timeline = card(page, "办理过程").inner_text()
    assert "县委第一巡察组已受理，正在办理" in timeline
    assert_seen_well(page, screen)
    case = db.get(Case, cases["new"].id)
    db.refresh(case)
    assert (case.kind, case.domain, case.labels_confirmed) == ("petition", "livelihood", True)


def hand_over(page, number: str) -> None:
    """The member checks the redacted text, edits it (typing a phone back in) and hands it over."""
    open_case(page, number)
    form = page.locator("form", has=page.get_by_role("button", name="交办", exact=True))
    text = form.get_by_label(re.compile("交办内容"))
    shown = text.input_value()
    assert "白沙村低保评定不公" in shown and "＊＊＊" in shown and "某某" in shown
    assert TEXT_PHONE not in shown and NAME not in shown
    text.fill(shown + "请于期限内核实整改，联系人电话13700001111。")
    form.get_by_label("承办单位").select_option(label="青石镇/白沙村")
    submit(page, form.get_by_role("button", name="交办", exact=True))
    assert "已交办" in flash(page)
    assert page.locator("h1 small").inner_text() == "已交办整改"


def test_hand_over_with_redaction(page_for, cases, screen, db):
    number = cases["handover"].tracking_no
    member = page_for("li", screen)
    hand_over(member, number)
    assert_seen_well(member, screen)
    handed = db.scalar(sa.select(Handover.text).where(Handover.case_id == cases["handover"].id))
    assert handed.endswith("请于期限内核实整改，联系人电话＊＊＊。")
    # The unit's liaison reads what was handed over: edited, redacted, nothing of the original.
    unit = page_for("baisha", screen)
    open_case(unit, number)
    content = card(unit, "反映内容")
    assert "（已脱敏）" in content.inner_text()
    assert unit.locator("p.text").inner_text() == handed
    html = unit.content()
    for secret in (NAME, PHONE, TEXT_PHONE, "13700001111"):
        assert secret not in html, secret
    assert card(unit, "机器分类").count() == 0 and unit.get_by_text("内部（仅工作人员）").count() == 0
    assert_seen_well(unit, screen)


def test_progress_proposal_approval_and_reply(page_for, cases, screen, tmp_path, db):
    number = cases["handover"].tracking_no
    hand_over(page_for("li", screen), number)
    unit = page_for("baisha", screen)
    open_case(unit, number)
    photo = tmp_path / "整改现场.jpg"
    photo.write_bytes(TINY_JPEG)
    form = unit.locator("form", has=unit.get_by_role("button", name="报送"))
    form.get_by_label("整改进展").fill("已重新公示低保名单，取消不符合条件的两户。")
    form.get_by_label(re.compile("证明材料")).set_input_files(str(photo))
    submit(unit, form.get_by_role("button", name="报送"))
    assert "整改进展已报送巡察组" in flash(unit)
    unit.get_by_label(re.compile("拟答复群众的内容")).fill("经核查，反映的低保问题属实，已重新评定并公示。")
    submit(unit, unit.get_by_role("button", name="报巡察组审核"))
    assert "拟答复已报巡察组审核" in flash(unit)
    reports = card(unit, "整改情况").inner_text()
    assert "已重新公示低保名单" in reports and "整改现场.jpg" in reports and "待审核" in reports
    assert_seen_well(unit, screen)

    # The group reads the report with its photo, edits the proposal and approves it as the reply.
    member = page_for("li", screen)
    open_case(member, number)
    reports = card(member, "整改情况")
    assert "整改现场.jpg" in reports.inner_text()
    photo_url = reports.get_by_role("link", name="整改现场.jpg").get_attribute("href")
    assert member.request.get(photo_url).headers["content-type"] == "image/jpeg"
    answer = reports.get_by_label(re.compile("答复内容"))
    assert answer.input_value() == "经核查，反映的低保问题属实，已重新评定并公示。"
    answer.fill("经核查，反映的低保问题属实，白沙村已重新评定并公示，感谢您的监督。")
    submit(member, reports.get_by_role("button", name="采纳并答复"))
    assert "拟答复已审核通过，作为答复发布" in flash(member)
    assert member.locator("h1 small").inner_text() == "已答复"
    public = member.locator("ol.timeline li.public").last.inner_text()
    assert "公开（群众可见）" in public and "白沙村已重新评定并公示，感谢您的监督" in public
    assert "已采纳为答复" in card(member, "整改情况").inner_text()
    assert card(member, "纪委监委处置结果").count() == 0  # never transferred: no empty card
    assert_seen_well(member, screen)
    # The unit sees its proposal taken, and the case replied.
    open_case(unit, number)
    assert "已采纳为答复" in card(unit, "整改情况").inner_text()
    assert unit.locator("h1 small").inner_text() == "已答复"


def test_transfer_and_the_commissions_outcome(page_for, cases, screen, db):
    number = cases["clue"].tracking_no
    member = page_for("li", screen)
    open_case(member, number)
    member.get_by_label("移交备注").fill("涉及村干部，移交处置")
    submit(member, member.get_by_role("button", name="移交", exact=True))
    assert "已移交纪委监委" in flash(member)
    assert member.locator("h1 small").inner_text() == "已移交"
    assert "问题线索已移交示范县纪委监委依规依纪处置" in card(member, "办理过程").inner_text()
    assert_seen_well(member, screen)

    jw = page_for("jw", screen)
    jw.get_by_role("link", name="对账销号").click()
    jw.wait_for_url("**/admin/reconciliation")
    assert number in jw.locator("table.cases").inner_text()
    jw.get_by_role("link", name=number).click()
    jw.wait_for_url(f"**/admin/cases/{number}")
    assert "早禾田村主任违规插手村部建设工程" in jw.locator("p.text").inner_text()
    outcome = card(jw, "纪委监委处置结果")
    assert "尚未记录处置结果。" in outcome.inner_text()
    outcome.get_by_label("处置结果").select_option(label="立案")
    outcome.get_by_label("说明").fill("已立案审查")
    submit(jw, outcome.get_by_role("button", name="记录"))
    assert "处置结果已记录" in flash(jw)
    assert "立案（" in card(jw, "纪委监委处置结果").inner_text()
    assert_seen_well(jw, screen)
    jw.get_by_role("link", name="对账销号").click()
    jw.wait_for_url("**/admin/reconciliation")
    assert number not in jw.locator("table.cases").inner_text()
    assert jw.get_by_text("所有移交线索均已记录处置结果。").is_visible()
    assert db.scalar(sa.select(ClueOutcome.outcome).where(ClueOutcome.case_id == cases["clue"].id)) == "filed_case"
    # The group reads the outcome on its case.
    open_case(member, number)
    assert "立案（" in card(member, "纪委监委处置结果").inner_text()


def test_reveal_with_a_reason_and_the_audit_log(page_for, cases, screen):
    number = cases["handover"].tracking_no
    leader = page_for("zhang", screen)
    open_case(leader, number)
    assert PHONE not in leader.content()  # the named reporter's phone: only after the reveal
    reveal = card(leader, "反映人身份")
    reveal.get_by_label(re.compile("查看理由")).fill("核实反映人身份，需电话回访")
    submit(leader, reveal.get_by_role("button", name="查看反映人身份"))
    shown = leader.locator("section.identity").inner_text()
    assert NAME in shown and PHONE in shown and "核实反映人身份，需电话回访" in shown
    assert "本次查看已记入审计日志" in shown
    assert_fits(leader, screen)  # the reveal's answer shows the identity on purpose

    for reader in ("lizhuren", "audit"):
        page = page_for(reader, screen)
        page.get_by_role("link", name=re.compile("审计日志")).first.click()
        page.wait_for_url("**/admin/audit**")
        row = page.locator("tr", has_text="查看反映人身份").first.inner_text()
        assert "张组长" in row and number in row and "核实反映人身份，需电话回访" in row
        body = page.content()
        assert NAME not in body and PHONE not in body  # the log names the act, never the identity
        assert_seen_well(page, screen)
    # Another group's leader has no reveal on this case, nor the case at all.
    assert page_for("wang", screen).goto(f"/admin/cases/{number}").status == 404
