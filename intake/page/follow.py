"""Following a case on the mobile page: `/r/status` (tracking number + query code), `/r/case/<token>`
(a message's link to a non-anonymous case, `intake.links`), and the rating form both show.

What is shown is `intake.progress.citizen_view`: the status, the public timeline and the latest
reply; never the reporter, nor the report's text. The rating form carries a signed grant for
that case (an hour), so rating needs no second query-code check.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from core.app import db_session, limiter, settings
from core.models import Case, Rating
from intake.links import tracking_no_of
from intake.page import bp
from intake.progress import citizen_view, find_case
from intake.ratings import SCORE_LABELS, NotRatable, rate_case, refusal, reply_round

LOOKUPS_PER_ADDRESS = (20, 3600)  # each lookup is a PBKDF2 (~13 ms): guessing must be slow
LOOKUPS_PER_CASE = (20, 3600)  # one tracking number, from any number of addresses (as in the chat)
RATINGS_PER_ADDRESS = (30, 3600)
GRANT_SALT, GRANT_AGE = "mashang.rate-form", 3600
NOT_FOUND = "没有查到：受理编号或查询码不正确，请核对后重试。"


def _grants() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings().secret_key, salt=GRANT_SALT)


@bp.get("/status")
def status_form():
    return render_template("mobile/status.html", view=None)


@bp.post("/status")
def status():
    number = request.form.get("tracking_no", "").strip().upper()[:24]
    code = request.form.get("query_code", "").strip()[:20]
    if not number or not code:
        return render_template("mobile/status.html", view=None, error="请填写受理编号和查询码。",
                               tracking_no=number), 400
    lim = limiter()
    if not (lim.allow(f"h5-lookup:{request.remote_addr}", *LOOKUPS_PER_ADDRESS)
            and lim.allow(f"query-case:{number}", *LOOKUPS_PER_CASE)):
        return render_template("mobile/status.html", view=None, error="查询过于频繁，请一小时后再试。",
                               tracking_no=number), 429
    s = db_session()
    case = find_case(s, number, code)  # one PBKDF2 whatever was found
    if case is None:
        return render_template("mobile/status.html", view=None, error=NOT_FOUND, tracking_no=number), 404
    return _case_page(s, case)


@bp.get("/case/<token>")
def case_link(token: str):
    s = db_session()
    number = tracking_no_of(settings().secret_key, token)
    case = s.scalar(sa.select(Case).where(Case.tracking_no == number)) if number else None
    if case is None or case.anonymity == "anonymous":
        return render_template("mobile/message.html", title="链接无效",
                               message="链接无效或已过期。请凭受理编号和查询码查询，或在公众号回复「查询」。",
                               link="/r/status", link_text="查询进度"), 404
    return _case_page(s, case)


@bp.post("/rate")
def rate():
    s = db_session()
    try:
        number, rnd = _grants().loads(request.form.get("grant", ""), max_age=GRANT_AGE)
    except (BadSignature, ValueError, TypeError):
        return render_template("mobile/message.html", title="页面已过期",
                               message="评价页面已过期，请重新查询后再评价。", link="/r/status",
                               link_text="查询进度"), 400
    case = s.scalar(sa.select(Case).where(Case.tracking_no == number))
    if case is None:
        return render_template("mobile/message.html", title="链接无效", message=NOT_FOUND), 404
    if not limiter().allow(f"h5-rate:{request.remote_addr}", *RATINGS_PER_ADDRESS):
        return _case_page(s, case, error="提交过于频繁，请稍后再试。"), 429
    score = request.form.get("score", "")
    if rnd != reply_round(s, case):  # a new reply came meanwhile: rate what is on the page now
        return _case_page(s, case, error="这件事项有了新的答复，请阅读后再评价。"), 409
    try:
        rated = rate_case(s, case, score, request.form.get("reason", ""), "h5")
    except NotRatable as refused:
        s.rollback()
        return _case_page(s, case, error=str(refused)), 400
    s.commit()
    thanks = "感谢您的评价！"
    if rated.escalated:
        thanks += "您再次评价不满意，此事已提交巡察办督办，办理后会再次答复。"
    elif rated.reopened:
        thanks += "此事已重新交巡察组办理，办理后会再次答复。"
    return _case_page(s, case, notice=thanks)


def _case_page(s, case: Case, error: str | None = None, notice: str | None = None):
    view = citizen_view(s, case)
    rnd = reply_round(s, case)
    ratable = refusal(s, case, "h5") is None
    mine = s.scalar(sa.select(Rating).where(Rating.case_id == case.id, Rating.reply_round == rnd)) if rnd else None
    return render_template("mobile/case.html", view=view, ratable=ratable,
                           grant=_grants().dumps([case.tracking_no, rnd]) if ratable else None,
                           rated=SCORE_LABELS[mine.score] if mine else None, error=error, notice=notice,
                           scores=[(k.value, v) for k, v in SCORE_LABELS.items()])
