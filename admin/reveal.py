"""Revealing a reporter (查看反映人身份): the one way the desk shows who reported a case.

The office, or the leader of the case's own group (`access`, action "reveal"), asks with a
written reason; the identity (openid, and a named report's name and phone) is decrypted, the
audit row (who, when, which case, the reason; never the identity) is written in the same
transaction, and the caller shows the identity once, on the answer to that request, only after
the row is committed. Nothing keeps it: not the database in clear, not the session, not a log.

An anonymous case (匿名) has nothing to reveal, by construction: no reporter is linked to it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from admin import audit
from admin.access import may
from core.identity import IdentityVault
from core.models import Case, Staff

MIN_REASON = 4  # characters: "核实情况" at least, not an empty click
MAX_REASON = 500
ANONYMOUS = "没有可查看的身份信息：匿名反映"
NOTHING_KEPT = "没有可查看的身份信息：未留存反映人身份"
PURGED = "没有可查看的身份信息：已按保存期限清除"


class NotAllowed(LookupError):
    """Out of this member's rule: the views answer 404, as for a case that does not exist."""


class NothingToReveal(ValueError):
    """Anonymous, or no identity was kept (a meeting's case, a purged identity)."""


class ReasonTooShort(ValueError):
    pass


@dataclass(frozen=True)
class Identity:
    openid: str | None
    name: str | None
    phone: str | None


def nothing_to_reveal(case: Case) -> str | None:
    """Why there is nothing to reveal about `case`, or None when there is something."""
    if case.anonymity == "anonymous":
        return ANONYMOUS
    if case.identity_purged_at is not None:
        return PURGED
    if case.contact_name_enc is None and case.contact_phone_enc is None and (
            case.reporter is None or case.reporter.openid_enc is None):
        return NOTHING_KEPT
    return None


def clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REASON:
        raise ReasonTooShort(f"请填写查看理由（至少 {MIN_REASON} 个字）")
    return reason[:MAX_REASON]


def reveal(s: Session, vault: IdentityVault, staff: Staff, case: Case, reason: str,
           address: str | None = None) -> Identity:
    """The reporter of `case`, with its audit row added to `s` (the caller commits, then shows)."""
    if not may(staff, "reveal", case):
        raise NotAllowed(case.tracking_no)
    why = nothing_to_reveal(case)
    if why:
        raise NothingToReveal(why)
    reason = clean_reason(reason)
    reporter = case.reporter
    identity = Identity(openid=vault.decrypt(reporter.openid_enc) if reporter is not None else None,
                        name=vault.decrypt(case.contact_name_enc), phone=vault.decrypt(case.contact_phone_enc))
    audit.record(s, audit.REVEAL, staff=staff, case=case, reason=reason, address=address)
    return identity
