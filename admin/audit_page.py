"""The audit log and the statistics (/admin/audit): the office's and the auditor's page (审计),
404 for everyone else. Reading it is not itself recorded: it shows no reporter's identity and no
case text, and who can read it is known from the logins it lists."""
from __future__ import annotations

from flask import abort, g, render_template, request

from admin import audit, labels
from admin.access import may_do
from admin.blueprint import bp
from core.app import db_session


@bp.get("/audit")
def audit_log():
    if not may_do(g.staff, "audit_log"):
        abort(404)
    s = db_session()
    action = request.args.get("action", "")
    action = action if action in audit.ACTION_NAMES else ""
    try:
        page = audit.page(s, request.args.get("cursor") or None, action)
    except audit.BadCursor:
        abort(400, "翻页参数无效")
    stats = audit.statistics(s) if may_do(g.staff, "statistics") and not request.args.get("cursor") else None
    return render_template("admin/audit.html", page=page, action=action, actions=audit.ACTION_NAMES, stats=stats,
                           statuses=labels.STATUS_NAMES, kinds=labels.kinds())
