"""The pushes: each WeChat push is accepted once, as one row (`core.models.Push`).

The hot path is a piece of a report (a text, a voice message, a photo, a location): one INSERT
of one row, its conversation's blind index beside its sealed content (with the openid, for a
reminder), the same statement on PostgreSQL (in autocommit) and SQLite. The conversation's own
row is not written for a piece: when the citizen was last seen is the later of its hour and its
pieces' hour (the draft sweep reads both). The reply to a piece is its echo, so a retry that finds the row already
there is answered the same without reading anything.

A QR scan is one statement too (`intake.arrivals`), and its retry is greeted the same. Every
other push (a command word, a menu click) claims its row first, in the transaction that acts on
it; a retry of it arriving meanwhile waits on that row's key and then replays the reply stored
with it. Rows that are not pieces carry no conversation and are deleted as soon as WeChat can no
longer retry (`intake.jobs.purge_pushes`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import Database, utcnow
from core.identity import IdentityVault
from core.models import Push, PushSignature

# Past this age WeChat no longer retries (and a stale push is refused anyway): replies go.
REPLY_KEPT = timedelta(minutes=10)


def hour(now: datetime) -> datetime:
    """Times that could date a citizen are kept to the hour."""
    return now.replace(minute=0, second=0, microsecond=0)


def minute(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Piece:
    """One piece of a report as the citizen sent it. `anonymity` (匿名/实名) travels with the piece
    that chose it ("匿名举报…" is a text and a choice); a bare choice has kind "mark"."""
    kind: str  # text | voice | image | location | mark
    text: str | None = None  # the text, the voice's recognition, the location's label
    media_id: str | None = None
    media_format: str | None = None
    lat: float | None = None
    lng: float | None = None
    anonymity: str | None = None  # anonymous | named
    name: str | None = None
    phone: str | None = None

    @property
    def needs_download(self) -> bool:
        return self.kind in ("voice", "image")

    def sealed(self, vault: IdentityVault, order: int, openid: str | None = None) -> bytes:
        fields = {"k": self.kind, "t": self.text, "m": self.media_id, "f": self.media_format, "x": self.lat,
                  "y": self.lng, "a": self.anonymity, "n": self.name, "p": self.phone, "o": order, "w": openid}
        return vault.seal({k: v for k, v in fields.items() if v is not None})

    @classmethod
    def unsealed(cls, vault: IdentityVault, sealed: bytes) -> tuple[int, Piece]:
        d = vault.unseal(sealed)
        return d.get("o", 0), cls(d["k"], d.get("t"), d.get("m"), d.get("f"), d.get("x"), d.get("y"), d.get("a"),
                                  d.get("n"), d.get("p"))


_TOUCH = ("INSERT INTO conversations (openid_hash, openid_enc, last_inbound_at, created_at) "
          "VALUES (:conversation, :openid_enc, :hour, :hour) ON CONFLICT (openid_hash) DO UPDATE "
          "SET last_inbound_at = excluded.last_inbound_at WHERE conversations.last_inbound_at < excluded.last_inbound_at")
_PIECE = sa.text("INSERT INTO pushes (key, conversation, sealed, at, media, attempts) "
                 "VALUES (:key, :conversation, :sealed, :at, :media, :attempts) ON CONFLICT (key) DO NOTHING RETURNING key")


def capture(db: Database, vault: IdentityVault, openid: str, key: str, piece: Piece,
            now: datetime | None = None) -> bool:
    """Store a piece of the citizen's draft. False: a retry, stored already."""
    now = now or utcnow()
    params = {"key": key, "conversation": vault.openid_hash(openid), "sealed": piece.sealed(vault, _order(now), openid),
              "at": hour(now), "media": "pending" if piece.needs_download else None, "attempts": 0}
    if db.engine.dialect.name == "postgresql":
        return db.autocommit_row(_PIECE, params) is not None
    with db.engine.begin() as conn:
        return conn.execute(_PIECE, params).first() is not None


def touch(s: Session, vault: IdentityVault, openid: str, now: datetime | None = None) -> None:
    """The citizen wrote: their conversation exists, and knows the hour (for the 48-hour window)."""
    now = now or utcnow()
    s.execute(sa.text(_TOUCH), {"conversation": vault.openid_hash(openid), "openid_enc": vault.encrypt(openid),
                                "hour": hour(now)})


def _order(now: datetime) -> int:
    """The order of pieces within a draft (sealed with the piece: the row keeps only the hour)."""
    return int(now.timestamp() * 1_000_000)


_CLAIM = sa.text("INSERT INTO pushes (key, at, attempts) VALUES (:key, :at, 0) ON CONFLICT (key) DO NOTHING "
                 "RETURNING key")


def claim(s: Session, key: str, now: datetime | None = None) -> bool:
    """The first statement of a push's transaction: its row. False: the push was answered
    already (a retry; one arriving while the first try runs waits here for it to finish)."""
    return s.execute(_CLAIM, {"key": key, "at": minute(now or utcnow())}).first() is not None


def finish(s: Session, vault: IdentityVault, key: str, reply: str | None, openid: str | None = None,
           piece: Piece | None = None, now: datetime | None = None) -> None:
    """Keep the reply for WeChat's retries; a push that added a piece becomes that piece."""
    values: dict = {"reply": vault.encrypt(reply) if reply is not None else None}
    if piece is not None:
        now = now or utcnow()
        values.update(conversation=vault.openid_hash(openid), sealed=piece.sealed(vault, _order(now), openid),
                      at=hour(now))
    s.execute(sa.update(Push).where(Push.key == key).values(**values))


def replayed(s: Session, vault: IdentityVault, key: str) -> str | None:
    """The answer given the first time this push came (None: there was none)."""
    sealed = s.scalar(sa.select(Push.reply).where(Push.key == key))
    return vault.decrypt(sealed) if sealed else None


_SIGNATURE = sa.text("INSERT INTO push_signatures (signature, body, at) VALUES (:signature, :body, :at) "
                     "ON CONFLICT (signature) DO NOTHING RETURNING body")


def signature_fits(db: Database, timestamp: str, nonce: str, signature: str, body: bytes) -> bool:
    """Plain mode: a signature is good for the body it first came with only (WeChat's retries
    resend the same body); a captured query string cannot sign another message."""
    params = {"signature": hashlib.sha256(f"{timestamp}|{nonce}|{signature}".encode()).hexdigest(),
              "body": hashlib.sha256(body).hexdigest(), "at": minute(utcnow())}
    if db.engine.dialect.name == "postgresql":
        if db.autocommit_row(_SIGNATURE, params) is not None:
            return True
    else:
        with db.engine.begin() as conn:
            if conn.execute(_SIGNATURE, params).first() is not None:
                return True
    with db.engine.connect() as conn:
        seen = conn.scalar(sa.select(PushSignature.body).where(PushSignature.signature == params["signature"]))
    return seen == params["body"]
