"""Reading the bot's replies in tests."""
from __future__ import annotations

import re


def tracking_no(reply: str) -> str:
    """The 受理编号 in a submission reply (XC + Beijing date + case id)."""
    return re.search(r"受理编号：(XC\d+)", reply).group(1)
