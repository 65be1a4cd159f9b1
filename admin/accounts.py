"""Staff accounts: passwords (werkzeug's scrypt), logging in, and the server-side sessions that
logout, the idle timeout and deactivation end at once. No Flask request in here: the views in
`admin.auth` call these with a session and what the request said.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import utcnow
from core.models import Staff, StaffSession

MIN_PASSWORD = 10
IDLE = timedelta(minutes=30)
SEEN_EVERY = timedelta(minutes=1)  # a session's seen_at is written at most this often
# Checked when the login does not exist, so that a wrong login costs what a wrong password does.
_DECOY = generate_password_hash("decoy-password-never-used", method="scrypt")


class PasswordTooShort(ValueError):
    pass


class UnknownLogin(LookupError):
    pass


def set_password(s: Session, login: str, password: str) -> Staff:
    """`flask staff password LOGIN`: hash and store; the account's sessions end."""
    if len(password) < MIN_PASSWORD:
        raise PasswordTooShort(f"a password needs at least {MIN_PASSWORD} characters")
    staff = s.scalar(sa.select(Staff).where(Staff.login == login))
    if staff is None:
        raise UnknownLogin(login)
    staff.password_hash = generate_password_hash(password, method="scrypt")
    s.execute(sa.delete(StaffSession).where(StaffSession.staff_id == staff.id))
    return staff


def authenticate(s: Session, login: str, password: str) -> Staff | None:
    """The active account with this login and password, else None (same work either way)."""
    staff = s.scalar(sa.select(Staff).where(Staff.login == login))
    stored = staff.password_hash if staff is not None and staff.password_hash else _DECOY
    ok = check_password_hash(stored, password)
    if staff is None or not staff.password_hash or not staff.active or not ok:
        return None
    return staff


def start_session(s: Session, staff: Staff, now: datetime | None = None) -> str:
    """A new session for `staff`; returns the token the cookie carries (only its hash is stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    s.add(StaffSession(token_hash=_hash(token), staff_id=staff.id, created_at=now, seen_at=now))
    return token


@dataclass(frozen=True)
class Current:
    staff: Staff
    session: StaffSession


def resume(s: Session, token: str | None, now: datetime | None = None) -> Current | None:
    """The session of `token` if it is live: its account active and not idle past `IDLE`.
    A dead one is deleted. Touches `seen_at` (at most once a minute)."""
    if not token:
        return None
    now = now or utcnow()
    row = s.get(StaffSession, _hash(token))
    if row is None:
        return None
    staff = s.get(Staff, row.staff_id)
    if staff is None or not staff.active or now - row.seen_at > IDLE:
        s.delete(row)
        return None
    if now - row.seen_at > SEEN_EVERY:
        row.seen_at = now
    return Current(staff, row)


def end_session(s: Session, token: str | None) -> None:
    if token:
        s.execute(sa.delete(StaffSession).where(StaffSession.token_hash == _hash(token)))


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
