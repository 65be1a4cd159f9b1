"""The mobile page in a real browser on a phone-sized window (Chromium through playwright): a
report with a photo (anonymous and named), the status query, the rating; the page shows nothing
that identifies a reporter, fits the screen, and still fits with the phone's text at twice the size."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from admin import handling
from core import lifecycle
from core.models import Attachment, Case, Rating
from core.models.case import CaseStatus as S
from tests.browser import PHONE
from tests.desk import staff
from tests.images import GPS_BYTES, exif, jpeg_with

pytestmark = pytest.mark.needs_browser

NAME, PHONE_NO = "王小明", "13912345678"
TEXT = "白沙村村口的路灯坏了三个多月，晚上老人小孩出门很不安全"


@pytest.fixture
def phone(chromium, app):
    from tests.browser import new_page, serve

    base, stop = serve(app)
    page = new_page(chromium, PHONE, base)
    yield page
    page.context.close()
    stop()


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "IMG_20261201.jpg"
    path.write_bytes(jpeg_with(exif()))
    return path


def seen_well(page) -> str:
    """The page's text; it names no reporter and fits the phone's width."""
    html = page.content()
    assert NAME not in html and PHONE_NO not in html and "oWX" not in html
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow}px wider than the phone"
    return page.locator("body").inner_text()


def fill_report(page, photo, way: str) -> None:
    page.goto("/r/G1-baisha")
    assert page.get_by_role("heading", name="向县委第一巡察组反映问题").is_visible()
    seen_well(page)
    page.get_by_label("要反映的问题").fill(TEXT)
    assert page.get_by_text("选择照片", exact=True).is_visible()  # in Chinese whatever the browser's language
    page.locator("#photos").set_input_files(str(photo))
    assert page.locator("#chosen").inner_text() == "已选择1张照片"
    page.get_by_label("地点").fill("白沙村村口")
    assert not page.get_by_label("姓名", exact=True).is_visible()  # asked for under 实名 only
    page.locator(f"input[name=way][value={way}]").check()
    assert page.get_by_label("姓名", exact=True).is_visible() == (way == "named")


def submitted(page) -> tuple[str, str | None]:
    page.get_by_role("button", name="提交反映").click()
    page.wait_for_url("**/r/G1-baisha")
    assert page.get_by_role("heading", name="提交成功，您的反映已受理").is_visible()
    seen_well(page)
    code = page.locator("#query-code")
    return page.locator("#tracking-no").inner_text(), code.inner_text() if code.count() else None


def test_anonymous_report_with_a_photo_status_and_rating(phone, db, app, photo):
    page = phone
    page.context.grant_permissions(["geolocation"])
    page.context.set_geolocation({"latitude": 26.9034, "longitude": 112.5512})
    fill_report(page, photo, "anonymous")
    page.get_by_role("button", name="使用当前位置").click()
    page.get_by_text("已获取当前位置。").wait_for()
    number, code = submitted(page)
    assert re.fullmatch(r"XC\d{12}", number) and code
    app.extensions["jobs"].wait(timeout=30)  # in-process routing done (with Redis, no worker runs here)
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert case.anonymity == "anonymous" and case.reporter_id is None and case.channel == "h5"
    atts = {a.kind: a for a in db.scalars(sa.select(Attachment).where(Attachment.case_id == case.id))}
    assert GPS_BYTES not in (app.extensions["settings"].media_dir / atts["image"].storage_path).read_bytes()
    assert (atts["location"].lat, atts["location"].lng, atts["location"].label) == (26.9034, 112.5512, "白沙村村口")

    page.get_by_role("link", name="查询进度").first.click()
    page.get_by_label("受理编号").fill(number)
    page.get_by_label("查询码").fill(code)
    page.get_by_role("button", name="查询").click()
    assert page.locator("#status").inner_text() in ("已受理", "已分派巡察组")  # routed or not yet
    assert TEXT not in seen_well(page)

    lifecycle.move(db, case, S.handed_over, lifecycle.Actor.staff(staff(db, "zhang").id), "hand_over")
    handling.reply(db, staff(db, "zhang"), case, "路灯已更换，恢复照明。")
    db.commit()
    page.goto("/r/status")
    page.get_by_label("受理编号").fill(number)
    page.get_by_label("查询码").fill(code)
    page.get_by_role("button", name="查询").click()
    assert page.locator("#reply").inner_text() == "路灯已更换，恢复照明。"
    page.get_by_label("不满意").check()
    page.get_by_label("原因（可选）").fill("只修好了一盏")
    page.get_by_role("button", name="提交评价").click()
    page.get_by_text("此事已重新交巡察组办理").wait_for()
    assert page.locator("#status").inner_text() == "重新办理中"
    seen_well(page)
    db.expire_all()
    rating = db.scalar(sa.select(Rating))
    assert (rating.score, rating.reason, rating.via) == ("unsatisfied", "只修好了一盏", "h5")


def test_named_report_with_a_photo_shows_no_name_or_phone(phone, db, app, photo):
    page = phone
    fill_report(page, photo, "named")
    page.get_by_label("姓名", exact=True).fill(NAME)
    page.get_by_label("手机号", exact=True).fill("139")  # wrong: the form says why, keeps what was typed
    page.get_by_role("button", name="提交反映").click()
    assert page.get_by_text("实名反映请填写正确的手机号或固定电话。").is_visible()
    assert page.get_by_label("要反映的问题").input_value() == TEXT
    page.locator("#photos").set_input_files(str(photo))
    page.get_by_label("手机号", exact=True).fill(PHONE_NO)
    number, code = submitted(page)
    app.extensions["jobs"].wait(timeout=30)
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    vault = app.extensions["vault"]
    assert case.anonymity == "named" and vault.decrypt(case.contact_name_enc) == NAME
    assert db.scalar(sa.select(sa.func.count()).select_from(Attachment).where(
        Attachment.case_id == case.id, Attachment.kind == "image")) == 1
    lifecycle.move(db, case, S.handed_over, lifecycle.Actor.staff(staff(db, "zhang").id), "hand_over")
    handling.reply(db, staff(db, "zhang"), case, "已联系您并处理完毕。")
    db.commit()
    page.goto("/r/status")
    page.get_by_label("受理编号").fill(number)
    page.get_by_label("查询码").fill(code)
    page.get_by_role("button", name="查询").click()
    page.get_by_label("满意", exact=True).check()
    page.get_by_role("button", name="提交评价").click()
    page.get_by_text("感谢您的评价！").wait_for()
    assert "您对这次答复的评价：满意" in seen_well(page)
    assert page.locator("#status").inner_text() == "已评价"


def test_the_form_fits_with_large_system_fonts(phone):
    page = phone
    page.goto("/r/G1-baisha")
    page.evaluate("document.documentElement.style.fontSize = '200%'")  # the phone's largest text setting
    seen_well(page)
    page.locator("input[name=way][value=named]").check()
    assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('label')).fontSize)") >= 31
    seen_well(page)  # the 实名 fields open, still within the width
    button = page.get_by_role("button", name="提交反映")
    button.scroll_into_view_if_needed()
    assert button.is_visible() and button.bounding_box()["width"] <= PHONE["width"]
