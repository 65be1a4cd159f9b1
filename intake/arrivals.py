"""Arrivals: a QR scan (or a follow). The poster scanned binds the conversation (the latest scan
wins, a retired poster too: submission and routing ignore a retired poster, so the office takes
the report, as the greeting says, and the case still shows which poster it came through)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from datetime import datetime

from core.db import Database, utcnow
from core.identity import IdentityVault
from intake import drafts
from intake.pushes import hour, minute

_POSTER = """SELECT q.id AS qr_id,
    g.name AS group_name, g.phone AS group_phone, g.mailbox AS group_mailbox,
    g.email AS group_email, r.name AS round_name, r.start AS round_start, r."end" AS round_end, u.name AS unit_name,
    q.retired_at AS qr_retired_at
  FROM qr_codes q JOIN rounds r ON q.round_id = r.id LEFT JOIN groups g ON q.group_id = g.id
  LEFT JOIN units u ON q.unit_id = u.id WHERE q.scene = :scene"""
_OFFICE = """SELECT o.name AS office_name, o.phone AS office_phone, o.mailbox AS office_mailbox,
    o.email AS office_email FROM offices o
  WHERE o.id = coalesce((SELECT r.office_id FROM qr_codes q JOIN rounds r ON q.round_id = r.id
                         WHERE q.scene = :scene), (SELECT min(id) FROM offices))"""
_CLAIM = "INSERT INTO pushes (key, at, attempts) VALUES (:key, :minute, 0) ON CONFLICT (key) DO NOTHING RETURNING key"
_BIND = """INSERT INTO conversations (openid_hash, openid_enc, qr_code_id, last_inbound_at, created_at)
  {source} ON CONFLICT (openid_hash) DO UPDATE
  SET qr_code_id = coalesce(excluded.qr_code_id, conversations.qr_code_id), last_inbound_at = excluded.last_inbound_at"""
_ARRIVE_PG = sa.text(f"""WITH p AS ({_POSTER}), i AS ({_CLAIM}),
c AS ({_BIND.format(source="SELECT :conversation, :openid_enc, (SELECT qr_id FROM p), :hour, :hour FROM i")})
SELECT (SELECT count(*) FROM i) AS fresh,
  EXISTS (SELECT 1 FROM pushes WHERE conversation = :conversation AND sealed IS NOT NULL) AS has_pieces, p.*, o.*
FROM (SELECT 1 AS one) AS one LEFT JOIN p ON true LEFT JOIN ({_OFFICE}) o ON true""")
_ARRIVE = [sa.text(_CLAIM), sa.text(_POSTER), sa.text(_OFFICE),
           sa.text(_BIND.format(source="VALUES (:conversation, :openid_enc, :qr_id, :hour, :hour)"))]


@dataclass(frozen=True)
class Arrival:
    """What a greeting needs: the poster scanned (None if unknown or no scene), the office, and
    the draft the citizen left unsubmitted, if any."""
    poster: sa.Row | None
    office: sa.Row | None
    pending_count: int
    pending_summary: str


def arrive(db: Database, vault: IdentityVault, openid: str, key: str, scene: str | None,
           now: datetime | None = None) -> Arrival:
    """Record a scan (one statement on PostgreSQL) and return what the greeting says. The
    greeting depends only on the poster, the office and the draft, so a retry of the scan, found
    by its key and not applied again, is greeted the same without a stored reply."""
    now = now or utcnow()
    params = {"key": key, "minute": minute(now), "hour": hour(now), "scene": scene or "",
              "conversation": vault.openid_hash(openid), "openid_enc": vault.encrypt(openid)}
    if db.engine.dialect.name == "postgresql":
        row = db.autocommit_row(_ARRIVE_PG, params)
        poster = row if row.qr_id is not None else None
        office = row if row.office_name is not None else None
        if not row.has_pieces:  # a first scan, the usual one: no draft to read
            return Arrival(poster, office, 0, "")
    else:
        with db.engine.begin() as conn:
            fresh = conn.execute(_ARRIVE[0], params).first() is not None
            poster = conn.execute(_ARRIVE[1], params).first()
            office = conn.execute(_ARRIVE[2], params).first()
            if fresh:
                conn.execute(_ARRIVE[3], {**params, "qr_id": poster.qr_id if poster else None})
    with db.session() as s:
        draft = drafts.open_draft(s, vault, params["conversation"])
    return Arrival(poster, office, draft.entry_count if draft else 0, draft.summary if draft else "")
