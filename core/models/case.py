"""Cases (反映/诉求), their reporters, immutable history and attachments."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, one_of, utcnow
from core.models.org import Group, QrCode, Round, Staff, Unit

# The text of a case that came with pictures, voice without recognition or a location only.
NO_TEXT = "（仅图片/语音/位置，无文字）"


class CaseStatus(str, enum.Enum):
    """The statuses of a case; the moves between them are `core.lifecycle.TRANSITIONS`."""
    received = "received"
    assigned = "assigned"
    handed_over = "handed_over"
    transferred = "transferred"
    referred = "referred"
    verifying = "verifying"
    filed = "filed"
    rejected = "rejected"
    replied = "replied"
    closed = "closed"
    merged = "merged"
    reopened = "reopened"
    rated = "rated"


class Reporter(Base):
    """反映人: a WeChat user, by encrypted openid; `openid_hash` is a keyed blind index for
    lookups. Name and phone given for a named report (实名) belong to that case, see Case."""
    __tablename__ = "reporters"
    id: Mapped[int] = mapped_column(primary_key=True)
    openid_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    openid_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        sa.CheckConstraint(one_of("status", CaseStatus), name="status"),
        # The desk's keyset pages: newest first, or by priority then newest.
        sa.Index("ix_cases_created_at_id", "created_at", "id"),
        sa.Index("ix_cases_priority_created_at_id", "priority", "created_at", "id"),
        # A status filter's pages and its search window (closed cases lie far below the newest).
        sa.Index("ix_cases_status_created_at_id", "status", "created_at", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_no: Mapped[str | None] = mapped_column(sa.String(24), unique=True)  # 受理编号
    query_code_hash: Mapped[str | None] = mapped_column(sa.String(200))  # 查询码, anonymous only
    # named (实名) | default | anonymous (匿名: no reporter linked at all)
    anonymity: Mapped[str] = mapped_column(sa.String(12), default="default")
    reporter_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reporters.id"), index=True)
    # 实名: the name and phone given with this report, encrypted like all identity.
    contact_name_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    contact_phone_enc: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # When the reporter's identity was purged after the retention period (the case stays).
    identity_purged_at: Mapped[datetime | None]
    channel: Mapped[str] = mapped_column(sa.String(16))  # wechat | h5 | meeting | letter | phone | visit
    text: Mapped[str] = mapped_column(sa.Text)
    summary: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str | None] = mapped_column(sa.String(20))  # clue | petition | suggestion | out_of_scope
    domain: Mapped[str | None] = mapped_column(sa.String(30))
    round_id: Mapped[int | None] = mapped_column(sa.ForeignKey("rounds.id"))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("groups.id"), index=True)
    qr_code_id: Mapped[int | None] = mapped_column(sa.ForeignKey("qr_codes.id"))
    status: Mapped[str] = mapped_column(sa.String(16), default=CaseStatus.received.value, index=True)
    priority: Mapped[int] = mapped_column(default=0)
    # Routing (分办): which model labelled the case, the evidence shown to staff, the staff member
    # it went to, the first case of its duplicate cluster, and whether staff confirmed the labels
    # (confirmed cases are training data for the next model).
    model_version: Mapped[str | None] = mapped_column(sa.String(40))
    evidence: Mapped[dict | None] = mapped_column(sa.JSON)
    routed_at: Mapped[datetime | None]
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    cluster_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    labels_confirmed: Mapped[bool] = mapped_column(default=False)
    # 合并: the main case this duplicate was merged into (its public replies reach this citizen).
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    reporter: Mapped[Reporter | None] = relationship()
    round: Mapped[Round | None] = relationship()
    unit: Mapped[Unit | None] = relationship()
    group: Mapped[Group | None] = relationship()
    qr_code: Mapped[QrCode | None] = relationship()
    assignee: Mapped[Staff | None] = relationship()
    events: Mapped[list["CaseEvent"]] = relationship(order_by="CaseEvent.id", back_populates="case")
    attachments: Mapped[list["Attachment"]] = relationship(
        order_by="Attachment.id", back_populates="case", foreign_keys="Attachment.case_id")


class CaseEvent(Base):
    """Immutable history: who, when, from, to, note; written by `core.lifecycle` only. Updates
    and deletes are refused. Public events are what the citizen sees; the others are internal."""
    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(sa.String(60))  # citizen | system | staff (then staff_id)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(30))
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str | None] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.Text)
    public: Mapped[bool] = mapped_column(default=False)  # shown to the citizen?
    case: Mapped[Case] = relationship(back_populates="events")
    staff: Mapped[Staff | None] = relationship()


@event.listens_for(CaseEvent, "before_update")
@event.listens_for(CaseEvent, "before_delete")
def _case_events_are_immutable(_mapper, _conn, target):
    raise ValueError(f"CaseEvent {target.id} is immutable history")


class Attachment(Base):
    """A case's voice, image or location. Made at submission from the draft's pieces (their
    stored media copied), or downloaded by a job at once when a piece's was not yet: WeChat
    media ids expire."""
    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # voice | image | location
    media_id: Mapped[str | None] = mapped_column(sa.String(200))
    media_format: Mapped[str | None] = mapped_column(sa.String(16))
    # pending → fetching (claimed by one job) → stored, or failed (with last_error; retried,
    # listed by `flask media status`)
    status: Mapped[str] = mapped_column(sa.String(10), default="pending", index=True)
    claimed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    storage_path: Mapped[str | None] = mapped_column(sa.String(300))
    content_type: Mapped[str | None] = mapped_column(sa.String(60))
    size: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    recognition: Mapped[str | None] = mapped_column(sa.Text)
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    label: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stored_at: Mapped[datetime | None]
    case: Mapped[Case | None] = relationship(back_populates="attachments", foreign_keys=[case_id])


class Handover(Base):
    """交办: a case handed to a unit to fix, with its due date. The unit's liaison sees the case
    (redacted) from then on; a handover past `due_on` and not answered is overdue."""
    __tablename__ = "handovers"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id"), index=True)
    due_on: Mapped[date]
    at: Mapped[datetime] = mapped_column(default=utcnow)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    # The text as handed (redacted, checked and edited by the member); the case keeps the original.
    text: Mapped[str | None] = mapped_column(sa.Text)
    unit: Mapped[Unit] = relationship()


class CaseSearch(Base):
    """The words of a case's text for the desk's search (`core.search` keeps it): characters and
    character pairs of Chinese runs, whole Latin words and numbers, separated by spaces. Indexed
    by migration 0005 per database: a GIN index over its tsvector on PostgreSQL, an FTS5 table
    (`case_search_fts`, kept by triggers) on SQLite."""
    __tablename__ = "case_search"
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    terms: Mapped[str] = mapped_column(sa.Text)
