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
from core.models.rating import Rating, RatingVia, Score
from core.models.oversight import (CardLevel, DeadlineReminder, SurveyAnswer, SurveyCampaign, SurveyRecipient,
                                   UnitCard)

__all__ = [
    "ApiToken", "Attachment", "AuditEntry", "Base", "Case", "CaseEvent", "CaseSearch", "CaseStatus", "ClueOutcome", "Conversation", "EvidenceFile", "Group", "Handover", "Office", "OutboxMessage", "OutboxStatus", "Push", "ReplyTemplate", "UnitReport",
    "PushSignature", "QrCode", "RateCounter", "Rating", "RatingVia", "Score", "Reporter", "Round", "Staff", "StaffSession", "SubmittedPiece", "Unit",
    "UnitAlias", "group_units", "CardLevel", "DeadlineReminder", "SurveyAnswer", "SurveyCampaign",
    "SurveyRecipient", "UnitCard",
]

from core import search as _search  # noqa: E402,F401  (keeps case_search with every case's text)
