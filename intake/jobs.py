"""Intake jobs. Plain functions taking ids; idempotent, so RQ's retries are safe.

- `fetch_new_media`: nudged by the webhook after a voice or image push; queues a download for
  every piece or attachment not tried yet (one cheap nudge per push instead of one job per push).
- `download_piece` / `download_media`: fetch a draft piece's / a case attachment's voice or image
  from WeChat (media ids expire in 3 days) and store it, a photo without its metadata
  (`intake.imagemeta`).
- `requeue_pending_media`: periodic; enqueues downloads that never started (queue was down).
- `purge_orphan_media`: periodic; deletes stored files nothing points to any more (a cancelled
  or submitted draft's media).
- `purge_pushes`: periodic; deletes replies WeChat can no longer ask for, the pieces of every
  draft submitted since the last run with their marks, and stale plain-mode signatures.
- `sweep_drafts`: periodic; reminds a quiet citizen of an unsubmitted draft inside the 48-hour
  window, once; forgets (deletes) drafts untouched for `draft_forget_days`.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from core.app import database, jobs, settings, wechat_api
from core.db import utcnow
from core.models import Attachment, Conversation, Push, PushSignature, SubmittedPiece
from core.wechat_api import WeChatApiError
from intake import imagemeta, media
from intake.drafts import CONTENT, unsubmitted
from intake.pushes import REPLY_KEPT, Piece, hour

log = logging.getLogger(__name__)

REMINDER = ("您有一条反映还没有提交。回复「提交」即可提交，回复「取消」放弃；"
            "也可以继续补充文字、语音、图片或位置。")


NEW_MEDIA = "new-media"


def fetch_new_media() -> int:
    jobs().started(NEW_MEDIA)
    with database().session() as s:
        keys = list(s.scalars(sa.select(Push.key).where(Push.media == "pending", Push.attempts == 0)))
        ids = list(s.scalars(sa.select(Attachment.id).where(
            Attachment.status == "pending", Attachment.attempts == 0, Attachment.media_id.is_not(None))
            .order_by(Attachment.id)))
    for key in keys:
        jobs().enqueue(download_piece, key, job_id=f"piece-{key[:16]}")
    for att_id in ids:
        jobs().enqueue(download_media, att_id, job_id=f"media-{att_id}")
    return len(keys) + len(ids)


CLAIM_TIMEOUT = timedelta(minutes=10)  # a download claimed longer ago than this was lost


def _claimable(now):
    """Downloads to try: waiting, failed for a reason that may pass, or claimed and lost."""
    return sa.and_(Attachment.media_id.is_not(None), sa.or_(
        Attachment.status.in_(("pending", "failed")),
        sa.and_(Attachment.status == "fetching", Attachment.claimed_at < now - CLAIM_TIMEOUT)))


def _piece_claimable(now):
    return sa.or_(Push.media.in_(("pending", "failed")),
                  sa.and_(Push.media == "fetching", Push.claimed_at < now - CLAIM_TIMEOUT))


def download_piece(key: str) -> str:
    """Fetch a draft piece's media into a file of its own (a random name). Claimed first, like
    `download_media`; a piece cancelled or submitted meanwhile leaves its file to the purge."""
    from core.app import vault

    now = utcnow()
    with database().session() as s:
        claimed = s.execute(sa.update(Push).where(Push.key == key, _piece_claimable(now))
                            .values(media="fetching", claimed_at=now, attempts=Push.attempts + 1)
                            .returning(Push.sealed)).first()
        s.commit()
        if claimed is None:
            return "nothing to do (stored, gone, or being fetched)"
        _, piece = Piece.unsealed(vault(), claimed.sealed)
        this = sa.update(Push).where(Push.key == key, Push.media == "fetching")
        try:
            got = wechat_api().download_media(piece.media_id)
        except WeChatApiError as exc:
            s.execute(this.values(media="failed" if exc.retryable else "invalid", last_error=str(exc)[:300]))
            s.commit()
            if exc.retryable:
                raise
            return str(exc)[:300]
        path = media.store_draft(settings().media_dir, _without_metadata(got.content, "a draft's piece"),
                                 got.content_type)
        done = s.execute(this.values(media="stored", file=path, last_error=None))
        s.commit()
        if done.rowcount == 0:
            return "gone (draft cancelled or submitted); the file is left to purge_orphan_media"
        return path


def download_media(attachment_id: int) -> str:
    """Fetch one attachment's media. The row is claimed first (one UPDATE), so two workers never
    fetch the same file; a claim left by a crashed worker expires after CLAIM_TIMEOUT."""
    now = utcnow()
    with database().session() as s:
        claimed = s.execute(
            sa.update(Attachment)
            .where(Attachment.id == attachment_id, _claimable(now))
            .values(status="fetching", claimed_at=now, attempts=Attachment.attempts + 1)
            .returning(Attachment.media_id)).first()
        s.commit()
        if claimed is None:
            return "nothing to do (stored, gone, or being fetched)"
        this = sa.update(Attachment).where(Attachment.id == attachment_id, Attachment.status == "fetching")
        try:
            got = wechat_api().download_media(claimed.media_id)
        except WeChatApiError as exc:
            # "invalid": WeChat will never give this one (expired or unknown media id), so the
            # sweep leaves it alone; "failed" may pass and is retried.
            error = str(exc)[:300]
            s.execute(this.values(status="failed" if exc.retryable else "invalid", last_error=error))
            s.commit()
            if exc.retryable:
                raise  # RQ (or the in-process runner) retries with backoff
            return error
        content = _without_metadata(got.content, f"attachment {attachment_id}")
        path, digest = media.store(settings().media_dir, content, got.content_type)
        done = s.execute(this.values(storage_path=path, sha256=digest, content_type=got.content_type,
                                     size=len(content), status="stored", last_error=None,
                                     stored_at=utcnow()))
        s.commit()
        if done.rowcount == 0:  # the draft was cancelled meanwhile: its row is gone
            return "gone (draft cancelled); the file is left to purge_orphan_media"
        return path


def _without_metadata(content: bytes, what: str) -> bytes:
    """A photo's EXIF (GPS position, time, phone) and the like never reach the disk."""
    cleaned = imagemeta.strip_metadata(content)
    if cleaned.problem:
        log.warning("%s: %s", what, cleaned.problem)
    if cleaned.removed:
        log.info("%s: removed %s", what, ", ".join(cleaned.removed))
    return cleaned.content


