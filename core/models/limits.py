"""Rate-limit counters kept in the database when there is no Redis (see core.ratelimit)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base


class RateCounter(Base):
    """One fixed window of one counter; `name` is a keyed hash of what is counted."""
    __tablename__ = "rate_counters"
    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    window_end: Mapped[datetime]
    count: Mapped[int]
