"""The mobile page (/r/): the report form from a plain QR link (text, photos checked and cleaned,
location, 默认/实名/匿名, the poster's scene), routed like a chat report; OAuth inside WeChat
against the fake API; the status page, a case's link and the rating form; CSRF and rate limits;
nothing on a page that identifies a reporter."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import sqlalchemy as sa

from admin import handling
from core import lifecycle
from core.models import Attachment, Case, Group, Rating, Reporter
from core.models.case import CaseStatus as S
from intake.links import case_path
from tests.desk import staff
from tests.images import GPS_BYTES, MAKE, TINY_JPEG, TINY_PNG, exif, jpeg_with
from tests.mobile import WECHAT_UA, codes, page_csrf, report

TEXT = "白沙村村口的路灯坏了三个多月，晚上老人小孩出门很不安全"


def _case(db, number: str) -> Case:
    db.expire_all()
    return db.scalar(sa.select(Case).where(Case.tracking_no == number))


def test_the_form_from_a_plain_qr_link(client):
    r = client.get("/r/G1-baisha")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "向县委第一巡察组反映问题" in html and "0734-1234501" in html
    assert 'name="csrf_token"' in html and 'enctype="multipart/form-data"' in html
    for way in ("默认", "实名", "匿名"):
        assert way in html
    assert "凭受理编号和查询码查看答复" in html  # no WeChat here: a default report is followed by its code
    assert r.headers["Cache-Control"] == "no-store" and "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert re.findall(r'(?:src|href)="(?!/)', html) == []  # nothing from another site
    assert "向示范县委巡察办反映问题" in client.get("/r/").get_data(as_text=True)
    assert client.get("/r/NO-SUCH-POSTER").status_code == 404


def test_an_anonymous_report_with_a_photo(client, db, run_jobs, app):
    photo = jpeg_with(exif())
    r = report(client, text=TEXT, way="anonymous", photos=[(photo, "IMG_0001.jpg")], place="白沙村村口",
               lat="26.903", lng="112.551")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "提交成功" in html
    number, code = codes(html)
    assert code and "查询码只显示这一次" in html and "我们没有保存您的身份" in html
    case = _case(db, number)
    assert (case.channel, case.anonymity, case.reporter_id) == ("h5", "anonymous", None)
    assert case.qr_code.scene == "G1-baisha" and TEXT in case.text
    image, place = sorted(db.scalars(sa.select(Attachment).where(Attachment.case_id == case.id)), key=lambda a: a.kind)
    assert (image.kind, image.status, image.content_type) == ("image", "stored", "image/jpeg")
    stored = (app.extensions["settings"].media_dir / image.storage_path).read_bytes()
    assert GPS_BYTES not in stored and MAKE not in stored and stored.startswith(b"\xff\xd8")  # EXIF stripped
    assert (place.kind, place.lat, place.lng, place.label) == ("location", 26.903, 112.551, "白沙村村口")
    run_jobs()
    assert db.get(Group, _case(db, number).group_id).code == "G1"  # routed like any report
    assert client.post("/r/G1-baisha", data={"csrf_token": "x", "text": TEXT}).status_code == 400


def test_a_named_report_keeps_name_and_phone_encrypted_and_never_shows_them(client, db, app):
    r = report(client, text=TEXT, way="named", name="王小明", phone="13912345678", photos=[(TINY_PNG, "a.png")])
    html = r.get_data(as_text=True)
    number, code = codes(html)
    assert code  # outside WeChat, followed by its query code
    assert "王小明" not in html and "13912345678" not in html
    case = _case(db, number)
    vault = app.extensions["vault"]
    assert case.anonymity == "named" and vault.decrypt(case.contact_name_enc) == "王小明"
    assert vault.decrypt(case.contact_phone_enc) == "13912345678" and b"13912345678" not in case.contact_phone_enc
    status = client.post("/r/status", data={"csrf_token": page_csrf(client), "tracking_no": number,
                                            "query_code": code}).get_data(as_text=True)
    assert number in status and "王小明" not in status and "13912345678" not in status


def test_a_default_report_outside_wechat_gets_a_query_code(client, db):
    number, code = codes(report(client, text=TEXT).get_data(as_text=True))
    case = _case(db, number)
    assert code and case.anonymity == "default" and case.reporter_id is None and case.query_code_hash


@pytest.mark.parametrize("photos, fields, says", [
    ([(b"GIF89a not a photo", "photo.jpg")], {}, "只能上传 JPG 或 PNG"),
    ([(b"%PDF-1.4", "x.png")], {}, "只能上传 JPG 或 PNG"),
    ([(TINY_JPEG, f"{i}.jpg") for i in range(5)], {}, "最多上传4张"),
    ([(TINY_JPEG + b"\x00" * (10 * 1024 * 1024), "big.jpg")], {}, "不能超过10MB"),
    ([], {"text": ""}, "请填写要反映的问题"),
    ([], {"way": "named", "name": "王小明", "phone": "12345"}, "正确的手机号"),
    ([], {"way": "named", "name": "", "phone": "13912345678"}, "请填写姓名"),
    ([], {"lat": "north", "lng": "1"}, "位置坐标无效"),
])
def test_what_the_form_refuses(client, db, photos, fields, says):
    r = report(client, photos=photos, **{"text": TEXT, **fields})
    assert r.status_code == 400 and says in r.get_data(as_text=True)
    assert db.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_too_large_a_post_is_refused_with_a_page(client):
    r = report(client, text=TEXT, photos=[(TINY_JPEG + b"\x00" * (11 * 1024 * 1024), f"{i}.jpg") for i in range(4)])
    assert r.status_code == 413 and "照片太大或太多" in r.get_data(as_text=True)


def test_reports_are_rate_limited_per_address(client, db):
    for _ in range(10):
        assert report(client, text=TEXT).status_code == 200
    r = report(client, text=TEXT)
    assert r.status_code == 429 and "提交过于频繁" in r.get_data(as_text=True)
    assert db.scalar(sa.select(sa.func.count()).select_from(Case)) == 10


def test_reloading_the_answer_does_not_report_twice(client, db):
    data = {"csrf_token": page_csrf(client, "/r/G1-baisha"), "text": TEXT, "way": "default"}
    assert client.post("/r/G1-baisha", data=data).status_code == 200
    assert client.post("/r/G1-baisha", data=data).status_code == 400  # the token was renewed
    assert db.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def _through_wechat(client, fake_wechat, openid: str | None, path: str = "/r/G1-baisha"):
    """A WeChat browser opens `path`: to the fake's authorize page and back with a code."""
    requests.post(f"{fake_wechat}/_fake/oauth_user", json={"openid": openid}, timeout=5)
    r = client.get(path, headers={"User-Agent": WECHAT_UA})
    assert r.status_code == 302 and r.location.startswith(f"{fake_wechat}/connect/oauth2/authorize?")
    assert "scope=snsapi_base" in r.location and r.location.endswith("#wechat_redirect")
    back = requests.get(r.location.split("#")[0], allow_redirects=False, timeout=5)
    if back.status_code != 302:
        return back
    target = urlsplit(back.headers["Location"])
    assert target.path == "/r/oauth"
    r = client.get(f"{target.path}?{target.query}", headers={"User-Agent": WECHAT_UA})
    assert r.status_code == 302 and urlsplit(r.location).path == path and "code" not in r.location
    return r


