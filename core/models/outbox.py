"""The outbox: every message to a citizen is a row first, then a delivery job (`intake.outbox`).

A row names its recipient by `reporter_id` only: the openid is decrypted from the reporter at
send time and never copied here. An anonymous case has no reporter, hence no row (its replies
wait on the mobile page).

Status: queued → claimed (a delivery job holds it, nothing sent yet) → sending (the one attempt
in flight, committed before the request leaves) → sent; or failed (given up, with the reason;
the desk's retry puts it back to queued), or unknown (an attempt a dead worker left behind that
no evidence could settle either way: never resent by itself). See `intake.outbox` for why this
delivers once.
"""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, one_of, utcnow
from core.models.case import Case, Reporter


class OutboxStatus(str, enum.Enum):
    queued = "queued"
    claimed = "claimed"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    unknown = "unknown"


class OutboxPurpose(str, enum.Enum):
    reply = "reply"  # a public reply (答复), with the rating request
    status = "status"  # a status change the citizen should hear about
    rating = "rating"  # a rating request on its own
    survey = "survey"  # a survey campaign (满意度测评)
    reminder = "reminder"


class Via(str, enum.Enum):
    custom = "custom"  # customer-service text (客服消息), within 48 h of the citizen's last message
    template = "template"  # template message (模板消息) with a link to the mobile page


# A recipient has at most one message in flight: a receipt from WeChat that names only the
# openid (TEMPLATESENDJOBFINISH with a msgid we never recorded) belongs to that one message.
IN_FLIGHT = (OutboxStatus.claimed.value, OutboxStatus.sending.value)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", OutboxStatus), name="status"),
        sa.CheckConstraint(one_of("purpose", OutboxPurpose), name="purpose"),
        # What the delivery claims: the oldest waiting rows, and per recipient the oldest.
        sa.Index("ix_outbox_waiting", "next_at", "id",
                 postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'")),
        sa.Index("ix_outbox_reporter_open", "reporter_id", "id",
                 postgresql_where=sa.text("status IN ('queued', 'claimed', 'sending')"),
                 sqlite_where=sa.text("status IN ('queued', 'claimed', 'sending')")),
        # One message in flight per recipient, enforced by the database too.
        sa.Index("uq_outbox_in_flight", "reporter_id", unique=True,
                 postgresql_where=sa.text("status IN ('claimed', 'sending')"),
                 sqlite_where=sa.text("status IN ('claimed', 'sending')")),
        sa.Index("ix_outbox_lease", "lease_until",
                 postgresql_where=sa.text("status IN ('claimed', 'sending')"),
                 sqlite_where=sa.text("status IN ('claimed', 'sending')")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    campaign_id: Mapped[int | None]  # a survey campaign (满意度测评); its table comes with the campaigns
    reporter_id: Mapped[int] = mapped_column(sa.ForeignKey("reporters.id"))
    purpose: Mapped[str] = mapped_column(sa.String(12))
    text: Mapped[str] = mapped_column(sa.Text)
    link_path: Mapped[str | None] = mapped_column(sa.String(300))  # under settings.public_url
    status: Mapped[str] = mapped_column(sa.String(12), default=OutboxStatus.queued.value, index=True)
    via: Mapped[str | None] = mapped_column(sa.String(10))  # the way of the attempt (custom | template)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    msgid: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)  # a template message's, from WeChat
    # WeChat's receipt of a template message (TEMPLATESENDJOBFINISH: success, failed:user block...).
    receipt: Mapped[str | None] = mapped_column(sa.String(40))
    next_at: Mapped[datetime] = mapped_column(default=utcnow)  # not tried before (backoff)
    claim: Mapped[str | None] = mapped_column(sa.String(32))  # the delivery job's token
    lease_until: Mapped[datetime | None]  # a claim or attempt older than this lost its worker
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sending_at: Mapped[datetime | None]  # when the attempt in flight was committed
    sent_at: Mapped[datetime | None]

    case: Mapped[Case | None] = relationship()
    reporter: Mapped[Reporter] = relationship()
