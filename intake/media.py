"""Where downloaded voice and images live, under MEDIA_DIR: a case's files named by their content
(`ab/abcd….jpg`), a draft's under a random name (`drafts/…`), so that nothing in a draft's row
matches its case's."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

EXTENSIONS = {"audio/amr": ".amr", "audio/speex": ".speex", "audio/mpeg": ".mp3", "image/jpeg": ".jpg",
              "image/png": ".png", "image/gif": ".gif"}


def store(media_dir: Path, content: bytes, content_type: str) -> tuple[str, str]:
    """Write the bytes once (atomically) and return (relative path, sha256)."""
    digest = hashlib.sha256(content).hexdigest()
    rel = Path(digest[:2]) / (digest + EXTENSIONS.get(content_type.split(";")[0].strip(), ".bin"))
    path = media_dir / rel
    if not path.exists():
        _write(path, content)
    return str(rel), digest


def _write(path: Path, content: bytes) -> None:
    """Atomically, and the user's own whatever the process umask (the app factory sets 077 too)."""
    import secrets

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(content)
    tmp.replace(path)


def store_draft(media_dir: Path, content: bytes, content_type: str) -> str:
    """Write a draft piece's media under a random name; returns the relative path."""
    import secrets

    rel = Path("drafts") / (secrets.token_hex(16) + EXTENSIONS.get(content_type.split(";")[0].strip(), ".bin"))
    _write(media_dir / rel, content)
    return str(rel)


def content_type(path: str) -> str:
    suffix = Path(path).suffix
    return next((t for t, ext in EXTENSIONS.items() if ext == suffix), "application/octet-stream")


def orphans(media_dir: Path, referenced: set[str], older_than_s: float) -> list[Path]:
    """Files no attachment points to (a cancelled draft's media), older than `older_than_s`
    so that a download being stored right now is never taken for one."""
    import time

    if not media_dir.exists():
        return []
    cutoff = time.time() - older_than_s
    return [p for p in [*media_dir.glob("??/*"), *media_dir.glob("drafts/*")] if p.is_file() and str(p.relative_to(media_dir)) not in referenced
            and p.stat().st_mtime < cutoff]
