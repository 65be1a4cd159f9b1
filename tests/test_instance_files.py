"""instance/ (database, media, models, logs) is readable by the service's user only."""
from __future__ import annotations

import base64
import os
import shutil
import stat
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from core.models import Attachment, Case
from core.settings import Settings
from product import create_app
from tests.images import TINY_JPEG
from tests.replies import tracking_no


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.fixture(autouse=True)
def shell_umask():
    """Start each test as a shell or systemd would start the service: umask 022, files 0644.
    (Before `app`: autouse fixtures come first.)"""
    old = os.umask(0o022)
    yield
    os.umask(old)


def sqlite_env(test_env: dict[str, str], folder: Path) -> dict[str, str]:
    env = {k: v for k, v in test_env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return {**env, "INSTANCE_PATH": str(folder)}


def test_a_new_instance_folder_and_database_are_private(test_env, tmp_path):
    folder = tmp_path / "instance"
    app = create_app(Settings.from_env(sqlite_env(test_env, folder), instance_path=folder, testing=True))
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    with app.extensions["db"].session() as s:  # a write, so that SQLite makes its WAL files
        s.execute(sa.text("CREATE TABLE probe (x int)"))
        s.commit()
        files = sorted(p.name for p in folder.glob("mashang.db*"))
        assert "mashang.db" in files and "mashang.db-wal" in files, files
        assert {name: mode(folder / name) for name in files} == {name: "0o600" for name in files}
    assert (mode(folder), mode(folder / "media")) == ("0o700", "0o700")
    (folder / "later.txt").write_text("anything this process writes from now on")
    assert mode(folder / "later.txt") == "0o600"
    app.extensions["db"].dispose()


def test_an_existing_instance_readable_by_others_is_made_private(test_env, tmp_path, migrated_template):
    folder = tmp_path / "instance"
    folder.mkdir(mode=0o755)
    (folder / "media").mkdir(mode=0o755)
    if isinstance(migrated_template, Path):
        shutil.copy(migrated_template, folder / "mashang.db")
    else:  # the PostgreSQL run: an empty file stands for a database an older version made
        (folder / "mashang.db").touch()
    (folder / "mashang.db-wal").touch()
    for path in (folder, folder / "media", folder / "mashang.db", folder / "mashang.db-wal"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    app = create_app(Settings.from_env(sqlite_env(test_env, folder), instance_path=folder, testing=True))
    assert [mode(p) for p in (folder, folder / "media", folder / "mashang.db", folder / "mashang.db-wal")] == \
        ["0o700", "0o700", "0o600", "0o600"]
    app.extensions["db"].dispose()


def test_a_stored_photo_is_private(app, citizen, db, run_jobs, fake_wechat, settings, draft_of):
    """The file a download job writes (an RQ worker process on Redis, a thread otherwise)."""
    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "PRIVATE1", "content_type": "image/jpeg",
                                                      "data_b64": base64.b64encode(TINY_JPEG).decode()}, timeout=5)
    citizen.scan("G1-baisha")
    citizen.image("PRIVATE1")
    run_jobs()
    piece = draft_of(citizen).content[0]
    assert piece.media == "stored"
    stored = settings.media_dir / piece.file
    assert stored.read_bytes() == TINY_JPEG
    assert mode(stored) == "0o600"
    assert [mode(p) for p in (stored.parent, settings.media_dir, settings.instance_path)] == ["0o700"] * 3
    # The case's copy, made by the web process at submission, is as private.
    number = tracking_no(citizen.say("提交"))
    att = db.scalar(sa.select(Attachment).join(Case).where(Case.tracking_no == number))
    copy = settings.media_dir / att.storage_path
    assert copy.read_bytes() == TINY_JPEG and mode(copy) == "0o600" and mode(copy.parent) == "0o700"
