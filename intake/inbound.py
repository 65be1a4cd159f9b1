"""The inbound log: each WeChat push is accepted once; a retry replays the first reply."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import InboundMessage


@dataclass
class Replay:
    """This push was seen before: answer what was answered then (None: no reply)."""
    reply: str | None


def claim(s: Session, dedupe_key: str, msg_type: str) -> InboundMessage | Replay:
    """Record the push, or recognise a retry. Must be the first write of the transaction:
    on a duplicate the whole transaction is rolled back."""
    row = InboundMessage(dedupe_key=dedupe_key, msg_type=msg_type)
    s.add(row)
    try:
        s.flush()
    except IntegrityError:
        s.rollback()
        return Replay(s.scalar(sa.select(InboundMessage.reply).where(InboundMessage.dedupe_key == dedupe_key)))
    return row
