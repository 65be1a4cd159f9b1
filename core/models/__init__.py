"""SQLAlchemy 2 models for the design's words (see DESIGN.md, "Words")."""
from core.db import Base
from core.models.org import Group, Office, QrCode, Round, Staff, StaffSession, Unit, UnitAlias, group_units
from core.models.case import Attachment, Case, CaseEvent, CaseSearch, CaseStatus, Handover, Reporter
from core.models.desk import ClueOutcome, EvidenceFile, ReplyTemplate, UnitReport
from core.models.audit import AuditEntry
from core.models.integration import ApiToken
from core.models.conversation import Conversation, Push, PushSignature, SubmittedPiece
from core.models.limits import RateCounter
from core.models.outbox import OutboxMessage, OutboxStatus

__all__ = [
    "ApiToken", "Attachment", "AuditEntry", "Base", "Case", "CaseEvent", "CaseSearch", "CaseStatus", "ClueOutcome", "Conversation", "EvidenceFile", "Group", "Handover", "Office", "OutboxMessage", "OutboxStatus", "Push", "ReplyTemplate", "UnitReport",
    "PushSignature", "QrCode", "RateCounter", "Reporter", "Round", "Staff", "StaffSession", "SubmittedPiece", "Unit",
    "UnitAlias", "group_units",
]

from core import search as _search  # noqa: E402,F401  (keeps case_search with every case's text)