def test_wechat_is_sent_back_to_the_public_address_not_the_proxys_upstream(client, settings):
    """Behind nginx the request's host is the upstream's; WeChat only returns to the account's
    own domain, PUBLIC_URL."""
    r = client.get("/r/G1-baisha", headers={"User-Agent": WECHAT_UA, "Host": "127.0.0.1:8000"})
    assert r.status_code == 302
    back = parse_qs(urlsplit(r.location.split("#")[0]).query)["redirect_uri"]
    assert back == [settings.public_url + "/r/oauth"] and "127.0.0.1:8000" not in r.location


def test_inside_wechat_oauth_links_the_openid_for_replies(client, db, app, fake_wechat, caplog):
    openid = "oWXPAGE00000000000000000001"
    _through_wechat(client, fake_wechat, openid)
    form = client.get("/r/G1-baisha", headers={"User-Agent": WECHAT_UA})
    html = form.get_data(as_text=True)
    assert form.status_code == 200 and "答复通过公众号发给您" in html and openid not in html
    with client.session_transaction() as sess:  # the cookie's content, decoded: sealed, not merely signed
        assert isinstance(sess["r_wx"], bytes) and openid.encode() not in sess["r_wx"]
        assert openid not in repr(dict(sess))
    r = report(client, text=TEXT, headers={"User-Agent": WECHAT_UA})
    html = r.get_data(as_text=True)
    number, code = codes(html)
    assert code and "答复也会通过公众号消息发给您" in html and openid not in html
    case = _case(db, number)
    assert db.get(Reporter, case.reporter_id).openid_hash == app.extensions["vault"].openid_hash(openid)
    # The same browser reports anonymously: nothing links, and the cookie forgets the openid.
    number, code = codes(report(client, text=TEXT, way="anonymous").get_data(as_text=True))
    assert code and _case(db, number).reporter_id is None
    with client.session_transaction() as sess:
        assert "r_wx" not in sess
    assert requests.get(f"{fake_wechat}/_fake/calls", timeout=5).json()["/sns/oauth2/access_token"] == 1
    assert "/sns/oauth2/access_token" in caplog.text and openid not in caplog.text  # in no log line


