"""The audit log (审计日志): who revealed whose identity and why, who logged in or failed to,
which API tokens were made and revoked. Append-only: the ORM refuses updates and deletes, and
migration 0007 makes the database refuse them too (a trigger on SQLite and PostgreSQL).

A row never holds the reporter's identity: a reveal records who, when, which case and the
reason, not what was shown."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow
from core.models.case import Case
from core.models.org import Staff


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # reveal | login | login_failed | api_token_created | api_token_revoked
    action: Mapped[str] = mapped_column(sa.String(30), index=True)
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cases.id"), index=True)
    reason: Mapped[str | None] = mapped_column(sa.Text)  # a reveal's written reason (查看理由)
    detail: Mapped[str | None] = mapped_column(sa.String(200))  # e.g. an API token's name
    address: Mapped[str | None] = mapped_column(sa.String(64))  # the client's address
    staff: Mapped[Staff | None] = relationship()
    case: Mapped[Case | None] = relationship()


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _audit_log_is_append_only(_mapper, _conn, target):
    raise ValueError(f"audit entry {target.id} is immutable")

