"""Drafts (草稿): what a citizen has said and not yet submitted, derived from their pieces.

A draft has no row of its own: it is the conversation's pieces (`core.models.Push` rows with
the conversation's blind index) that are not marked submitted. Submitting a draft writes only
the case and one mark per piece (`SubmittedPiece`, a keyed hash of the piece's key): nothing
about the conversation is written in the transaction that makes the case, so no system column,
deleted row or log record of that transaction names the conversation. The periodic `purge`
deletes submitted pieces with their marks in one batch, for every draft submitted since the
last run at once.

A quiet draft is reminded once (inside WeChat's 48 hours), counted abandoned after
`draft_abandon_hours` (it comes back when the citizen writes again), and forgotten, pieces and
files deleted, after `draft_forget_days`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.identity import IdentityVault
from core.models import Conversation, Push, SubmittedPiece
from intake.pushes import Piece

SUMMARY_CHARS = 60
CONTENT = ("text", "voice", "image", "location")


@dataclass(frozen=True)
class DraftPiece:
    key: str
    piece: Piece
    media: str | None  # the download's state (voice, image)
    file: str | None  # the stored media file
    at: datetime


@dataclass(frozen=True)
class Draft:
    conversation: str  # the blind index
    pieces: list[DraftPiece]  # oldest first, choices (匿名/实名) included

    @property
    def content(self) -> list[DraftPiece]:
        return [p for p in self.pieces if p.piece.kind in CONTENT]

    @property
    def entry_count(self) -> int:
        return len(self.content)

    @property
    def texts(self) -> list[str]:
        return [p.piece.text for p in self.content if p.piece.text]

    @property
    def summary(self) -> str:
        return summary(self.texts)

    @property
    def choice(self) -> Piece | None:
        """The citizen's last choice of 匿名 or 实名, if any."""
        chosen = [p.piece for p in self.pieces if p.piece.anonymity]
        return chosen[-1] if chosen else None

    @property
    def anonymity(self) -> str:
        return self.choice.anonymity if self.choice else "default"

    @property
    def last_at(self) -> datetime:
        return max(p.at for p in self.pieces)


def open_draft(s: Session, vault: IdentityVault, conversation: str) -> Draft | None:
    """The conversation's unsubmitted pieces, in the order they were sent (None: none)."""
    rows = s.execute(sa.select(Push.key, Push.sealed, Push.media, Push.file, Push.at).where(
        Push.conversation == conversation, Push.sealed.is_not(None))).all()
    rows = unsubmitted(s, vault, rows)
    if not rows:
        return None
    pieces = sorted(((*Piece.unsealed(vault, r.sealed), r) for r in rows), key=lambda t: (t[0], t[2].key))
    return Draft(conversation, [DraftPiece(r.key, piece, r.media, r.file, r.at) for _, piece, r in pieces])


def unsubmitted(s: Session, vault: IdentityVault, rows: list) -> list:
    """The rows (with a `key`) whose piece is not marked submitted."""
    if not rows:
        return []
    tags = {vault.tag(r.key): r for r in rows}
    done = set(s.scalars(sa.select(SubmittedPiece.tag).where(SubmittedPiece.tag.in_(list(tags)))))
    return [r for tag, r in tags.items() if tag not in done]


def mark_submitted(s: Session, vault: IdentityVault, draft: Draft) -> None:
    s.add_all(SubmittedPiece(tag=vault.tag(p.key)) for p in draft.pieces)


def cancel(s: Session, draft: Draft) -> list[str]:
    """取消: the citizen drops the draft; its pieces go at once. Returns their stored files."""
    keys = [p.key for p in draft.pieces]
    s.execute(sa.delete(Push).where(Push.key.in_(keys)))
    return [p.file for p in draft.pieces if p.file]


def conversation(s: Session, vault: IdentityVault, openid: str) -> Conversation | None:
    return s.get(Conversation, vault.openid_hash(openid))


def summary(texts: list[str], limit: int = SUMMARY_CHARS) -> str:
    joined = "；".join(t.strip() for t in texts if t and t.strip())
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"
