"""Links to one case for its citizen (the mobile page's `/r/case/<token>`): what a template
message or a reply carries so that the citizen can read the case's public timeline and rate it
without typing the tracking number.

The token is the tracking number signed with `SECRET_KEY` (itsdangerous, its own salt) and dated,
so it cannot be guessed from a tracking number and stops working after `LINK_MAX_AGE`. It names
the case only, never the reporter: a forwarded link shows what the status page shows anyway.
"""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "mashang.case-link"
LINK_MAX_AGE = 180 * 24 * 3600  # a round and its follow-up visits (回访) fit well inside


def _serializer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt=SALT)


def case_token(secret_key: str, tracking_no: str) -> str:
    return _serializer(secret_key).dumps(tracking_no)


def case_path(secret_key: str, tracking_no: str) -> str:
    """The path (under the product's public address) of the case's page for its citizen."""
    return f"/r/case/{case_token(secret_key, tracking_no)}"


def tracking_no_of(secret_key: str, token: str, max_age: int = LINK_MAX_AGE) -> str | None:
    """The tracking number a token names, or None when forged, altered or expired."""
    try:
        value = _serializer(secret_key).loads(token, max_age=max_age)
    except BadSignature:  # SignatureExpired is a BadSignature
        return None
    return value if isinstance(value, str) else None
