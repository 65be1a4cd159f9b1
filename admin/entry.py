"""Staff entry (录入): a report taken at a village meeting, by letter, by phone or in person,
opened like any other case (`intake.cases.open_case`, routed the same way), the staff member
named as the one who entered it."""
from __future__ import annotations

from flask import abort, g, render_template, request

from admin.access import may_do
from admin.blueprint import bp
from admin.labels import CHANNEL_NAMES
from core import lifecycle
from core.app import db_session, jobs, vault
from intake.cases import EmptyDraft, NewCase, open_case

STAFF_CHANNELS = ("meeting", "letter", "phone", "visit")
CHOICES = {"default": "一般（不显示身份）", "named": "实名（姓名、电话加密保存）", "anonymous": "匿名（不记录任何身份）"}


@bp.route("/cases/new", methods=["GET", "POST"])
def enter_case():
    if not may_do(g.staff, "enter_case"):
        abort(404)
    form = request.form
    error = None
    if request.method == "POST":
        channel, anonymity = form.get("channel", ""), form.get("anonymity", "default")
        name, phone = form.get("name", "").strip()[:60], form.get("phone", "").strip()[:40]
        if channel not in STAFF_CHANNELS or anonymity not in CHOICES:
            error = "请选择来源渠道和反映方式"
        elif anonymity == "named" and not (name and phone):
            error = "实名反映请填写姓名和联系电话"
        else:
            s = db_session()
            try:
                sub = open_case(s, NewCase(
                    channel=channel, texts=[form.get("text", "")[:5000]], anonymity=anonymity,
                    name=name if anonymity == "named" else None, phone=phone if anonymity == "named" else None,
                    actor=lifecycle.Actor.staff(g.staff.id)), vault(), jobs())
            except EmptyDraft:
                error = "请填写反映内容"
            else:
                number = sub.case.tracking_no
                s.commit()
                # Shown once, in this answer only (never in a flash: the session cookie is only signed).
                return _page({}, None, done=(number, sub.query_code))
    return _page(form, error), 400 if error else 200


def _page(form, error, done=None):
    return render_template("admin/entry.html", channels={c: CHANNEL_NAMES[c] for c in STAFF_CHANNELS},
                           choices=CHOICES, form=form, error=error, done=done)
