"""The inbound log: each WeChat push is accepted once; a retry replays the first reply."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import InboundMessage
from intake.drafts import upsert

_inbound = InboundMessage.__table__


@dataclass
class Replay:
    """This push was seen before: answer what was answered then (None: no reply)."""
    reply: str | None


def seen(s: Session, dedupe_key: str) -> Replay | None:
    row = s.execute(sa.select(_inbound.c.reply).where(_inbound.c.dedupe_key == dedupe_key)).first()
    return Replay(row.reply) if row else None


def record(s: Session, dedupe_key: str, msg_type: str, reply: str | None) -> bool:
    """Store the push with its reply; False when another request stored it first."""
    stmt = (upsert(s, _inbound).values(dedupe_key=dedupe_key, msg_type=msg_type, reply=reply, received_at=utcnow())
            .on_conflict_do_nothing(index_elements=[_inbound.c.dedupe_key]).returning(_inbound.c.id))
    return s.execute(stmt).first() is not None
