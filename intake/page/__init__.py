"""The mobile page (手机网页, `/r/`): the report form a plain QR link opens in any phone browser,
the status page (tracking number + query code), a case's page from a message link, and the
rating form. Server-rendered, one small stylesheet and one small script of its own, no
framework, nothing from another site.

The page never shows anything that identifies a reporter: no openid (learned inside WeChat by
OAuth, kept sealed in the session cookie, never in a page, a URL or a log), no name, no phone,
not even the report's text on a case's page (a link may be forwarded).
"""
from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, render_template, request, session

bp = Blueprint("mobile", __name__, url_prefix="/r", template_folder="templates", static_folder="static",
               static_url_path="/static")

CSRF_KEY = "r_csrf"  # the desk has its own ("csrf"): a citizen's page and a staff tab never meet
MAX_POST = 4 * 10 * 1024 * 1024 + 1024 * 1024  # four photos of 10 MB and the form


def csrf_token() -> str:
    if CSRF_KEY not in session:
        session[CSRF_KEY] = secrets.token_urlsafe(32)
    return session[CSRF_KEY]


def renew_csrf() -> None:
    """After a report is accepted: reloading the answer page cannot send the same report again."""
    session[CSRF_KEY] = secrets.token_urlsafe(32)


@bp.context_processor
def _helpers() -> dict:
    return {"csrf_token": csrf_token}


@bp.before_request
def _check_form():
    if request.method == "POST":
        request.max_content_length = MAX_POST
        sent, kept = request.form.get("csrf_token", ""), session.get(CSRF_KEY, "")
        if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
            return render_template("mobile/message.html", title="页面已过期",
                                   message="页面已过期，请返回后刷新页面再提交。"), 400
    return None


@bp.after_request
def _headers(response):
    # Answers carry tracking numbers and query codes: never cached, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; "
                                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    return response


@bp.app_errorhandler(413)
def _too_large(exc):
    if not request.path.startswith("/r/"):
        return exc  # the desk's and the webhook's answer as before
    return render_template("mobile/message.html", title="文件太大",
                           message="照片太大或太多：最多4张，每张不超过10MB。请返回重新选择。"), 413


from intake.page import follow, report  # noqa: E402,F401  (registers the routes)
