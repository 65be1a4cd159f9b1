"""Text handed to a unit is redacted (脱敏): phone numbers, ID card numbers and the reporter's
name are replaced before the text leaves the group's hands."""
from __future__ import annotations

import re

from core.identity import IdentityVault
from core.models import Case

_ID_CARD = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")
_PHONE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9][0-9](?:[- ]?[0-9]{4}){2}(?![0-9])"
                    r"|(?<![0-9])0[0-9]{2,3}[- ]?[0-9]{7,8}(?![0-9])")
HIDDEN = "＊＊＊"


def redact(text: str | None, case: Case, vault: IdentityVault) -> str:
    if not text:
        return text or ""
    text = _ID_CARD.sub(HIDDEN, text)
    text = _PHONE.sub(HIDDEN, text)
    name = vault.decrypt(case.contact_name_enc) if case.contact_name_enc else None
    if name and name.strip():
        text = text.replace(name.strip(), "某某")
    return text
