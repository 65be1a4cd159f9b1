"""The survey's answer page (/r/survey/<code>): Chinese, tiny, no script, for any phone browser.

Reached by the campaign's QR code and public link, or by a reporter's personal link
(`?t=<token>`, from the outbox). The form carries a CSRF token tied to this browser's cookie;
answers are limited per address. What "once" means is said on the page: a personal link counts
once; the public code counts once per browser (this cookie); a repeated answer is kept, the
first counts; an answer after the campaign closed is kept and not counted.
"""
from __future__ import annotations

import hmac
import secrets

import sqlalchemy as sa
from flask import Blueprint, abort, make_response, render_template, request

from core import clock
from core.app import db_session, limiter, settings
from core.models import SurveyCampaign
from core.models.oversight import AnswerState
from intake import campaigns

bp = Blueprint("survey", __name__, url_prefix="/r/survey", template_folder="templates")

COOKIE = "mashang_survey"
COOKIE_AGE = 365 * 24 * 3600
PER_ADDRESS = (30, 10 * 60)  # answers from one address in 10 minutes (a village shares a few)
MAX_FORM = 16 * 1024


def _csrf(cookie: str) -> str:
    return hmac.new(settings().secret_key.encode(), f"survey-csrf:{cookie}".encode(), "sha256").hexdigest()[:32]


def _campaign(code: str) -> SurveyCampaign:
    campaign = db_session().scalar(sa.select(SurveyCampaign).where(SurveyCampaign.code == code[:16]))
    if campaign is None:
        abort(404)
    return campaign


def _page(template: str, status: int = 200, cookie: str | None = None, **context):
    cookie = cookie or request.cookies.get(COOKIE) or secrets.token_urlsafe(18)
    response = render_template(template, csrf_token=_csrf(cookie), scores=campaigns.SCORES, **context)
    response = _respond(response, status)
    response.set_cookie(COOKIE, cookie, max_age=COOKIE_AGE, path=bp.url_prefix, httponly=True, samesite="Lax",
                        secure=settings().env not in ("development", "testing"))
    return response


def _respond(body: str, status: int):
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the personal token stays off other sites
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
    return response


@bp.get("/<code>")
def answer_form(code: str):
    s = db_session()
    campaign = _campaign(code)
    token = request.args.get("t") or None
    if token and campaigns.recipient_by_token(s, campaign, token) is None:
        abort(404)
    return _page("survey/answer.html", campaign=campaign, token=token, is_open=campaign.open_on(clock.today()))


@bp.post("/<code>")
def answer_post(code: str):
    request.max_content_length = MAX_FORM
    s = db_session()
    campaign = _campaign(code)
    cookie = request.cookies.get(COOKIE, "")
    if not cookie or not hmac.compare_digest(request.form.get("csrf_token", "").encode(), _csrf(cookie).encode()):
        return _page("survey/answer.html", 400, campaign=campaign, token=request.form.get("t") or None,
                     is_open=campaign.open_on(clock.today()), error="页面已过期，请重新选择后提交。")
    if not limiter().allow(f"survey-answer:{request.remote_addr}", *PER_ADDRESS):
        return _page("survey/done.html", 429, cookie=cookie, campaign=campaign, state=None,
                     message="提交过于频繁，请稍后再试。")
    token = request.form.get("t") or None
    recipient = campaigns.recipient_by_token(s, campaign, token) if token else None
    if token and recipient is None:
        abort(404)
    try:
        answer = campaigns.answer(s, campaign, request.form.get("score", ""), request.form.get("reason"),
                                  campaigns.device_hash(settings().secret_key, cookie), recipient)
    except campaigns.CampaignError as exc:
        return _page("survey/answer.html", 400, cookie=cookie, campaign=campaign, token=token,
                     is_open=campaign.open_on(clock.today()), error=str(exc))
    s.commit()
    return _page("survey/done.html", cookie=cookie, campaign=campaign, state=answer.state, message=MESSAGES[answer.state])


MESSAGES = {
    AnswerState.counted.value: "感谢您的评价，已计入本次测评结果。",
    AnswerState.repeated.value: "您已经评价过，本次提交已保存，但以第一次评价为准，不重复计入。",
    AnswerState.late.value: "本次测评已经结束，您的评价已保存，供巡察组参考，但不计入测评结果。",
}
