"""Dates as citizens read them (Beijing time); the database stores naive UTC."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def local(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc).astimezone(BEIJING)


def today(now: datetime | None = None) -> date:
    """Today in Beijing: rounds start and end on Beijing dates (tests move it)."""
    from core.db import utcnow

    return local(now or utcnow()).date()


def local_date_str(dt: datetime) -> str:
    return local(dt).strftime("%Y-%m-%d")
