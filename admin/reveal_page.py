"""The reveal's page (/admin/cases/<tracking_no>/reveal): a POST with its reason (CSRF-checked by
the gate), answered with the identity once. Anyone else, and any case out of scope, gets 404."""
from __future__ import annotations

from flask import abort, g, make_response, redirect, render_template, request, url_for

from admin import reveal as service
from admin.access import find_case, may
from admin.blueprint import bp
from core.app import db_session, vault


def _case_to_reveal(tracking_no: str):
    s = db_session()
    case = find_case(s, g.staff, tracking_no)
    if case is None or not may(g.staff, "reveal", case):
        abort(404)
    return s, case


@bp.get("/cases/<tracking_no>/reveal")
def reveal_form(tracking_no: str):
    _, case = _case_to_reveal(tracking_no)
    return redirect(url_for("admin.case_page", tracking_no=case.tracking_no, _anchor="reveal"))


@bp.post("/cases/<tracking_no>/reveal")
def reveal(tracking_no: str):
    s, case = _case_to_reveal(tracking_no)
    reason = request.form.get("reason", "")
    try:
        identity = service.reveal(s, vault(), g.staff, case, reason, request.remote_addr)
    except service.NotAllowed:
        abort(404)
    except service.NothingToReveal as exc:
        return _private(render_template("admin/reveal.html", case=case, nothing=str(exc)))
    except service.ReasonTooShort as exc:
        return _private(render_template("admin/reveal.html", case=case, error=str(exc), reason=reason), 400)
    s.commit()  # the audit row first: no row, no identity
    return _private(render_template("admin/reveal.html", case=case, identity=identity,
                                    reason=service.clean_reason(reason)))


def _private(body: str, status: int = 200):
    """Shown once: no cache keeps it, no other site learns the page by its referrer."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store, private"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