def requeue_pending_media(older_than_s: int = 60) -> int:
    """Downloads that were never enqueued, or failed for a reason that may pass, while the
    media id is still valid (3 days)."""
    now = utcnow()
    with database().session() as s:
        # A piece's row keeps only the hour it came: allow for it.
        keys = list(s.scalars(sa.select(Push.key).where(
            _piece_claimable(now), Push.at < now - timedelta(seconds=older_than_s) + timedelta(hours=1),
            Push.at > now - timedelta(days=3), Push.attempts < 10)))
        ids = list(s.scalars(sa.select(Attachment.id).where(
            _claimable(now),
            Attachment.created_at < now - timedelta(seconds=older_than_s),
            Attachment.created_at > now - timedelta(days=3),
            Attachment.attempts < 10,
        )))
    for key in keys:
        jobs().enqueue(download_piece, key, job_id=f"piece-{key[:16]}")
    for att_id in ids:
        jobs().enqueue(download_media, att_id, job_id=f"media-{att_id}")
    return len(keys) + len(ids)


def purge_orphan_media(older_than_s: float = 3600) -> int:
    with database().session() as s:
        referenced = set(s.scalars(sa.select(Attachment.storage_path).where(Attachment.storage_path.is_not(None))))
        referenced |= set(s.scalars(sa.select(Push.file).where(Push.file.is_not(None))))
    files = media.orphans(settings().media_dir, referenced, older_than_s)
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def purge_pushes() -> dict[str, int]:
    """Every few minutes: replies past WeChat's retries; the pieces of every draft submitted since
    the last run, with all the marks, in one batch (which draft became which case is in no row
    and no transaction of it); plain-mode signatures past their freshness; then the space of the
    deleted rows is cleaned (VACUUM on PostgreSQL; SQLite overwrites deleted content and the
    WAL is checkpointed)."""
    from core.app import vault

    db = database()
    now = utcnow()
    with db.session() as s:
        if db.engine.dialect.name == "postgresql":  # no submission marks a piece while we look
            s.execute(sa.text("LOCK TABLE submitted_pieces IN EXCLUSIVE MODE"))
        else:
            s.execute(sa.text("DELETE FROM submitted_pieces WHERE 0"))  # takes SQLite's write lock
        replies = s.execute(sa.delete(Push).where(Push.conversation.is_(None), Push.at < now - REPLY_KEPT)).rowcount
        pieces = s.execute(sa.select(Push.key).where(Push.conversation.is_not(None))).all()
        live = {r.key for r in unsubmitted(s, vault(), pieces)}
        gone = [r.key for r in pieces if r.key not in live]
        for i in range(0, len(gone), 500):
            s.execute(sa.delete(Push).where(Push.key.in_(gone[i:i + 500])))
        s.execute(sa.delete(SubmittedPiece))
        stale = now - timedelta(seconds=2 * settings().push_max_age)
        signatures = s.execute(sa.delete(PushSignature).where(PushSignature.at < stale)).rowcount
        s.commit()
    _clean_deleted_space(db)
    return {"replies": replies or 0, "submitted_pieces": len(gone), "signatures": signatures or 0}


