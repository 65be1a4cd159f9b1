"""Reporter identity at rest (反映人身份保护).

Identity fields (openid, name, phone) are encrypted with a key derived from IDENTITY_KEY.
Lookups by openid use a keyed hash (a blind index), so the database never holds a
plain openid. Query codes for anonymous reports are stored only as salted PBKDF2 hashes.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken

# No 0/O, 1/I/L: the citizen copies the code by hand.
QUERY_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_PBKDF2_ROUNDS = 60_000


class IdentityVault:
    def __init__(self, identity_key: str):
        root = hashlib.sha256(identity_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(hmac.digest(root, b"encrypt", "sha256")))
        self._index_key = hmac.digest(root, b"blind-index", "sha256")
        self._event_key = hmac.digest(root, b"event-dedupe", "sha256")

    def encrypt(self, value: str | None) -> bytes | None:
        return None if value is None else self._fernet.encrypt(value.encode())

    def decrypt(self, token: bytes | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as exc:  # wrong IDENTITY_KEY: say so rather than show garbage
            raise ValueError("reporter identity cannot be decrypted with this IDENTITY_KEY") from exc

    def openid_hash(self, openid: str) -> str:
        return hmac.new(self._index_key, openid.encode(), "sha256").hexdigest()

    def event_token(self, openid: str, *parts: str) -> str:
        """A dedupe key for a push without MsgId. Keyed on the openid itself with a key of its
        own, so it cannot be matched to a conversation's `openid_hash` from the database."""
        return hmac.new(self._event_key, "|".join((openid, *parts)).encode(), "sha256").hexdigest()[:40]


def new_query_code(length: int = 8) -> str:
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _ in range(length))


def hash_query_code(code: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", code.upper().encode(), salt, _PBKDF2_ROUNDS)
    return f"pbkdf2_sha256${_PBKDF2_ROUNDS}${salt.hex()}${digest.hex()}"


def check_query_code(code: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _, rounds, salt, digest = stored.split("$")
    except ValueError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", code.strip().upper().encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(candidate.hex(), digest)
