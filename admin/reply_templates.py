"""答复模板: the office keeps reusable replies (/admin/reply-templates); a member starts a reply
from one on the case page."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from admin.access import may_do
from admin.blueprint import bp
from admin.handling import Refused, text_field
from core.app import db_session
from core.models import ReplyTemplate


def all_templates(s: Session) -> list[ReplyTemplate]:
    return list(s.scalars(sa.select(ReplyTemplate).order_by(ReplyTemplate.title)))


def save(s: Session, template_id: int | None, title: str, body: str) -> ReplyTemplate:
    title = (text_field(title, "模板名称") or "")[:60]
    body = text_field(body, "模板内容")
    row = s.get(ReplyTemplate, template_id) if template_id else ReplyTemplate()
    if row is None:
        raise Refused("模板不存在")
    clash = s.scalar(sa.select(ReplyTemplate.id).where(ReplyTemplate.title == title))
    if clash is not None and clash != row.id:
        raise Refused(f"已有名为「{title}」的模板")
    row.title, row.body = title, body
    s.add(row)
    return row


def _office_only() -> Session:
    if not may_do(g.staff, "edit_templates"):
        abort(404)
    return db_session()


@bp.get("/reply-templates")
def reply_templates():
    s = _office_only()
    return render_template("admin/reply_templates.html", templates=all_templates(s))


@bp.post("/reply-templates")
def reply_template_save():
    s = _office_only()
    ident = request.form.get("id", "")
    try:
        row = save(s, int(ident) if ident.isdigit() else None, request.form.get("title", ""),
                   request.form.get("body", ""))
    except Refused as refused:
        s.rollback()
        flash(str(refused), "error")
    else:
        s.commit()
        flash(f"模板「{row.title}」已保存", "ok")
    return redirect(url_for("admin.reply_templates"))


@bp.post("/reply-templates/<int:template_id>/delete")
def reply_template_delete(template_id: int):
    s = _office_only()
    row = s.get(ReplyTemplate, template_id)
    if row is not None:
        s.delete(row)
        s.commit()
        flash(f"模板「{row.title}」已删除", "ok")
    return redirect(url_for("admin.reply_templates"))
