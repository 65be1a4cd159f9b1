"""The messages to citizens on the desk (/admin/outbox, 消息发送): each message's state, the
failures first, and a retry (CSRF, through `admin.access`). The office sees every message; a
group's staff the messages of the cases they may see (`access.condition(staff, "outbox")`);
nobody else. A message names its case, never its recipient: no openid reaches a page."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from admin.access import condition, may_do
from admin.blueprint import bp
from core.app import db_session
from core.models import Case, OutboxMessage, Staff
from intake import outbox

PAGE = 100
STATUS_NAMES = {"queued": "待发送", "claimed": "待发送", "sending": "发送中", "sent": "已发送",
                "failed": "发送失败", "unknown": "未确认送达"}
PURPOSE_NAMES = {"reply": "答复", "status": "进展", "rating": "评价邀请", "survey": "满意度测评", "reminder": "提醒"}
VIA_NAMES = {"custom": "客服消息", "template": "模板消息"}
FILTERS = {"problems": ("failed", "unknown"), "waiting": ("queued", "claimed", "sending"), "sent": ("sent",),
           "all": None}


def visible_messages(staff: Staff) -> sa.Select:
    """`select(OutboxMessage)` of what `staff` may see: its case's rule, or (no case) the office's."""
    about_case = sa.exists().where(Case.id == OutboxMessage.case_id, condition(staff, "outbox"))
    no_case = sa.and_(OutboxMessage.case_id.is_(None), sa.true() if may_do(staff, "outbox_no_case") else sa.false())
    return sa.select(OutboxMessage).where(sa.or_(about_case, no_case))


def case_messages(s: Session, case: Case) -> list[OutboxMessage]:
    return list(s.scalars(sa.select(OutboxMessage).where(OutboxMessage.case_id == case.id)
                          .order_by(OutboxMessage.id.desc()).limit(50)))


@bp.app_template_global("outbox_names")
def _names() -> dict:
    return {"status": STATUS_NAMES, "purpose": PURPOSE_NAMES, "via": VIA_NAMES}


@bp.get("/outbox")
def outbox_list():
    if not may_do(g.staff, "outbox_page"):
        abort(404)
    show = request.args.get("show", "problems")
    statuses = FILTERS.get(show, FILTERS["problems"])
    s = db_session()
    stmt = visible_messages(g.staff)
    if statuses:
        stmt = stmt.where(OutboxMessage.status.in_(statuses))
    before = request.args.get("before", type=int)
    if before:
        stmt = stmt.where(OutboxMessage.id < before)
    found = list(s.scalars(stmt.order_by(OutboxMessage.id.desc()).limit(PAGE + 1)))
    cases = {c.id: c.tracking_no for c in s.scalars(sa.select(Case).where(
        Case.id.in_({m.case_id for m in found if m.case_id})))}
    mine = visible_messages(g.staff).with_only_columns(OutboxMessage.status).subquery()
    counts = dict(s.execute(sa.select(mine.c.status, sa.func.count()).group_by(mine.c.status)).all())
    return render_template("admin/outbox.html", messages=found[:PAGE], more=found[PAGE].id if len(found) > PAGE else None,
                           cases=cases, show=show, counts=counts)


@bp.post("/outbox/<int:message_id>/retry")
def outbox_retry(message_id: int):
    if not may_do(g.staff, "outbox_page"):
        abort(404)
    s = db_session()
    message = s.scalar(visible_messages(g.staff).where(OutboxMessage.id == message_id))
    if message is None:
        abort(404)
    if outbox.retry(s, message):
        s.commit()
        flash("已重新排队发送", "ok")
    else:
        flash("该消息不是发送失败或未确认状态，无需重发", "error")
    back = request.form.get("back")
    if back == "case" and message.case_id:
        return redirect(url_for("admin.case_page", tracking_no=s.get(Case, message.case_id).tracking_no))
    return redirect(url_for("admin.outbox_list", show=request.form.get("show", "problems")))
