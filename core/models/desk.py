"""What the desk's work leaves besides the case's history: the office's reply templates, a
unit's rectification reports (progress with evidence, a proposed reply) and the commission's
outcome for a transferred clue (对账销号)."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, one_of, utcnow
from core.models.org import Staff


class ReplyTemplate(Base):
    """答复模板: a reusable reply the office keeps; the group starts a reply from one."""
    __tablename__ = "reply_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(60), unique=True)
    body: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportKind(str, enum.Enum):
    progress = "progress"  # 整改进展, with evidence
    proposal = "proposal"  # 拟答复: the group approves it (the public reply) or sends it back


class ProposalState(str, enum.Enum):
    pending = "pending"
    approved = "approved"
    sent_back = "sent_back"


class UnitReport(Base):
    """What a unit's liaison reports on a handover: progress (with evidence files) or a proposed
    reply, and the group's decision on a proposal with its note."""
    __tablename__ = "unit_reports"
    __table_args__ = (sa.CheckConstraint(one_of("kind", ReportKind), name="kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    handover_id: Mapped[int] = mapped_column(sa.ForeignKey("handovers.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(12))
    text: Mapped[str] = mapped_column(sa.Text)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str | None] = mapped_column(sa.String(12))  # proposals: a ProposalState
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    staff: Mapped[Staff] = relationship(foreign_keys=[staff_id])
    files: Mapped[list["EvidenceFile"]] = relationship(order_by="EvidenceFile.id", back_populates="report")


class EvidenceFile(Base):
    """A photo or document a unit sent as evidence, stored privately under the media folder
    (`evidence/…`) and served only through the desk's authorized file route."""
    __tablename__ = "evidence_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("unit_reports.id"), index=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(200))  # as uploaded, for the download's name
    content_type: Mapped[str] = mapped_column(sa.String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    storage_path: Mapped[str] = mapped_column(sa.String(300))
    report: Mapped[UnitReport] = relationship(back_populates="files")


class ClueOutcome(Base):
    """The commission's outcome for a transferred clue (处置结果), with the day it was decided;
    a transferred clue without one is on the reconciliation list (对账销号)."""
    __tablename__ = "clue_outcomes"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    outcome: Mapped[str] = mapped_column(sa.String(20))  # a key of OUTCOMES
    decided_on: Mapped[date]
    note: Mapped[str | None] = mapped_column(sa.Text)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


# The commission's outcomes, as it names them.
OUTCOMES = {"filed_case": "立案", "preliminary": "初核", "concluded": "了结", "talk": "谈话函询",
            "shelved": "暂存待查", "closed": "予以了结"}
