"""The office's oversight of units (督办): deadline reminders on handovers, the yellow and red
cards (红黄牌预警) computed per unit and round, and survey campaigns (满意度测评)."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, one_of, utcnow
from core.models.case import Handover
from core.models.org import Round, Staff, Unit


class DeadlineReminder(Base):
    """期限提醒: a handover's unit was reminded `days_before` its due date, once (the unique key
    keeps a second run of the job from reminding again). The unit's liaison reads it on the desk."""
    __tablename__ = "deadline_reminders"
    __table_args__ = (sa.UniqueConstraint("handover_id", "days_before"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    handover_id: Mapped[int] = mapped_column(sa.ForeignKey("handovers.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    days_before: Mapped[int]
    due_on: Mapped[date]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    handover: Mapped[Handover] = relationship()


class CardLevel(str, enum.Enum):
    yellow = "yellow"  # 黄牌
    red = "red"  # 红牌


class UnitCard(Base):
    """A unit's card in a round, as the periodic job last found it, with its reasons (each rule
    that fired: its count or rate, the threshold, the cases or campaign behind it). A unit whose
    figures are back under every threshold has no row."""
    __tablename__ = "unit_cards"
    __table_args__ = (sa.UniqueConstraint("round_id", "unit_id"),
                      sa.CheckConstraint(one_of("level", CardLevel), name="level"))
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("rounds.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    level: Mapped[str] = mapped_column(sa.String(8))
    reasons: Mapped[list] = mapped_column(sa.JSON)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)  # when it reached this level
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    round: Mapped[Round] = relationship()
    unit: Mapped[Unit] = relationship()


class SurveyCampaign(Base):
    """满意度测评: the office surveys everyone whose case concerned `unit` in `round` (through the
    outbox, each with a personal link) and anyone in the village through the campaign's QR code
    and link (`/r/survey/<code>`). Answers after `closes_on` (or after the office closed it) are
    kept as late and not counted."""
    __tablename__ = "survey_campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)  # the public link's
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("rounds.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    question: Mapped[str] = mapped_column(sa.String(200))
    closes_on: Mapped[date]  # the last (Beijing) day answers count
    closed_at: Mapped[datetime | None]  # closed early by the office
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fanned_out_at: Mapped[datetime | None]  # every recipient's message queued
    round: Mapped[Round] = relationship()
    unit: Mapped[Unit] = relationship()
    creator: Mapped[Staff] = relationship()

    def open_on(self, day: date) -> bool:
        return self.closed_at is None and day <= self.closes_on


class SurveyRecipient(Base):
    """One surveyed reporter of a campaign (one even with many cases): the personal link's token
    (its sha256) and whether it was used. Answers do not point back here."""
    __tablename__ = "survey_recipients"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "reporter_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_campaigns.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey("reporters.id"))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    outbox_id: Mapped[int | None]  # the outbox message that carried the link
    answered: Mapped[bool] = mapped_column(default=False)


class AnswerState(str, enum.Enum):
    counted = "counted"
    repeated = "repeated"  # the link or the browser had answered already: the first counts
    late = "late"  # after the campaign closed: kept, not counted


class SurveyAnswer(Base):
    """An answer to a campaign, by personal link (`link`) or by the public QR code (`qr`).
    `device_hash` is a keyed hash of the answering browser's cookie (QR answers only), which is
    how a second answer from the same browser is known."""
    __tablename__ = "survey_answers"
    __table_args__ = (sa.CheckConstraint(one_of("state", AnswerState), name="state"),
                      sa.CheckConstraint("score IN ('satisfied', 'basically', 'unsatisfied')", name="score"))
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("survey_campaigns.id"), index=True)
    via: Mapped[str] = mapped_column(sa.String(8))  # link | qr
    score: Mapped[str] = mapped_column(sa.String(12))  # satisfied | basically | unsatisfied
    reason: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.String(10))
    device_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
