"""The JSON API (/api/v1) and its tokens (`flask api-token`): hashed at rest, revoked refused,
keyset pages that return every case once, filters, the public timeline only, and no reporter
identity in any answer."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core import lifecycle
from core.models import ApiToken, AuditEntry, Case
from core.models.case import CaseStatus as S
from tests.desk import make_case

NAME, PHONE, OPENID = "赵大妈", "13912345678", "oREPORTER00000000000000001"


def create_token(runner, name="dashboard") -> str:
    r = runner.invoke(args=["api-token", "create", name])
    assert r.exit_code == 0, r.output
    return r.output.split()[-1]


@pytest.fixture
def token(runner):
    return create_token(runner)


def get(client, url, token):
    return client.get(url, headers={"Authorization": f"Bearer {token}"})


def all_pages(client, token, query=""):
    numbers, cursor = [], None
    while True:
        url = f"/api/v1/cases?{query}" + (f"&cursor={cursor}" if cursor else "")
        r = get(client, url, token)
        assert r.status_code == 200, r.get_data(as_text=True)
        numbers += [c["tracking_no"] for c in r.json["cases"]]
        cursor = r.json["next"]
        if cursor is None:
            return numbers


def test_create_prints_the_token_last_and_keeps_only_its_hash(runner, db, client):
    out = runner.invoke(args=["api-token", "create", "dashboard"]).output
    token = out.split()[-1]
    assert token.startswith("msx_") and len(token) > 40
    row = db.scalar(sa.select(ApiToken))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = db.execute(sa.text("SELECT * FROM api_tokens")).all()
    assert token not in repr(stored) and token[4:] not in repr(stored)
    listing = runner.invoke(args=["api-token", "list"]).output
    assert "dashboard" in listing and "live" in listing and token not in listing and row.token_hash not in listing
    assert runner.invoke(args=["api-token", "create", "dashboard"]).exit_code != 0  # a live name is taken
    assert get(client, "/api/v1/cases", token).status_code == 200
    assert [e.detail for e in db.scalars(sa.select(AuditEntry))] == ["dashboard"]


def test_a_missing_wrong_or_revoked_token_is_refused(runner, client, db, token):
    for headers in ({}, {"Authorization": "Bearer msx_not-a-token"}, {"Authorization": f"Basic {token}"},
                    {"Authorization": token}):
        r = client.get("/api/v1/cases", headers=headers)
        assert r.status_code == 401 and r.json["error"] == "invalid_token", headers
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(client, "/api/v1/cases", token).status_code == 200
    assert runner.invoke(args=["api-token", "revoke", "dashboard"]).exit_code == 0
    r = get(client, "/api/v1/cases", token)
    assert r.status_code == 401 and r.json["error"] == "invalid_token"
    assert runner.invoke(args=["api-token", "revoke", "dashboard"]).exit_code != 0
    assert "revoked" in runner.invoke(args=["api-token", "list"]).output
    fresh = create_token(runner)  # the name is free again, with a new token
    assert fresh != token and get(client, "/api/v1/cases", fresh).status_code == 200


@pytest.mark.parametrize("sort", ["newest", "oldest", "priority"])
def test_pages_return_every_case_once(client, db, token, sort):
    base = datetime(2026, 11, 20)
    for i in range(23):
        make_case(db, f"反映{i}", created_at=base + timedelta(hours=i // 3), priority=i % 2)
    numbers = all_pages(client, token, f"limit=5&sort={sort}")
    assert sorted(numbers) == sorted(db.scalars(sa.select(Case.tracking_no)))
    assert len(numbers) == len(set(numbers)) == 23
    assert get(client, "/api/v1/cases?cursor=garbage", token).status_code == 400


def test_case_fields_and_filters(client, db, token):
    g1 = make_case(db, "白沙村低保不公", status=S.handed_over, handed_to="青石镇/白沙村", kind="petition",
                   domain="funds", priority=2, created_at=datetime(2026, 11, 20, 2))
    g2 = make_case(db, "石门村水渠堵了", unit="柳溪镇/石门村", group="G2", kind="petition",
                   created_at=datetime(2026, 11, 25, 2))
    office = make_case(db, "私人纠纷", unit=None, group=None, status=S.received, kind="out_of_scope",
                       created_at=datetime(2026, 11, 28, 2))
    [case] = [c for c in get(client, "/api/v1/cases", token).json["cases"] if c["tracking_no"] == g1.tracking_no]
    assert case == {"tracking_no": g1.tracking_no, "kind": "petition", "domain": "funds", "unit": "青石镇/白沙村",
                    "group": "G1", "status": "handed_over", "channel": "wechat",
                    "created_at": "2026-11-20T10:00:00+08:00", "priority": 2}

    def numbers(query):
        return set(all_pages(client, token, query))

    assert numbers("status=handed_over") == {g1.tracking_no}
    assert numbers("group=G2") == {g2.tracking_no}
    assert numbers("group=office") == {office.tracking_no}
    assert numbers("unit=柳溪镇") == {g2.tracking_no}
    assert numbers("kind=out_of_scope") == {office.tracking_no}
    assert numbers("since=2026-11-25") == {g2.tracking_no, office.tracking_no}
    assert numbers("since=2026-11-28T10:00:00%2B08:00") == {office.tracking_no}
    assert numbers("since=2026-11-28T02:00:01Z") == set()
    for bad in ("status=nope", "since=yesterday", "sort=random", "limit=x"):
        assert get(client, f"/api/v1/cases?{bad}", token).status_code == 400, bad


def test_one_case_with_its_public_timeline_only(client, db, token):
    case = make_case(db, "白沙村路灯坏了", status=S.handed_over)
    lifecycle.record(db, case, lifecycle.SYSTEM, "note", "内部备注：组长说先别回复")
    lifecycle.move(db, case, S.replied, lifecycle.SYSTEM, "reply", "已修复，联系电话13812345678", public=True)
    db.commit()
    r = get(client, f"/api/v1/cases/{case.tracking_no.lower()}", token)
    assert r.status_code == 200 and r.json["tracking_no"] == case.tracking_no
    actions = [e["action"] for e in r.json["events"]]
    assert actions == ["submitted", "reply"]
    assert "内部备注" not in r.get_data(as_text=True) and "内部备注" not in json.dumps(r.json, ensure_ascii=False)
    assert r.json["events"][1]["note"] == "已修复，联系电话＊＊＊"
    missing = get(client, "/api/v1/cases/XC261201999999", token)
    assert missing.status_code == 404 and missing.json["error"] == "not_found"


def test_errors_are_json_and_chinese_is_readable(client, db, token):
    case = make_case(db, "白沙村路灯坏了", status=S.handed_over, handed_to="青石镇/白沙村")
    body = get(client, f"/api/v1/cases/{case.tracking_no}", token).get_data()
    assert "青石镇/白沙村".encode() in body and b"\\u" not in body  # UTF-8, not \u escapes
    for url, status, code in (("/api/v1/nothing-here", 404, "not_found"), ("/api/v1", 404, "not_found"),
                              ("/api/v1/cases/XC1/extra", 404, "not_found")):
        r = get(client, url, token)
        assert (r.status_code, r.mimetype, r.json["error"]) == (status, "application/json", code), url
    r = client.post("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.mimetype, r.json["error"]) == (405, "application/json", "method_not_allowed")
    assert "GET" in r.headers["Allow"]
    r = client.get("/api/v1/cases")  # no token
    assert (r.status_code, r.mimetype, r.json["error"]) == (401, "application/json", "invalid_token")
    assert client.get("/admin/no-such-page").mimetype == "text/html"  # the desk's errors stay pages


def test_no_reporter_identity_in_any_answer(app, client, db, token):
    from intake.cases import _reporter

    vault = app.extensions["vault"]
    named = make_case(db, "白沙村低保有人冒领", status=S.handed_over, vault=vault, name=NAME, phone=PHONE)
    named.reporter = _reporter(db, vault, OPENID)
    lifecycle.move(db, named, S.replied, lifecycle.SYSTEM, "reply", f"{NAME}您好，已核实", public=True)
    db.commit()
    answers = [get(client, url, token) for url in (
        "/api/v1/cases", f"/api/v1/cases/{named.tracking_no}", "/api/v1/cases?status=replied",
        f"/api/v1/cases?unit=青石镇/白沙村&group=G1&kind=&since=2000-01-01")]
    for r in answers:
        assert r.status_code == 200
        for text in (r.get_data(as_text=True), json.dumps(r.json, ensure_ascii=False)):
            assert NAME not in text and PHONE not in text and OPENID not in text
            assert "冒领" not in text  # nor the text itself


def test_requests_are_limited_per_token(client, db, token, monkeypatch):
    from admin import api

    monkeypatch.setattr(api, "PER_TOKEN", (3, 60))
    codes = [get(client, "/api/v1/cases", token).status_code for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    assert get(client, "/api/v1/cases", token).json["error"] == "rate_limited"
