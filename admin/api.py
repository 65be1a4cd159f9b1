"""The JSON API for integrations (/api/v1), token-authenticated (`Authorization: Bearer <token>`,
tokens from `flask api-token create NAME`, `admin.tokens`).

An integration is office-level (`access.api_cases`: every case), but only what may leave the
desk leaves through it: a case's labels, unit, group, status, channel, time and priority; its
handovers; and its public timeline (what the citizen sees; notes redacted as for a unit).
Never the text, never the reporter, never an internal note.

    GET /api/v1/cases?status=&kind=&unit=&group=&since=&sort=&limit=&cursor=
        → {"cases": [...], "next": cursor or null}; pass `next` back as `cursor`
    GET /api/v1/cases/<tracking_no> → the case with "events" and "handovers"

Requests are limited per token; refused tokens are limited per address. Errors are JSON:
{"error": code, "message": words}; a missing, wrong or revoked token is 401.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa
from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import HTTPException

from admin import tokens
from admin.access import api_cases
from admin.listing import BadCursor, Filters, inbox_page
from admin.redact import redact
from core.app import db_session, limiter, vault
from core.clock import BEIJING, local
from core.models import Case, CaseEvent, CaseStatus, Group, Handover

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PER_TOKEN = (120, 60)  # requests per token per minute
REFUSED_PER_ADDRESS = (30, 15 * 60)  # bad tokens from one address in 15 minutes
PAGE, MAX_PAGE = 50, 200


def error(status: int, code: str, message: str):
    response = jsonify(error=code, message=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer realm="mashang", error="{code}"'
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """Under /api/v1 every error is JSON, an unknown path or method too (those match no route of
    this blueprint, hence the app-wide handler); elsewhere the error is left as it was."""
    if not (request.path == bp.url_prefix or request.path.startswith(bp.url_prefix + "/")):
        return exc
    code = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
    response = error(exc.code or 500, code, exc.description or exc.name)
    if exc.code == 405 and exc.response is None and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


@bp.before_request
def authenticate():
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    s = db_session()
    token = tokens.authenticate(s, presented.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        if not limiter().allow(f"api-refused:{request.remote_addr}", *REFUSED_PER_ADDRESS):
            return error(429, "rate_limited", "too many refused requests; wait")
        return error(401, "invalid_token", "a valid API token is required (Authorization: Bearer <token>)")
    if not limiter().allow(f"api-token:{token.id}", *PER_TOKEN):
        return error(429, "rate_limited", f"at most {PER_TOKEN[0]} requests a minute per token")
    s.commit()  # last_used_at
    g.api_token = token
    return None


@bp.after_request
def no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/cases")
def cases():
    s = db_session()
    args = request.args
    base = api_cases()
    status = args.get("status", "").strip()
    if status and status not in {st.value for st in CaseStatus}:
        return error(400, "bad_status", f"unknown status {status!r}")
    group = args.get("group", "").strip()
    if group == "office":
        base = base.where(Case.group_id.is_(None))
    elif group:
        base = base.where(Case.group_id.in_(sa.select(Group.id).where(Group.code == group)))
    since_day = ""
    since = args.get("since", "").strip()
    if since:
        try:
            if len(since) == 10:
                since_day = date.fromisoformat(since).isoformat()  # a Beijing day
            else:
                base = base.where(Case.created_at >= _utc(datetime.fromisoformat(since.replace("Z", "+00:00"))))
        except ValueError:
            return error(400, "bad_since", "since is a date (YYYY-MM-DD, Beijing) or an ISO 8601 time")
    sort = args.get("sort", "newest")
    if sort not in ("newest", "oldest", "priority"):
        return error(400, "bad_sort", "sort is newest, oldest or priority")
    try:
        limit = min(max(int(args.get("limit", PAGE)), 1), MAX_PAGE)
    except ValueError:
        return error(400, "bad_limit", f"limit is a number from 1 to {MAX_PAGE}")
    filters = Filters(status=status, kind=args.get("kind", "").strip(), unit=args.get("unit", "").strip(),
                      since=since_day, sort=sort)
    try:
        page = inbox_page(s, None, filters, args.get("cursor") or None, limit, base=base)
    except BadCursor:
        return error(400, "bad_cursor", "cursor is the `next` of the previous answer, with the same sort")
    return jsonify(cases=[case_json(c) for c in page.cases], next=page.next)


@bp.get("/cases/<tracking_no>")
def case(tracking_no: str):
    s = db_session()
    found = s.scalar(api_cases().where(Case.tracking_no == tracking_no.strip().upper()))
    if found is None:
        return error(404, "not_found", "no such case")
    events = s.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == found.id, CaseEvent.public.is_(True))
                       .order_by(CaseEvent.id)).all()
    handovers = s.scalars(sa.select(Handover).where(Handover.case_id == found.id).order_by(Handover.id)).all()
    identity = vault()
    return jsonify({
        **case_json(found),
        "events": [{"at": _time(e.at), "action": e.action, "from_status": e.from_status, "status": e.to_status,
                    "actor": e.actor, "note": redact(e.note, found, identity) or None} for e in events],
        "handovers": [{"unit": h.unit.path, "due_on": h.due_on.isoformat(), "at": _time(h.at)} for h in handovers],
    })


def case_json(case: Case) -> dict:
    return {"tracking_no": case.tracking_no, "kind": case.kind, "domain": case.domain,
            "unit": case.unit.path if case.unit else None, "group": case.group.code if case.group else None,
            "status": case.status, "channel": case.channel, "created_at": _time(case.created_at),
            "priority": case.priority}


def _time(dt: datetime | None) -> str | None:
    """ISO 8601 in Beijing time, with its offset."""
    return local(dt).isoformat(timespec="seconds") if dt else None


def _utc(dt: datetime) -> datetime:
    """A time as the database keeps it (naive UTC); a time without offset is Beijing's."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=BEIJING)
    return dt.astimezone(timezone.utc).replace(tzinfo=None)
