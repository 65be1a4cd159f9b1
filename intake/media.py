"""Where downloaded voice and images live: content-addressed files under MEDIA_DIR."""
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
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + f".{os.getpid()}.tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    return str(rel), digest
