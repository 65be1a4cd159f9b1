"""Revealing a reporter (admin/reveal.py) and the audit log (admin/audit.py): who may, the reason,
the identity shown once and never again, the row it leaves, who reads the log."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.models import AuditEntry
from core.models.case import CaseStatus as S
from tests.desk import LOGINS, login, make_case, post, staff, with_passwords

NAME, PHONE, OPENID = "赵大妈", "13912345678", "oREPORTER00000000000000001"
REASON = "需当面核实低保冒领情况"


@pytest.fixture
def named(app, db):
    """A named G1 report by a WeChat user (name, phone and openid kept, encrypted)."""
    from intake.cases import _reporter

    vault = app.extensions["vault"]
    case = make_case(db, "白沙村低保有人冒领", status=S.assigned, vault=vault, name=NAME, phone=PHONE)
    case.reporter = _reporter(db, vault, OPENID)
    db.commit()
    with_passwords(db)
    return case


def reveal(client, case, reason=REASON):
    return post(client, f"/admin/cases/{case.tracking_no}/reveal", {"reason": reason})


def audit_rows(db):
    db.expire_all()
    return db.scalars(sa.select(AuditEntry).where(AuditEntry.action == "reveal").order_by(AuditEntry.id)).all()


def shows_identity(text: str) -> bool:
    return NAME in text or PHONE in text or OPENID in text


@pytest.mark.parametrize("who", ["lizhuren", "zhang"])
def test_the_office_and_the_cases_group_leader_reveal_with_a_reason(client, db, named, who):
    login(client, who)
    page = client.get(f"/admin/cases/{named.tracking_no}").get_data(as_text=True)
    assert "查看反映人身份" in page and 'name="reason"' in page and not shows_identity(page)
    for query in (NAME, PHONE, OPENID):  # searching for the reporter finds nothing, shows nothing
        found = client.get("/admin/", query_string={"q": query}).get_data(as_text=True)
        echoed = found.replace(f'value="{query}"', "").replace(f"q={query}", "")  # the search box, the form's back link
        assert named.tracking_no not in found and not shows_identity(echoed)
    r = reveal(client, named)
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and NAME in text and PHONE in text and OPENID in text
    assert "no-store" in r.headers["Cache-Control"]
    [row] = audit_rows(db)
    assert (row.staff_id, row.case_id, row.reason) == (staff(db, who).id, named.id, REASON)
    assert row.at is not None
    stored = " ".join(str(getattr(row, c.key)) for c in AuditEntry.__table__.columns)
    assert not shows_identity(stored)
    # Shown once: the case page, the inbox and the audit log never show it afterwards.
    for url in (f"/admin/cases/{named.tracking_no}", "/admin/", "/admin/audit"):
        assert not shows_identity(client.get(url).get_data(as_text=True)), url
    # Each reveal is its own act, with its own row.
    reveal(client, named, "第二次核实回访")
    assert [r.reason for r in audit_rows(db)] == [REASON, "第二次核实回访"]


@pytest.mark.parametrize("who", sorted(set(LOGINS) - {"lizhuren", "zhang"}))
def test_everyone_else_gets_404(client, db, named, who):
    """li is G1's liaison, wang another group's leader, then the unit, the commission, the auditor."""
    login(client, who)
    assert reveal(client, named).status_code == 404
    assert client.get(f"/admin/cases/{named.tracking_no}/reveal").status_code == 404
    page = client.get(f"/admin/cases/{named.tracking_no}")
    assert 'id="reveal"' not in page.get_data(as_text=True) and '/reveal' not in page.get_data(as_text=True)
    assert audit_rows(db) == []


def test_a_leader_reveals_only_his_own_groups_cases(client, db, named, app):
    vault = app.extensions["vault"]
    g2 = make_case(db, "石门村水渠堵了", unit="柳溪镇/石门村", group="G2", vault=vault, name="钱大伯", phone="13700001111")
    given = make_case(db, "邻里纠纷", unit=None, group=None, vault=vault, name="孙阿姨", phone="13600002222")
    given.assignee_id = staff(db, "zhang").id  # from the office's queue: he sees it, it is not G1's
    db.commit()
    login(client, "wang")
    assert reveal(client, named).status_code == 404
    assert "钱大伯" in reveal(client, g2).get_data(as_text=True)
    login(client, "zhang")
    assert client.get(f"/admin/cases/{given.tracking_no}").status_code == 200
    assert reveal(client, given).status_code == 404
    assert [r.case_id for r in audit_rows(db)] == [g2.id]


def test_a_reason_is_required(client, db, named):
    login(client, "lizhuren")
    for reason in ("", "   ", "看看"):
        r = reveal(client, named, reason)
        assert r.status_code == 400 and "查看理由" in r.get_data(as_text=True)
        assert not shows_identity(r.get_data(as_text=True))
    assert audit_rows(db) == []


def test_without_the_csrf_token_nothing_is_revealed(client, db, named):
    login(client, "lizhuren")
    r = client.post(f"/admin/cases/{named.tracking_no}/reveal", data={"reason": REASON})
    assert r.status_code == 400 and not shows_identity(r.get_data(as_text=True))
    assert audit_rows(db) == []


def test_an_anonymous_case_has_nothing_to_reveal(client, db):
    case = make_case(db, "匿名反映村干部优亲厚友", status=S.assigned)
    case.anonymity = "anonymous"
    db.commit()
    with_passwords(db)
    login(client, "lizhuren")
    page = client.get(f"/admin/cases/{case.tracking_no}").get_data(as_text=True)
    assert "没有可查看的身份信息：匿名反映" in page and '/reveal"' not in page
    r = reveal(client, case)
    assert r.status_code == 200 and "没有可查看的身份信息：匿名反映" in r.get_data(as_text=True)
    assert audit_rows(db) == []


def test_the_audit_log_is_the_office_and_the_auditors(client, db, named):
    login(client, "zhang")
    reveal(client, named)
    client.post("/admin/login", data={"login": "zhang", "password": "wrong-password-1", "csrf_token": "x"})
    post(client, "/admin/login", {"login": "zhang", "password": "wrong-password-1"})
    for who in LOGINS:
        login(client, who)
        r = client.get("/admin/audit")
        if who in ("lizhuren", "audit"):
            text = r.get_data(as_text=True)
            assert r.status_code == 200, who
            assert REASON in text and named.tracking_no in text and "张组长" in text and "登录失败" in text
            assert "审计日志" in client.get("/admin/").get_data(as_text=True)
            assert not shows_identity(text)
            assert "低保有人冒领" not in text  # statistics and log: no case text
            assert "案件总数" in text
        else:
            assert r.status_code == 404, who
            assert 'href="/admin/audit"' not in client.get("/admin/").get_data(as_text=True)


def test_the_auditors_page_has_statistics_without_case_text(client, db, named):
    make_case(db, "石门村水渠堵了", unit="柳溪镇/石门村", group="G2", status=S.handed_over, kind="petition")
    login(client, "audit")
    text = client.get("/admin/audit").get_data(as_text=True)
    assert "按状态" in text and "按类别" in text and "县委第二巡察组" in text and "案件总数：2" in text
    assert "水渠" not in text and "冒领" not in text


def test_logins_are_recorded(client, db, named):
    login(client, "lizhuren")
    login(client, "nobody-here", "whatever-password")
    db.expire_all()
    rows = db.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(r.action, r.staff_id) for r in rows] == [("login", staff(db, "lizhuren").id), ("login_failed", None)]
    assert rows[1].detail == "未知账号" and "nobody" not in str(rows[1].detail)


def test_audit_rows_are_immutable_in_the_orm_and_the_database(db, named):
    from admin import audit

    row = audit.record(db, audit.REVEAL, staff=staff(db, "lizhuren"), case=named, reason=REASON)
    db.commit()
    row.reason = "改过的理由"
    with pytest.raises(ValueError):
        db.commit()
    db.rollback()
    for statement in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DBAPIError):
            db.execute(sa.text(statement))
        db.rollback()
    assert db.scalar(sa.select(AuditEntry.reason)) == REASON


def test_audit_pages_return_every_row_once_newest_first(client, db):
    from admin import audit

    for i in range(53):  # more than a page of the desk's (50)
        audit.record(db, audit.LOGIN_FAILED, detail=f"#{i}")
    db.commit()
    seen, cursor = [], None
    while True:
        page = audit.page(db, cursor, limit=10)
        seen += [e.id for e in page.entries]
        cursor = page.next
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 53
    with_passwords(db, "audit")
    login(client, "audit")
    first = client.get("/admin/audit").get_data(as_text=True)
    assert "更早的记录" in first and client.get("/admin/audit?cursor=abc").status_code == 400
