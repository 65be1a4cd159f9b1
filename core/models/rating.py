"""Ratings (群众评价): after a public reply the citizen says whether the problem was solved,
满意 / 基本满意 / 不满意 (and why). One rating per case and round of reply (`reply_round`: how
many public replies the case had when it was rated), so a reopened case answered again is rated
again. `unit_id` is the case's unit at rating time: dissatisfaction counts against the unit
(the warnings read it), also when the case later moves to another unit."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, one_of, utcnow
from core.models.case import Case
from core.models.org import Unit


class Score(str, enum.Enum):
    satisfied = "satisfied"  # 满意
    basically = "basically"  # 基本满意
    unsatisfied = "unsatisfied"  # 不满意


class RatingVia(str, enum.Enum):
    chat = "chat"  # answered in the WeChat conversation
    h5 = "h5"  # the mobile page's form (/r/status, /r/case/<token>)


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "reply_round", name="uq_ratings_case_id_reply_round"),
        sa.CheckConstraint(one_of("score", Score), name="score"),
        sa.CheckConstraint(one_of("via", RatingVia), name="via"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    reply_round: Mapped[int]
    score: Mapped[str] = mapped_column(sa.String(12))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    via: Mapped[str] = mapped_column(sa.String(8))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    # A second 不满意 on the case: it went to the office (督办) and counts as repeated dissatisfaction.
    escalated: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    case: Mapped[Case] = relationship()
    unit: Mapped[Unit | None] = relationship()
