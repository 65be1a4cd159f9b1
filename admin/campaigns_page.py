"""Survey campaigns on the desk (/admin/campaigns, 满意度测评; the office only, `access.DESK`):
start one for a unit and a round, follow its figures (the satisfaction rate with its sample
size, the number surveyed and the response rate), print its QR code, close it."""
from __future__ import annotations

import io
from datetime import date, timedelta

import segno
import sqlalchemy as sa
from flask import Response, abort, flash, g, redirect, render_template, request, url_for

from admin.access import may_do
from admin.blueprint import bp
from core import clock
from core.app import db_session, settings
from core.models import Round, SurveyCampaign, Unit
from intake import campaigns

DEFAULT_DAYS = 14


def _office() -> None:
    if not may_do(g.staff, "campaigns"):
        abort(404)


def _campaign(campaign_id: int) -> SurveyCampaign:
    _office()
    campaign = db_session().get(SurveyCampaign, campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def public_url(campaign: SurveyCampaign) -> str:
    """The campaign's public link, under the product's public address (`PUBLIC_URL`, as the
    outbox's links)."""
    return settings().public_url.rstrip("/") + campaigns.survey_path(campaign.code)


@bp.get("/campaigns")
def campaigns_list():
    _office()
    s = db_session()
    rows = [(c, campaigns.figures(s, c.id)) for c in
            s.scalars(sa.select(SurveyCampaign).order_by(SurveyCampaign.id.desc()).limit(200))]
    today = clock.today()
    return render_template("admin/campaigns.html", rows=rows, today=today,
                           rounds=s.scalars(sa.select(Round).order_by(Round.start.desc())).all(),
                           units=s.scalars(sa.select(Unit).order_by(Unit.path)).all(),
                           default_close=today + timedelta(days=DEFAULT_DAYS))


@bp.post("/campaigns")
def start_campaign():
    _office()
    s = db_session()
    try:
        closes_on = date.fromisoformat(request.form.get("closes_on", ""))
        campaign = campaigns.start_campaign(s, g.staff.id, _int(request.form.get("round")),
                                            _int(request.form.get("unit")), closes_on, request.form.get("question"))
    except ValueError as exc:  # CampaignError, or a date that is not one
        s.rollback()
        flash(str(exc) if isinstance(exc, campaigns.CampaignError) else "请填写截止日期", "error")
        return redirect(url_for("admin.campaigns_list"))
    s.commit()
    flash("测评已开始，正在向相关群众发送测评链接", "ok")
    return redirect(url_for("admin.campaign_page", campaign_id=campaign.id))


@bp.get("/campaigns/<int:campaign_id>")
def campaign_page(campaign_id: int):
    campaign = _campaign(campaign_id)
    url = public_url(campaign)
    svg = segno.make(url, error="m").svg_inline(scale=4, border=2)
    return render_template("admin/campaign.html", campaign=campaign, fig=campaigns.figures(db_session(), campaign.id),
                           url=url, svg=svg, is_open=campaign.open_on(clock.today()), scores=campaigns.SCORES)


@bp.get("/campaigns/<int:campaign_id>/qr.png")
def campaign_qr(campaign_id: int):
    """The poster's QR code, to print (the public link)."""
    campaign = _campaign(campaign_id)
    out = io.BytesIO()
    segno.make(public_url(campaign), error="m").save(out, kind="png", scale=10, border=4)
    return Response(out.getvalue(), mimetype="image/png",
                    headers={"Content-Disposition": f"attachment; filename=survey-{campaign.code}.png"})


@bp.post("/campaigns/<int:campaign_id>/close")
def close_campaign(campaign_id: int):
    campaign = _campaign(campaign_id)
    campaigns.close_campaign(db_session(), campaign)
    db_session().commit()
    flash("测评已结束，此后的回答保存但不计入结果", "ok")
    return redirect(url_for("admin.campaign_page", campaign_id=campaign.id))


def _int(value: str | None) -> int | None:
    try:
        return int(value or "")
    except ValueError:
        return None
