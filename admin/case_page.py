"""A case as the desk shows it (/admin/cases/<tracking_no>): the text, attachments, the
machine's labels with their evidence, the duplicate cluster and the timeline, internal events
apart from public ones; and its files (/files/<id>). Everything through `admin.access`; a case
out of scope is a 404 like one that does not exist. No reporter identity, ever (no reveal yet)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, g, render_template, send_file

from admin import labels
from admin.access import find_case, permissions, visible_cases
from admin.actions import page_context
from admin.assign import candidates
from admin.blueprint import bp
from admin.redact import redact
from core.app import db_session, settings, vault
from core.models import Attachment, Case, CaseEvent, Handover

FILE_KINDS = {"image": "image", "voice": "voice"}  # attachment kind → the action it needs


@bp.get("/cases/<tracking_no>")
def case_page(tracking_no: str):
    s = db_session()
    staff = g.staff
    case = find_case(s, staff, tracking_no)
    if case is None:
        abort(404)
    may = permissions(s, staff, case)
    if "read_text" in may:
        text = case.text
    elif "read_redacted" in may:
        text = redact(case.text, case, vault())
    else:
        text = None
    events = s.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)).all()
    if "internal_events" not in may:
        events = [e for e in events if e.public]
    notes = {e.id: (e.note if "read_text" in may else redact(e.note, case, vault())) for e in events}
    attachments = [a for a in case.attachments if a.kind in may and a.status == "stored"]
    cluster = []
    if "cluster" in may and case.cluster_id is not None:
        cluster = s.scalars(visible_cases(staff).where(
            sa.or_(Case.cluster_id == case.cluster_id, Case.id == case.cluster_id), Case.id != case.id)
            .order_by(Case.id).limit(50)).all()
    handovers = s.scalars(sa.select(Handover).where(Handover.case_id == case.id).order_by(Handover.id)).all()
    extra = page_context(s, staff, case, may)
    if "outbox" in may:
        from admin.outbox_page import case_messages

        extra["case_messages"] = case_messages(s, case)
    if extra.get("handed_text"):
        text = extra["handed_text"]  # a unit reads what the group checked and handed over
    return render_template(
        "admin/case.html", **extra, case=case, may=may, text=text, events=events, notes=notes, attachments=attachments,
        cluster=cluster, handovers=handovers, statuses=labels.STATUS_NAMES, kinds=labels.kinds(),
        domains=labels.domains(), channels=labels.CHANNEL_NAMES, anonymity=labels.ANONYMITY_NAMES,
        assignees=candidates(s, staff) if "assign" in may else [])


@bp.get("/cases/<tracking_no>/files/<int:attachment_id>")
def case_file(tracking_no: str, attachment_id: int):
    s = db_session()
    case = find_case(s, g.staff, tracking_no)
    if case is None:
        abort(404)
    att = s.get(Attachment, attachment_id)
    if (att is None or att.case_id != case.id or att.kind not in FILE_KINDS or att.status != "stored"
            or not att.storage_path or att.kind not in permissions(s, g.staff, case)):
        abort(404)
    media_dir = settings().media_dir.resolve()
    path = (media_dir / att.storage_path).resolve()
    if media_dir not in path.parents or not path.is_file():
        abort(404)
    response = send_file(path, mimetype=att.content_type or "application/octet-stream", conditional=True,
                         max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