def test_a_failed_authorization_still_takes_the_report_and_never_loops(client, db, fake_wechat):
    requests.post(f"{fake_wechat}/_fake/oauth_user", json={"openid": "oSOMEONE"}, timeout=5)
    r = client.get("/r/G2-shimen", headers={"User-Agent": WECHAT_UA})
    state = re.search(r"state=([^&#]+)", r.location).group(1)
    r = client.get(f"/r/oauth?code=forged-code&state={state}", headers={"User-Agent": WECHAT_UA})
    assert r.status_code == 302
    form = client.get("/r/G2-shimen", headers={"User-Agent": WECHAT_UA})
    assert form.status_code == 200  # no second trip to WeChat
    number, code = codes(report(client, "/r/G2-shimen", text=TEXT).get_data(as_text=True))
    assert code and _case(db, number).reporter_id is None


def _replied(app, db, number: str, text: str = "路灯已更换，恢复照明。") -> Case:
    app.extensions["jobs"].wait(timeout=30)  # in-process routing has finished with the case
    case = _case(db, number)
    if case.status in (S.received.value, S.assigned.value, S.reopened.value):
        lifecycle.move(db, case, S.handed_over, lifecycle.Actor.staff(staff(db, "zhang").id), "hand_over")
    handling.reply(db, staff(db, "zhang"), case, text)
    db.commit()
    return case


def _status(client, number: str, code: str):
    return client.post("/r/status", data={"csrf_token": page_csrf(client), "tracking_no": number.lower(),
                                          "query_code": code})


def test_status_page_timeline_reply_and_rating(client, db, app):
    number, code = codes(report(client, text=TEXT, way="anonymous").get_data(as_text=True))
    page = _status(client, number, code).get_data(as_text=True)
    assert number in page and "已受理" in page and "通过手机网页提交" in page and "提交评价" not in page
    assert TEXT not in page
    assert _status(client, number, "WRONG123").status_code == 404
    _replied(app, db, number)
    page = _status(client, number, code).get_data(as_text=True)
    assert "路灯已更换，恢复照明。" in page and "已答复" in page and "提交评价" in page
    grant = re.search(r'name="grant" value="([^"]+)"', page).group(1)
    r = client.post("/r/rate", data={"csrf_token": page_csrf(client), "grant": grant, "score": "unsatisfied",
                                     "reason": "只修好了一盏"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "此事已重新交巡察组办理" in html and "重新办理中" in html
    rating = db.scalar(sa.select(Rating))
    assert (rating.score, rating.reason, rating.via, rating.reply_round) == ("unsatisfied", "只修好了一盏", "h5", 1)
    again = client.post("/r/rate", data={"csrf_token": page_csrf(client), "grant": grant, "score": "satisfied"})
    assert again.status_code == 400 and "收到新的答复后可以再次评价" in again.get_data(as_text=True)
    _replied(app, db, number, "已全部修好。")
    stale = client.post("/r/rate", data={"csrf_token": page_csrf(client), "grant": grant, "score": "satisfied"})
    assert stale.status_code == 409  # the page showed the first reply: rate the one now shown
    page = _status(client, number, code).get_data(as_text=True)
    grant = re.search(r'name="grant" value="([^"]+)"', page).group(1)
    html = client.post("/r/rate", data={"csrf_token": page_csrf(client), "grant": grant,
                                        "score": "satisfied"}).get_data(as_text=True)
    assert "感谢您的评价" in html and "已评价" in html and "您对这次答复的评价：满意" in html
    assert _case(db, number).status == S.rated.value
    assert client.post("/r/rate", data={"csrf_token": page_csrf(client), "grant": "forged",
                                        "score": "satisfied"}).status_code == 400


def test_status_lookups_are_rate_limited(client, db):
    number, code = codes(report(client, text=TEXT, way="anonymous").get_data(as_text=True))
    for _ in range(20):
        assert _status(client, number, "WRONG123").status_code == 404
    r = _status(client, number, code)
    assert r.status_code == 429 and "查询过于频繁" in r.get_data(as_text=True)


def test_a_message_link_shows_a_non_anonymous_case(client, db, app, fake_wechat):
    secret = app.extensions["settings"].secret_key
    _through_wechat(client, fake_wechat, "oLINK0000000000000000000001")
    number, _ = codes(report(client, text=TEXT, headers={"User-Agent": WECHAT_UA}).get_data(as_text=True))
    _replied(app, db, number)
    other = app.test_client()  # the link opened anywhere: it names the case, not the reporter
    page = other.get(case_path(secret, number)).get_data(as_text=True)
    assert number in page and "路灯已更换" in page and "提交评价" in page and "oLINK" not in page
    grant = re.search(r'name="grant" value="([^"]+)"', page).group(1)
    other.post("/r/rate", data={"csrf_token": page_csrf(other), "grant": grant, "score": "basically"})
    assert _case(db, number).status == S.rated.value
    anonymous, _ = codes(report(client, text=TEXT, way="anonymous").get_data(as_text=True))
    assert other.get(case_path(secret, anonymous)).status_code == 404
    assert other.get("/r/case/forged-token").status_code == 404
