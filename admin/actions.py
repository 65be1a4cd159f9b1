"""The case page's forms (POST /admin/cases/<tracking_no>/<action>): each action is a rule of
`admin.access` (404 out of scope, 403 when the role or the status does not allow it), a service
call, a commit and back to the case with what happened. Also what the page needs to draw them,
the unit's evidence files and the commission's reconciliation list."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from sqlalchemy.orm import Session

from admin import commission, handling, rectification
from admin.access import find_case, may, may_do
from admin.blueprint import bp
from admin.handling import Refused
from admin.reply_templates import all_templates
from core import clock
from core.app import db_session, settings, vault
from core.models import Case, ReplyTemplate, Staff, Unit
from core.models.desk import OUTCOMES


@dataclass(frozen=True)
class Form:
    rule: str  # the action of admin.access it needs
    run: Callable  # (session, staff, case, form) → the message for the member


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _accept(s, staff, case, form):
    handling.accept(s, staff, case)
    return "已受理确认"


def _note(s, staff, case, form):
    handling.note(s, staff, case, form.get("note", ""))
    return "内部备注已保存（仅工作人员可见）"


def _reply(s, staff, case, form):
    handling.reply(s, staff, case, form.get("reply", ""))
    return "答复已发布，群众可查看"


def _labels(s, staff, case, form):
    handling.correct(s, staff, case, form.get("kind"), form.get("domain"))
    return "分类已确认"


def _unit(s, staff, case, form):
    warning = handling.correct_unit(s, staff, case, _int(form.get("unit")))
    if warning:
        flash(warning, "error")
    return "被反映单位已更正"


def _merge(s, staff, case, form):
    main = handling.merge(s, staff, case, form.get("main", ""))
    return f"已合并到 {main.tracking_no}"


def _hand_over(s, staff, case, form):
    h = handling.hand_over(s, staff, case, vault(), _int(form.get("unit")), form.get("due_on", ""),
                           form.get("text", ""))
    return f"已交办，期限 {h.due_on}"


def _transfer(s, staff, case, form):
    handling.transfer(s, staff, case, form.get("remark"))
    return "已移交纪委监委"


def _refer(s, staff, case, form):
    handling.refer(s, staff, case, form.get("channel", ""), form.get("reason", ""))
    return "已转办"


def _verify(s, staff, case, form):
    handling.verify(s, staff, case, form.get("remark"))
    return "已转为自行核查"


def _file(s, staff, case, form):
    handling.file(s, staff, case, form.get("remark"))
    return "已存档备查"


def _reject(s, staff, case, form):
    handling.reject(s, staff, case, form.get("reason", ""), form.get("out_of_scope") == "1")
    return "已不予受理，理由群众可见"


def _progress(s, staff, case, form):
    uploads = [rectification.Upload(f.filename or "", f.read(rectification.MAX_FILE + 1))
               for f in request.files.getlist("files") if f and f.filename]
    rectification.report_progress(s, staff, case, settings().media_dir, form.get("text", ""), uploads)
    return "整改进展已报送巡察组"


def _propose(s, staff, case, form):
    rectification.propose_reply(s, staff, case, form.get("text", ""))
    return "拟答复已报巡察组审核"


def _decide(s, staff, case, form):
    approve = form.get("decision") == "approve"
    rectification.decide(s, staff, case, _int(form.get("report")) or 0, approve, form.get("text"), form.get("note"))
    return "拟答复已审核通过，作为答复发布" if approve else "拟答复已退回单位"


def _outcome(s, staff, case, form):
    commission.record_outcome(s, staff, case, form.get("outcome", ""), form.get("decided_on", ""), form.get("note"))
    return "处置结果已记录"


FORMS: dict[str, Form] = {
    "accept": Form("accept", _accept), "note": Form("note", _note), "reply": Form("reply", _reply),
    "labels": Form("correct_labels", _labels), "unit": Form("correct_unit", _unit), "merge": Form("merge", _merge),
    "handover": Form("hand_over", _hand_over), "transfer": Form("transfer", _transfer),
    "refer": Form("refer", _refer), "verify": Form("verify", _verify), "file": Form("file", _file),
    "reject": Form("reject", _reject), "progress": Form("report_progress", _progress),
    "propose": Form("propose_reply", _propose), "decide": Form("decide_proposal", _decide),
    "outcome": Form("outcome", _outcome),
}


@bp.post("/cases/<tracking_no>/<action>")
def case_action(tracking_no: str, action: str):
    form = FORMS.get(action)
    s = db_session()
    case = find_case(s, g.staff, tracking_no)
    if form is None or case is None:
        abort(404)
    if not may(g.staff, form.rule, case):
        abort(403, "无权进行此操作，或案件当前状态不允许")
    try:
        message = form.run(s, g.staff, case, request.form)
        s.commit()
    except Refused as refused:
        s.rollback()
        flash(str(refused), "error")
    else:
        flash(message, "ok")
    return redirect(url_for("admin.case_page", tracking_no=tracking_no))


GROUP_WORK = frozenset({"accept", "note", "reply", "correct_labels", "correct_unit", "merge", "hand_over", "transfer",
                        "refer", "verify", "file", "reject"})


def page_context(s: Session, staff: Staff, case: Case, allowed: frozenset[str]) -> dict:
    """What the case page needs for the forms `allowed` shows, and the work done so far."""
    unit_view = staff.unit_id is not None and "read_redacted" in allowed
    context: dict = {"outcome_names": OUTCOMES, "today": clock.today(), "group_work": bool(allowed & GROUP_WORK)}
    if allowed & {"correct_unit", "hand_over"}:
        context["units"] = s.execute(sa.select(Unit.id, Unit.path).order_by(Unit.path)).all()
    if "reply" in allowed or "decide_proposal" in allowed:
        context["reply_templates"] = all_templates(s)
        chosen = _int(request.args.get("reply_template"))
        template = s.get(ReplyTemplate, chosen) if chosen else None
        context["reply_draft"] = template.body if template else ""
    if "hand_over" in allowed:
        context["handover_text"] = handling.handover_text(case, vault())
        context["handover_due"] = handling.default_due(s, case)
    if "evidence" in allowed:
        context["reports"] = rectification.reports(s, case, staff.unit_id if unit_view else None)
    if "read_outcome" in allowed:
        context["outcomes"] = commission.outcomes(s, case)
    if unit_view:
        handover = rectification.handover_of(s, staff, case)
        context["handed_text"] = handover.text if handover is not None else None
    if case.merged_into_id:
        context["main_case"] = s.get(Case, case.merged_into_id)
    return context


@bp.get("/cases/<tracking_no>/evidence/<int:file_id>")
def evidence_file(tracking_no: str, file_id: int):
    s = db_session()
    case = find_case(s, g.staff, tracking_no)
    if case is None or not may(g.staff, "evidence", case):
        abort(404)
    found = rectification.evidence_file(s, case, file_id, settings().media_dir, g.staff.unit_id)
    if found is None:
        abort(404)
    row, path = found
    inline = row.content_type.startswith("image/") or row.content_type == "application/pdf"
    response = send_file(path, mimetype=row.content_type, as_attachment=not inline, download_name=row.filename,
                         conditional=True, max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


@bp.get("/reconciliation")
def reconciliation():
    if not may_do(g.staff, "reconciliation"):
        abort(404)
    s = db_session()
    return render_template("admin/reconciliation.html", pending=commission.unreconciled(s, g.staff))


@bp.app_template_global("may_do")
def _may_do(action: str) -> bool:
    return g.get("staff") is not None and may_do(g.staff, action)
