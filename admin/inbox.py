"""The inbox (/admin/): each role's cases, filtered, searched, sorted, a page at a time, with
bulk assignment."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for

from admin import labels
from admin.assign import assign, candidates
from admin.deadlines import overdue_case_ids, unit_notices
from admin.blueprint import bp
from admin.listing import SORT_NAMES, BadCursor, Filters, inbox_page
from admin.redact import redact
from core.app import db_session, vault
from core.models import Case, Group, Unit
from core.models.org import Role


@bp.get("/")
def inbox():
    s = db_session()
    staff = g.staff
    filters = Filters.from_args(request.args)
    try:
        page = inbox_page(s, staff, filters, request.args.get("cursor") or None)
    except BadCursor:
        abort(400, "翻页参数无效")
    unit_view = Role(staff.role) == Role.unit_liaison
    rows = [(case, redact(case.summary, case, vault()) if unit_view else case.summary) for case in page.cases]
    return render_template(
        "admin/inbox.html", rows=rows, page=page, filters=filters, sorts=SORT_NAMES,
        statuses=labels.STATUS_NAMES, kinds=labels.kinds(), domains=labels.domains(), channels=labels.CHANNEL_NAMES,
        units=s.scalars(sa.select(Unit.path).order_by(Unit.path)).all(),
        groups=s.execute(sa.select(Group.id, Group.name).order_by(Group.id)).all(),
        assignees=candidates(s, staff), auditor=Role(staff.role) == Role.auditor, unit_view=unit_view,
        overdue=overdue_case_ids(s, [case.id for case in page.cases]),
        notices=unit_notices(s, staff.unit_id) if unit_view else [])


@bp.post("/assign")
def bulk_assign():
    s = db_session()
    numbers = request.form.getlist("case")[:500]
    ids = list(s.scalars(sa.select(Case.id).where(Case.tracking_no.in_(numbers))))
    try:
        assignee = int(request.form.get("assignee", ""))
    except ValueError:
        abort(400, "请选择分派对象")
    result = assign(s, g.staff, ids, assignee)
    s.commit()
    if result.done:
        flash(f"已分派 {len(result.done)} 件", "ok")
    for number, why in result.refused:
        flash(f"{number}：{why}", "error")
    back = request.form.get("back", "")
    return redirect(back if back.startswith("/admin/") and not back.startswith("//") else url_for("admin.inbox"))
