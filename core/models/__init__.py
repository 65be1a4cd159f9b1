"""SQLAlchemy 2 models for the design's words (see DESIGN.md, "Words")."""
from core.db import Base
from core.models.org import Group, Office, QrCode, Round, Staff, Unit, UnitAlias, group_units
from core.models.case import Attachment, Case, CaseEvent, CaseStatus, Reporter
from core.models.conversation import Conversation, Draft, DraftEntry, InboundMessage

__all__ = [
    "Attachment", "Base", "Case", "CaseEvent", "CaseStatus", "Conversation", "Draft", "DraftEntry",
    "Group", "InboundMessage", "Office", "QrCode", "Reporter", "Round", "Staff", "Unit", "UnitAlias",
    "group_units",
]
