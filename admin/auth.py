"""Logging in and out, the session, CSRF: the gate in front of every desk page.

The Flask session cookie (signed, HttpOnly, SameSite=Lax, Secure outside development and
testing: see `core.app`) carries two random values: the desk session's token (the server keeps
only its hash, `admin.accounts`) and this browser's CSRF token. Every POST to the desk must
send the CSRF token back (`csrf_token`); logging in clears the cookie's session and starts new
ones (no fixation). Login attempts are limited per login and per address, for all workers.
"""
from __future__ import annotations

import hmac
import secrets

from flask import abort, g, redirect, render_template, request, session, url_for

from admin import accounts, audit
from admin.blueprint import bp
from core.app import db_session, limiter

PER_LOGIN = (5, 15 * 60)  # attempts per login in 15 minutes
PER_ADDRESS = (30, 15 * 60)  # attempts from one address in 15 minutes
OPEN = {"admin.login", "admin.static"}
MAX_POST = 52 * 1024 * 1024


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_template_global("csrf_token")
def _csrf_token_global() -> str:
    return csrf_token()


@bp.before_request
def gate():
    if request.method == "POST":
        # Before the form is read: the largest desk form is a unit's evidence (5 files of 10 MB).
        request.max_content_length = MAX_POST
        sent, kept = request.form.get("csrf_token", ""), session.get("csrf", "")
        if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
            abort(400, "表单已过期，请刷新页面后重试")
    if request.endpoint in OPEN:
        return None
    s = db_session()
    current = accounts.resume(s, session.get("desk"))
    s.commit()  # seen_at, or a dead session deleted
    if current is None:
        had = "desk" in session
        session.clear()
        return redirect(url_for("admin.login", expired=1 if had else None))
    g.staff = current.staff
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    status = 200
    if request.method == "POST":
        login_name = request.form.get("login", "").strip()[:60]
        password = request.form.get("password", "")
        lim = limiter()
        s = db_session()
        # Both counters count every attempt, before any password is hashed.
        by_login = lim.allow(f"desk-login:{login_name}", *PER_LOGIN)
        by_address = lim.allow(f"desk-login-address:{request.remote_addr}", *PER_ADDRESS)
        if not (by_login and by_address):
            error, status = "登录尝试过多，请稍后再试。", 429
        else:
            staff = accounts.authenticate(s, login_name, password)
            audit.login_attempt(s, login_name, staff, request.remote_addr)
            if staff is None:
                s.commit()
                error, status = "账号或密码错误。", 401
            else:
                session.clear()  # a new session: nothing from before login survives
                session["desk"] = accounts.start_session(s, staff)
                session["csrf"] = secrets.token_urlsafe(32)
                s.commit()
                return redirect(url_for("admin.inbox"))
    expired = request.args.get("expired") and request.method == "GET"
    return render_template("admin/login.html", error=error, expired=expired), status


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    if request.method == "GET":
        return render_template("admin/logout.html")
    s = db_session()
    accounts.end_session(s, session.get("desk"))
    s.commit()
    session.clear()
    return redirect(url_for("admin.login"))
