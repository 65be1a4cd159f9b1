"""Capture one piece of a report (text, voice, image, location) from a push: the webhook's
hot path, one statement on PostgreSQL.

A piece is recorded with its dedupe key and its reply in one atomic step: the inbound row goes
in first (`ON CONFLICT DO NOTHING`), and the conversation, the open draft (at most one per
conversation: a partial unique index), the draft entry and the attachment follow only if it did.
On PostgreSQL the five inserts are one data-modifying CTE run in autocommit: one round trip,
no BEGIN/COMMIT. On SQLite (no DML in CTEs) the same five statements run in one transaction.
The reply is decided before the write (it echoes the piece, not the draft), so a retry of the
push finds it stored and gets the same answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from core.db import Database, utcnow
from core.identity import IdentityVault
from intake.drafts import SUMMARY_CHARS, seen_hour
from intake.inbound import seal

# The draft's running summary, extended in SQL: "a；b；c", cut at SUMMARY_CHARS with "…".
_SUMMARY = f"""CASE
    WHEN CAST(:piece AS TEXT) = '' OR length(drafts.summary) >= {SUMMARY_CHARS} THEN drafts.summary
    WHEN coalesce(drafts.summary, '') = '' THEN excluded.summary
    WHEN length(drafts.summary) + 1 + length(CAST(:piece AS TEXT)) <= {SUMMARY_CHARS}
        THEN drafts.summary || '；' || CAST(:piece AS TEXT)
    ELSE substr(drafts.summary || '；' || CAST(:piece AS TEXT), 1, {SUMMARY_CHARS - 1}) || '…' END"""
_DRAFT_UPDATE = f"""ON CONFLICT (conversation_id) WHERE status = 'open' DO UPDATE SET
    entry_count = drafts.entry_count + 1, updated_at = excluded.updated_at, reminded_at = NULL,
    abandoned_at = NULL, summary = {_SUMMARY}"""
_ATTACH = """INSERT INTO attachments (draft_id, kind, media_id, media_format, recognition, lat, lng, label, status,
    attempts, created_at, stored_at)"""
_ATTACH_VALUES = """CAST(:kind AS VARCHAR), :media_id, :media_format, :recognition, :lat, :lng, :label,
    CAST(:status AS VARCHAR), 0, :now, :stored_at"""

_PG = sa.text(f"""
WITH i AS (
  INSERT INTO inbound_messages (dedupe_key, msg_type, reply, received_at)
  VALUES (:key, :msg_type, :reply, :now) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id),
c AS (
  INSERT INTO conversations (openid_hash, openid_enc, last_inbound_at, created_at)
  SELECT :openid_hash, :openid_enc, :seen, :seen FROM i
  ON CONFLICT (openid_hash) DO UPDATE SET last_inbound_at = excluded.last_inbound_at
  RETURNING id, qr_code_id),
d AS (
  INSERT INTO drafts (conversation_id, qr_code_id, status, anonymity, entry_count, summary, created_at, updated_at)
  SELECT id, qr_code_id, 'open', 'default', 1, :first_summary, :now, :now FROM c
  {_DRAFT_UPDATE}
  RETURNING id),
