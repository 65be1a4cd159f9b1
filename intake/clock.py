"""Dates as citizens read them (Beijing time); the database stores naive UTC."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


def local(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc).astimezone(BEIJING)


def local_date_str(dt: datetime) -> str:
    return local(dt).strftime("%Y-%m-%d")
