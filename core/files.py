"""The instance folder is the service user's alone: the database, the media, the retrained
models, the offices' imported history and the logs in it hold reports and what identifies the
people who made them.

`make_private` runs in the app factory, so in every process of the product: the web server,
the RQ workers, the cron and every `flask` command.
"""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

from core.settings import Settings

log = logging.getLogger(__name__)

UMASK = 0o077  # what this process creates: rw for its user, nothing for group and others
DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def make_private(settings: Settings) -> None:
    """From now on this process creates files for its user only; the instance and media folders
    are made 0700 and a SQLite database (with its WAL and journal files) 0600, also when an
    earlier version, a copy or another tool left them readable by others."""
    os.umask(UMASK)
    for folder in (settings.instance_path, settings.media_dir):
        folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        _restrict(folder, DIR_MODE)
    database = sqlite_file(settings.database_url)
    if database is not None:
        for suffix in SQLITE_COMPANIONS:
            path = database.with_name(database.name + suffix)
            if path.exists():
                _restrict(path, FILE_MODE)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL (None: another database, or SQLite in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _restrict(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current == mode:
        return
    try:
        os.chmod(path, mode)
    except OSError as exc:  # not ours (another owner, a read-only mount): say so, run anyway
        log.warning("%s is mode %o, not %o, and this user cannot change it (%s)", path, current, mode,
                    exc.strerror)