e AS (INSERT INTO draft_entries (draft_id, kind, text, created_at) SELECT id, CAST(:kind AS VARCHAR), CAST(:text AS TEXT), :now FROM d),
a AS ({_ATTACH} SELECT id, {_ATTACH_VALUES} FROM d WHERE CAST(:kind AS VARCHAR) <> 'text' RETURNING id)
SELECT d.id AS draft_id, (SELECT id FROM a) AS attachment_id FROM d""")

_SQLITE = [
    sa.text("INSERT INTO inbound_messages (dedupe_key, msg_type, reply, received_at) "
            "VALUES (:key, :msg_type, :reply, :now) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"),
    sa.text("INSERT INTO conversations (openid_hash, openid_enc, last_inbound_at, created_at) "
            "VALUES (:openid_hash, :openid_enc, :seen, :seen) ON CONFLICT (openid_hash) "
            "DO UPDATE SET last_inbound_at = excluded.last_inbound_at RETURNING id, qr_code_id"),
    sa.text("INSERT INTO drafts (conversation_id, qr_code_id, status, anonymity, entry_count, summary, "
            "created_at, updated_at) VALUES (:conversation_id, :qr_code_id, 'open', 'default', 1, :first_summary, "
            f":now, :now) {_DRAFT_UPDATE} RETURNING id"),
    sa.text("INSERT INTO draft_entries (draft_id, kind, text, created_at) VALUES (:draft_id, :kind, :text, :now)"),
    sa.text(f"{_ATTACH} VALUES (:draft_id, {_ATTACH_VALUES}) RETURNING id"),
]


@dataclass(frozen=True)
class Piece:
    kind: str  # text | voice | image | location
    text: str | None = None  # the text, the voice's recognition, the location's label
    media_id: str | None = None
    media_format: str | None = None
    lat: float | None = None
    lng: float | None = None

    @property
    def needs_download(self) -> bool:
        return self.kind in ("voice", "image")


@dataclass(frozen=True)
class Captured:
    draft_id: int
    attachment_id: int | None


def capture(db: Database, vault: IdentityVault, openid: str, dedupe_key: str, msg_type: str, reply: str,
            piece: Piece, now: datetime | None = None) -> Captured | None:
    """Record the piece into the citizen's open draft (made if none). None: a retry, already stored."""
    from intake.drafts import summary

    now = now or utcnow()
    text = piece.text or None
    params = {
        "key": dedupe_key, "msg_type": msg_type, "reply": seal(vault, reply), "now": now, "seen": seen_hour(now),
        "openid_hash": vault.openid_hash(openid), "openid_enc": vault.encrypt(openid),
        "kind": piece.kind, "text": text, "piece": (text or "").strip(), "first_summary": summary([text or ""]),
        "media_id": piece.media_id, "media_format": piece.media_format,
        "recognition": text if piece.kind == "voice" else None,
        "lat": piece.lat, "lng": piece.lng, "label": text if piece.kind == "location" else None,
        # a location needs nothing fetched; voice and images wait for the media job
        "status": "pending" if piece.needs_download else "stored",
        "stored_at": None if piece.needs_download else now,
    }
    if db.engine.dialect.name == "postgresql":
        row = db.autocommit_row(_PG, params)
        return Captured(row.draft_id, row.attachment_id) if row else None
    with db.session() as s:
        if s.execute(_SQLITE[0], params).first() is None:
            return None
        conv = s.execute(_SQLITE[1], params).one()
        draft_id = s.execute(_SQLITE[2], {**params, "conversation_id": conv.id, "qr_code_id": conv.qr_code_id}).scalar()
        s.execute(_SQLITE[3], {**params, "draft_id": draft_id})
        att_id = s.execute(_SQLITE[4], {**params, "draft_id": draft_id}).scalar() if piece.kind != "text" else None
        s.commit()
    return Captured(draft_id, att_id)


# --- Arrivals: a QR scan or a new follower ---------------------------------------------------

# The scanned poster binds the conversation and its open draft (the latest scan wins), a retired
# one too: submission and routing ignore a retired poster, so the office takes the report, as
# the greeting says, and the case still shows which poster it came through.
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
_ARRIVE_CONV = """INSERT INTO conversations (openid_hash, openid_enc, qr_code_id, last_inbound_at, created_at)
  {source} ON CONFLICT (openid_hash) DO UPDATE SET last_inbound_at = excluded.last_inbound_at,
  qr_code_id = coalesce(excluded.qr_code_id, conversations.qr_code_id) RETURNING id"""
_ARRIVE_DRAFT = """UPDATE drafts SET qr_code_id = coalesce({qr}, drafts.qr_code_id)
  WHERE drafts.conversation_id = {conv} AND drafts.status = 'open' RETURNING drafts.entry_count, drafts.summary"""