def _clean_deleted_space(db) -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM pushes, submitted_pieces, push_signatures"))
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def sweep_drafts() -> dict[str, int]:
    """Remind each quiet citizen of their unsubmitted draft once (inside the 48-hour window), and
    forget (delete, with their files) drafts untouched for `draft_forget_days`."""
    from core.app import vault

    cfg = settings()
    now = utcnow()
    remind_before = now - timedelta(hours=cfg.draft_remind_hours)
    # Customer-service messages only within 48 h; last_inbound_at is kept to the hour, so 46 h.
    window_open_after = now - timedelta(hours=46)
    forget_before = now - timedelta(days=cfg.draft_forget_days)
    counts = {"reminded": 0, "abandoned": 0, "forgotten": 0}
    with database().session() as s:
        rows = s.execute(sa.select(Push.key, Push.conversation, Push.sealed, Push.at, Push.file)
                         .where(Push.conversation.is_not(None))).all()
        drafts: dict[str, list] = {}
        for r in unsubmitted(s, vault(), rows):
            drafts.setdefault(r.conversation, []).append(r)
        seen = dict(s.execute(sa.select(Conversation.openid_hash, Conversation.last_inbound_at)
                              .where(Conversation.openid_hash.in_(list(drafts)))).all()) if drafts else {}
        for conversation, pieces in drafts.items():
            last = max(r.at for r in pieces)
            if last < forget_before:
                s.execute(sa.delete(Push).where(Push.key.in_([r.key for r in pieces])))
                s.commit()
                for r in pieces:
                    if r.file:
                        (cfg.media_dir / r.file).unlink(missing_ok=True)
                counts["forgotten"] += 1
                continue
            if last < now - timedelta(hours=cfg.draft_abandon_hours):
                counts["abandoned"] += 1
            opened = [vault().unseal(r.sealed) for r in pieces]
            if (last >= remind_before or max(last, seen.get(conversation) or last) <= window_open_after
                    or not any(p["k"] in CONTENT for p in opened)):
                continue
            # Claimed first, and only if not yet reminded of this draft: a retried or overlapping
            # sweep never sends a reminder twice.
            claimed = s.execute(sa.text(
                "INSERT INTO conversations (openid_hash, last_inbound_at, created_at, reminded_at) "
                "VALUES (:c, :last, :last, :now) ON CONFLICT (openid_hash) DO UPDATE SET reminded_at = :now "
                "WHERE conversations.reminded_at IS NULL OR conversations.reminded_at < :last RETURNING 1"),
                {"c": conversation, "last": last, "now": hour(now)}).first()
            s.commit()
            openid = next((p["w"] for p in reversed(opened) if p.get("w")), None)
            if claimed is None or openid is None:
                continue
            try:
                wechat_api().send_text(openid, REMINDER)
                counts["reminded"] += 1
            except WeChatApiError as exc:
                log.warning("a draft reminder was not sent: %s", exc)
    return counts
