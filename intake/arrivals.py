"""Arrivals: a QR scan (or a follow). The poster scanned binds the conversation (the latest scan
wins, a retired poster too: submission and routing ignore a retired poster, so the office takes
the report, as the greeting says, and the case still shows which poster it came through)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.identity import IdentityVault
from intake import drafts
from intake.pushes import touch

_POSTER = sa.text("""SELECT q.id AS qr_id,
    g.name AS group_name, g.phone AS group_phone, g.mailbox AS group_mailbox,
    g.email AS group_email, r.name AS round_name, r.start AS round_start, r."end" AS round_end, u.name AS unit_name,
    q.retired_at AS qr_retired_at
  FROM qr_codes q JOIN rounds r ON q.round_id = r.id LEFT JOIN groups g ON q.group_id = g.id
  LEFT JOIN units u ON q.unit_id = u.id WHERE q.scene = :scene""")
_OFFICE = sa.text("""SELECT o.name AS office_name, o.phone AS office_phone, o.mailbox AS office_mailbox,
    o.email AS office_email FROM offices o
  WHERE o.id = coalesce((SELECT r.office_id FROM qr_codes q JOIN rounds r ON q.round_id = r.id
                         WHERE q.scene = :scene), (SELECT min(id) FROM offices))""")


@dataclass(frozen=True)
class Arrival:
    """What a greeting needs: the poster scanned (None if unknown or no scene), the office, and
    the draft the citizen left unsubmitted, if any."""
    poster: sa.Row | None
    office: sa.Row | None
    pending_count: int
    pending_summary: str


def arrive(s: Session, vault: IdentityVault, openid: str, scene: str | None) -> Arrival:
    """Record a scan in the push's transaction and return what the greeting says."""
    poster = s.execute(_POSTER, {"scene": scene or ""}).first()
    office = s.execute(_OFFICE, {"scene": scene or ""}).first()
    touch(s, vault, openid, qr_code_id=poster.qr_id if poster else None, scanned=True)
    draft = drafts.open_draft(s, vault, vault.openid_hash(openid))
    return Arrival(poster, office, draft.entry_count if draft else 0, draft.summary if draft else "")