_ARRIVE_PG = sa.text(f"""
WITH p AS ({_POSTER}),
i AS (INSERT INTO inbound_messages (dedupe_key, msg_type, received_at)
      VALUES (:key, :msg_type, :now) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id),
c AS ({_ARRIVE_CONV.format(source="SELECT :openid_hash, :openid_enc, (SELECT qr_id FROM p), :seen, :seen FROM i")}),
d AS ({_ARRIVE_DRAFT.format(qr="(SELECT qr_id FROM p)", conv="(SELECT id FROM c)")})
SELECT (SELECT count(*) FROM i) AS fresh, p.*, o.*, d.entry_count, d.summary
FROM (SELECT 1 AS one) AS one LEFT JOIN p ON true LEFT JOIN ({_OFFICE}) o ON true LEFT JOIN d ON true""")
_ARRIVE_SQLITE = [
    sa.text(_POSTER), sa.text(_OFFICE),
    sa.text("INSERT INTO inbound_messages (dedupe_key, msg_type, received_at) VALUES (:key, :msg_type, :now) "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id"),
    sa.text(_ARRIVE_CONV.format(source="VALUES (:openid_hash, :openid_enc, :qr_id, :seen, :seen)")),
    sa.text(_ARRIVE_DRAFT.format(qr=":qr_id", conv=":conversation_id")),
]
_SET_REPLY = sa.text("UPDATE inbound_messages SET reply = :reply WHERE dedupe_key = :key")


@dataclass(frozen=True)
class Arrival:
    """What a greeting needs: the poster scanned (None if unknown or no scene), the office, and
    the draft the citizen left unsubmitted, if any."""
    poster: sa.Row | None
    office: sa.Row | None
    pending_count: int
    pending_summary: str


def arrive(db: Database, vault: IdentityVault, openid: str, dedupe_key: str, msg_type: str, scene: str | None,
           now: datetime | None = None) -> Arrival | None:
    """Record a scan: the poster's group becomes the one the citizen's report goes to (and the
    open draft's). None: a retry, already recorded. Then store the greeting with `set_reply`."""
    now = now or utcnow()
    params = {"key": dedupe_key, "msg_type": msg_type, "now": now, "seen": seen_hour(now), "scene": scene or "",
              "openid_hash": vault.openid_hash(openid), "openid_enc": vault.encrypt(openid)}
    if db.engine.dialect.name == "postgresql":
        row = db.autocommit_row(_ARRIVE_PG, params)
        if not row.fresh:
            return None
        poster = row if row.qr_id is not None else None
        office = row if row.office_name is not None else None
        return Arrival(poster, office, row.entry_count or 0, row.summary or "")
    with db.session() as s:
        poster = s.execute(_ARRIVE_SQLITE[0], params).first()
        office = s.execute(_ARRIVE_SQLITE[1], params).first()
        if s.execute(_ARRIVE_SQLITE[2], params).first() is None:
            return None
        qr_id = poster.qr_id if poster else None
        conv_id = s.execute(_ARRIVE_SQLITE[3], {**params, "qr_id": qr_id}).scalar()
        pending = s.execute(_ARRIVE_SQLITE[4], {"qr_id": qr_id, "conversation_id": conv_id}).first()
        s.commit()
    return Arrival(poster, office, pending.entry_count if pending else 0, (pending.summary or "") if pending else "")


def set_reply(db: Database, vault: IdentityVault, dedupe_key: str, reply: str | None) -> None:
    """Keep the answer for WeChat's retries (a lost write here only means a retry gets none)."""
    reply = seal(vault, reply)
    if db.engine.dialect.name == "postgresql":
        db.autocommit_row(_SET_REPLY, {"key": dedupe_key, "reply": reply})
        return
    with db.engine.begin() as conn:
        conn.execute(_SET_REPLY, {"key": dedupe_key, "reply": reply})
