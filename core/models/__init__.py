"""SQLAlchemy 2 models for the design's words (see DESIGN.md, "Words")."""
from core.db import Base
from core.models.org import Group, Office, QrCode, Round, Staff, Unit, UnitAlias, group_units
from core.models.case import Attachment, Case, CaseEvent, CaseStatus, Reporter
from core.models.conversation import Conversation, Push, PushSignature, SubmittedPiece
from core.models.limits import RateCounter

__all__ = [
    "Attachment", "Base", "Case", "CaseEvent", "CaseStatus", "Conversation", "Group", "Office", "Push",
    "PushSignature", "QrCode", "RateCounter", "Reporter", "Round", "Staff", "SubmittedPiece", "Unit",
    "UnitAlias", "group_units",
]
