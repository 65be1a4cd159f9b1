"""Intake jobs. Plain functions taking ids; idempotent, so RQ's retries are safe.

- `fetch_new_media`: nudged by the webhook after a voice or image push; queues a download for
  every attachment not tried yet (one cheap nudge per push instead of one job per push).
- `download_media`: fetch a voice/image from WeChat (media ids expire in 3 days) and store it,
  a photo without its metadata (`intake.imagemeta`).
- `requeue_pending_media`: periodic; enqueues downloads that never started (queue was down).
- `purge_orphan_media`: periodic; deletes stored files no attachment points to any more (the
  media of a cancelled draft: 取消 deletes the rows, this deletes the files).
- `purge_inbound`: periodic; clears stored replies past WeChat's retries, old dedupe rows.
- `sweep_drafts`: periodic; reminds a quiet citizen of an unsubmitted draft inside the 48-hour
  window, then marks drafts untouched for `draft_abandon_hours` abandoned (kept, listed).
"""
from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa

from core.app import database, jobs, settings, wechat_api
from core.db import utcnow
from core.models import Attachment, Conversation, Draft
from core.wechat_api import WeChatApiError
from intake import imagemeta, media

log = logging.getLogger(__name__)

REMINDER = ("您有一条反映还没有提交。回复「提交」即可提交，回复「取消」放弃；"
            "也可以继续补充文字、语音、图片或位置。")


NEW_MEDIA = "new-media"


def fetch_new_media() -> int:
    jobs().started(NEW_MEDIA)
    with database().session() as s:
        ids = list(s.scalars(sa.select(Attachment.id).where(
            Attachment.status == "pending", Attachment.attempts == 0, Attachment.media_id.is_not(None))
            .order_by(Attachment.id)))
    for att_id in ids:
        jobs().enqueue(download_media, att_id, job_id=f"media-{att_id}")
    return len(ids)


CLAIM_TIMEOUT = timedelta(minutes=10)  # a download claimed longer ago than this was lost


def _claimable(now):
    """Downloads to try: waiting, failed for a reason that may pass, or claimed and lost."""
    return sa.and_(Attachment.media_id.is_not(None), sa.or_(
        Attachment.status.in_(("pending", "failed")),
        sa.and_(Attachment.status == "fetching", Attachment.claimed_at < now - CLAIM_TIMEOUT)))


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
        # A photo's EXIF (GPS position, time, phone) and the like never reach the disk.
        cleaned = imagemeta.strip_metadata(got.content)
        if cleaned.problem:
            log.warning("attachment %s: %s", attachment_id, cleaned.problem)
        if cleaned.removed:
            log.info("attachment %s: removed %s", attachment_id, ", ".join(cleaned.removed))
        path, digest = media.store(settings().media_dir, cleaned.content, got.content_type)
        done = s.execute(this.values(storage_path=path, sha256=digest, content_type=got.content_type,
                                     size=len(cleaned.content), status="stored", last_error=None,
                                     stored_at=utcnow()))
        s.commit()
        if done.rowcount == 0:  # the draft was cancelled meanwhile: its row is gone
            return "gone (draft cancelled); the file is left to purge_orphan_media"
        return path


def requeue_pending_media(older_than_s: int = 60) -> int:
    """Downloads that were never enqueued, or failed for a reason that may pass, while the
    media id is still valid (3 days)."""
    now = utcnow()
    with database().session() as s:
        ids = list(s.scalars(sa.select(Attachment.id).where(
            _claimable(now),
            Attachment.created_at < now - timedelta(seconds=older_than_s),
            Attachment.created_at > now - timedelta(days=3),
            Attachment.attempts < 10,
        )))
    for att_id in ids:
        jobs().enqueue(download_media, att_id, job_id=f"media-{att_id}")
    return len(ids)


def purge_orphan_media(older_than_s: float = 3600) -> int:
    with database().session() as s:
        referenced = set(s.scalars(sa.select(Attachment.storage_path).where(Attachment.storage_path.is_not(None))))
    files = media.orphans(settings().media_dir, referenced, older_than_s)
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def purge_inbound() -> dict[str, int]:
    from intake.inbound import purge

    with database().session() as s:
        counts = purge(s)
        s.commit()
    return counts


def sweep_drafts() -> dict[str, int]:
    cfg = settings()
    now = utcnow()
    remind_before = now - timedelta(hours=cfg.draft_remind_hours)
    # Customer-service messages only within 48 h; last_inbound_at is kept to the hour, so 46 h.
    window_open_after = now - timedelta(hours=46)
    abandon_before = now - timedelta(hours=cfg.draft_abandon_hours)
    counts = {"reminded": 0, "abandoned": 0}
    with database().session() as s:
        to_remind = s.execute(
            sa.select(Draft, Conversation).join(Conversation, Draft.conversation_id == Conversation.id)
            .where(Draft.status == "open", Draft.entry_count > 0, Draft.reminded_at.is_(None),
                   Draft.abandoned_at.is_(None),
                   Draft.updated_at < remind_before,
                   Conversation.last_inbound_at > window_open_after)).all()
        for draft, conv in to_remind:
            # Claimed first, and only if still unclaimed: a retried or overlapping sweep (two
            # cron processes, a sweep outlasting its interval) never sends a reminder twice.
            claimed = s.execute(sa.update(Draft).where(Draft.id == draft.id, Draft.reminded_at.is_(None))
                                .values(reminded_at=now).execution_options(synchronize_session=False))
            s.commit()
            if claimed.rowcount != 1:
                continue
            openid = _openid_for(s, conv)
            if openid is None:
                continue
            try:
                wechat_api().send_text(openid, REMINDER)
                counts["reminded"] += 1
            except WeChatApiError as exc:
                log.warning("draft %s reminder not sent: %s", draft.id, exc)
        result = s.execute(sa.update(Draft).where(Draft.status == "open", Draft.abandoned_at.is_(None),
                                                  Draft.updated_at < abandon_before).values(abandoned_at=now))
        counts["abandoned"] = result.rowcount or 0
        s.commit()
    return counts


def _openid_for(s, conv: Conversation) -> str | None:
    """The openid is kept only encrypted, on the reporter record or in the conversation."""
    from core.app import vault

    enc = conv.openid_enc
    return vault().decrypt(enc) if enc else None
