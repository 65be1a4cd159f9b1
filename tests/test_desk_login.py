"""The desk's gate: login, logout, CSRF, rate limits, cookies, idle timeout, deactivation, and
`flask staff password`."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from core.db import utcnow
from core.models import StaffSession
from tests.desk import PASSWORD, csrf, login, post, staff, with_passwords


def test_login_opens_the_inbox_and_logout_ends_the_session(client, db):
    with_passwords(db, "zhang", "li", "wang")
    assert client.get("/admin/").status_code == 302  # to the login page
    page = client.get("/admin/login").get_data(as_text=True)
    assert 'name="login"' in page and 'name="password"' in page and 'name="csrf_token"' in page
    r = login(client, "zhang")
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/")
    assert "张组长" in client.get("/admin/").get_data(as_text=True)
    cookie = client.get_cookie("mashang_session")
    assert post(client, "/admin/logout", {}).status_code == 302
    assert client.get("/admin/").status_code == 302
    # The old cookie replayed: the server ended that session.
    client.set_cookie("mashang_session", cookie.value)
    assert client.get("/admin/").status_code == 302
    assert db.scalar(sa.select(sa.func.count()).select_from(StaffSession)) == 0


def test_wrong_password_or_login_is_refused_alike(client, db):
    with_passwords(db, "zhang", "li", "wang")
    wrong = login(client, "zhang", "not-the-password")
    nobody = login(client, "nobody", PASSWORD)
    assert wrong.status_code == nobody.status_code == 401
    assert "账号或密码错误" in wrong.get_data(as_text=True) and "账号或密码错误" in nobody.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_every_post_needs_the_csrf_token(client, db):
    with_passwords(db, "zhang", "li", "wang")
    csrf(client)
    r = client.post("/admin/login", data={"login": "zhang", "password": PASSWORD})
    assert r.status_code == 400
    r = client.post("/admin/login", data={"login": "zhang", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    assert login(client, "zhang").status_code == 302
    assert client.post("/admin/logout", data={}).status_code == 400
    assert client.post("/admin/assign", data={"case": "X", "assignee": "1", "csrf_token": "x"}).status_code == 400
    assert client.get("/admin/").status_code == 200  # still logged in


def test_login_rotates_the_session(client, db):
    with_passwords(db, "zhang", "li", "wang")
    before = csrf(client)
    login(client, "zhang")
    with client.session_transaction() as sess:
        assert sess["csrf"] != before and sess["desk"]


def test_cookie_is_httponly_and_samesite(client, db):
    with_passwords(db, "zhang", "li", "wang")
    r = login(client, "zhang")
    header = r.headers["Set-Cookie"]
    assert "HttpOnly" in header and "SameSite=Lax" in header


def test_cookie_is_secure_outside_development(app):
    from core.settings import NOT_DEPLOYED

    assert app.config["SESSION_COOKIE_SECURE"] is False and "testing" in NOT_DEPLOYED
    # The rule itself: core.app sets Secure for every env that is a deployment.
    import inspect

    import core.app
    assert "SESSION_COOKIE_SECURE=settings.env not in NOT_DEPLOYED" in inspect.getsource(core.app)


def test_login_attempts_are_limited_per_login_and_per_address(client, db):
    with_passwords(db, "zhang", "li", "wang")
    for _ in range(5):
        assert login(client, "zhang", "wrong-guess-xx").status_code == 401
    r = login(client, "zhang")  # the right password, too late
    assert r.status_code == 429 and "登录尝试过多" in r.get_data(as_text=True)
    assert login(client, "li").status_code == 302  # another login from here still works
    post(client, "/admin/logout", {})
    # Per address: many logins guessed from one place.
    for i in range(30):
        login(client, f"guess{i}", "x")
    assert login(client, "wang").status_code == 429


def test_an_idle_session_ends(client, db):
    with_passwords(db, "zhang", "li", "wang")
    login(client, "zhang")
    assert client.get("/admin/").status_code == 200
    db.execute(sa.update(StaffSession).values(seen_at=utcnow() - timedelta(minutes=31)))
    db.commit()
    r = client.get("/admin/")
    assert r.status_code == 302 and "expired=1" in r.headers["Location"]
    assert "登录已失效" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_an_account_the_next_file_drops_loses_access_at_once(client, db, runner, tmp_path):
    with_passwords(db, "baisha")
    login(client, "baisha")
    assert client.get("/admin/").status_code == 200
    text = Path("deploy/demo.yaml").read_text(encoding="utf-8")
    dropped = text.replace(",\n         liaisons: [{name: 白沙村联络员, login: baisha}]}", "}")
    assert dropped != text
    path = tmp_path / "demo.yaml"
    path.write_text(dropped, encoding="utf-8")
    out = runner.invoke(args=["deploy", "load", str(path)]).output
    assert "accounts deactivated: 1" in out, out
    assert client.get("/admin/").status_code == 302
    assert login(client, "baisha").status_code == 401
    db.expire_all()
    assert staff(db, "baisha").active is False
    # Listed again: back, with the same password.
    runner.invoke(args=["deploy", "load", "deploy/demo.yaml"])
    assert login(client, "baisha").status_code == 302


def test_a_group_member_the_file_drops_is_deactivated(client, db, runner, tmp_path):
    with_passwords(db, "li", "zhang")
    text = Path("deploy/demo.yaml").read_text(encoding="utf-8")
    path = tmp_path / "demo.yaml"
    path.write_text(text.replace("      - {name: 李联络员, role: liaison, home_unit: 县水利局, login: li}\n", ""),
                    encoding="utf-8")
    runner.invoke(args=["deploy", "load", str(path)])
    assert login(client, "li").status_code == 401
    assert login(client, "zhang").status_code == 302


def test_deployment_accounts_have_their_roles(db):
    roles = {s.login: (s.role, s.unit.path if s.unit else None) for s in db.scalars(sa.select(type(staff(db, "jw"))))}
    assert roles["lizhuren"] == ("office_admin", None)
    assert roles["audit"] == ("auditor", None)
    assert roles["jw"] == ("commission_liaison", None)
    assert roles["baisha"] == ("unit_liaison", "青石镇/白沙村")


def test_staff_password_reads_stdin_and_refuses_short_ones(runner, db):
    r = runner.invoke(args=["staff", "password", "zhang"], input="short\n")
    assert r.exit_code != 0 and "at least" in r.output
    r = runner.invoke(args=["staff", "password", "nobody"], input="long-enough-password\n")
    assert r.exit_code != 0 and "no staff account" in r.output
    r = runner.invoke(args=["staff", "password", "zhang"], input="long-enough-password\n")
    assert r.exit_code == 0, r.output
    db.expire_all()
    assert staff(db, "zhang").password_hash.startswith("scrypt:")
