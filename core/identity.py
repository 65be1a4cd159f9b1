"""Reporter identity at rest (反映人身份保护).

Identity fields (openid, name, phone) and the pieces of drafts are encrypted with a key derived
from IDENTITY_KEY: AES-GCM with a random nonce and nothing else in the clear (Fernet, used
before, writes its creation time to the second in the clear, which would date every piece;
old Fernet values are still read). Lookups by openid use a keyed hash (a blind index), so the
database never holds a plain openid. Query codes for anonymous reports are stored only as
salted PBKDF2 hashes.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
import threading

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_GCM = b"\x02"  # the first byte of an AES-GCM value (a Fernet token starts with "g")
# No 0/O, 1/I/L: the citizen copies the code by hand.
QUERY_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_PBKDF2_ROUNDS = 60_000


class _Entropy(threading.local):
    """Each thread's buffer of the kernel's random bytes."""
    buf, at = b"", 0


_entropy = _Entropy()
os.register_at_fork(after_in_child=lambda: setattr(_entropy, "buf", b""))  # a child never reuses its parent's


def random_bytes(n: int) -> bytes:
    """`n` bytes from the kernel's CSPRNG (os.urandom), read 4 KiB at a time per thread: a nonce
    per sealed piece and per reply would otherwise be a system call each, and each call lets go
    of the GIL, which a busy worker's other threads then fight over."""
    e = _entropy
    if e.at + n > len(e.buf):
        e.buf, e.at = os.urandom(max(4096, n)), 0
    e.at += n
    return e.buf[e.at - n:e.at]


def _mac(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _keyed(mac: hmac.HMAC, value: str) -> str:
    """HMAC-SHA256 of `value` (hex) from a keyed HMAC's copy. The same value as
    `hmac.digest(key, ...)`, which with OpenSSL 3 looks the digest up by name on every call:
    4 µs of CPU a hash with a worker's four threads hashing at once, against 1.5 µs for a copy."""
    h = mac.copy()
    h.update(value.encode())
    return h.hexdigest()


class IdentityVault:
    def __init__(self, identity_key: str):
        root = hashlib.sha256(identity_key.encode()).digest()
        key = hmac.digest(root, b"encrypt", "sha256")
        self._fernet = Fernet(base64.urlsafe_b64encode(key))  # values written before AES-GCM
        self._aead = AESGCM(key)
        # Keyed once: each hash copies its HMAC's state (`_keyed`) instead of keying a new one.
        self._index_mac = _mac(hmac.digest(root, b"blind-index", "sha256"))
        self._event_mac = _mac(hmac.digest(root, b"event-dedupe", "sha256"))
        self._tag_mac = _mac(hmac.digest(root, b"consumed-tags", "sha256"))
        _decoy()  # made now, so that the first lookup of a process takes no longer than the others

    def encrypt(self, value: str | None) -> bytes | None:
        return None if value is None else self.seal_bytes(value.encode())

    def decrypt(self, token: bytes | None) -> str | None:
        return None if token is None else self.open_bytes(token).decode()

    def seal_bytes(self, data: bytes) -> bytes:
        nonce = random_bytes(12)
        return _GCM + nonce + self._aead.encrypt(nonce, data, None)

    def open_bytes(self, token: bytes) -> bytes:
        token = bytes(token)
        try:
            if token[:1] == _GCM:
                return self._aead.decrypt(token[1:13], token[13:], None)
            return self._fernet.decrypt(token)
        except (InvalidTag, InvalidToken) as exc:  # wrong IDENTITY_KEY: say so rather than show garbage
            raise ValueError("reporter identity cannot be decrypted with this IDENTITY_KEY") from exc

    def seal(self, value: dict) -> bytes:
        """A small JSON object, encrypted (a draft's piece)."""
        return self.seal_bytes(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())

    def unseal(self, token: bytes) -> dict:
        return json.loads(self.open_bytes(token))

    def tag(self, value: str) -> str:
        """A keyed hash with a key of its own: a submitted piece's mark (see intake.drafts)."""
        return _keyed(self._tag_mac, value)

    def openid_hash(self, openid: str) -> str:
        return _keyed(self._index_mac, openid)

    def push_key(self, openid: str, *parts: str) -> str:
        """A push's dedupe key: the sender and what identifies the push (MsgId; CreateTime and
        the event for events). Keyed on the openid itself with a key of its own, so it cannot
        be matched to a conversation's `openid_hash` from the database; the sender is part of
        it, so another sender's push with the same MsgId is never taken for a retry."""
        return _keyed(self._event_mac, "|".join((openid, *parts)))[:48]


def new_query_code(length: int = 8) -> str:
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _ in range(length))


def hash_query_code(code: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", code.upper().encode(), salt, _PBKDF2_ROUNDS)
    return f"pbkdf2_sha256${_PBKDF2_ROUNDS}${salt.hex()}${digest.hex()}"


# Checked against when there is no real hash, so that every lookup costs one PBKDF2: a wrong
# tracking number, a case that is not anonymous and a wrong code all take the same time.
@functools.cache
def _decoy() -> str:
    return hash_query_code(new_query_code())


def check_query_code(code: str, stored: str | None) -> bool:
    real = bool(stored)
    try:
        _, rounds, salt, digest = (stored or _decoy()).split("$")
    except ValueError:
        _, rounds, salt, digest = _decoy().split("$")
        real = False
    candidate = hashlib.pbkdf2_hmac("sha256", code.strip().upper().encode(), bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(candidate.hex(), digest) and real
