"""`flask media ...` and `flask drafts ...`: the state of downloads and of quiet drafts."""
from __future__ import annotations

import click
import sqlalchemy as sa

from core.app import database, jobs
from core.cli import CommandGroup
from core.clock import local
from core.models import Attachment, Push

media_cli = CommandGroup("media", help="Voice and image downloads from WeChat.")
drafts_cli = CommandGroup("drafts", help="Unsubmitted reports.")


@media_cli.command("status")
def media_status() -> None:
    """Count downloads by status and list the failed and invalid ones with their last error."""
    with database().session() as s:
        for status, n in s.execute(sa.select(Attachment.status, sa.func.count()).where(
                Attachment.media_id.is_not(None)).group_by(Attachment.status)):
            click.echo(f"{status}: {n}")
        for status, n in s.execute(sa.select(Push.media, sa.func.count()).where(Push.media.is_not(None))
                                   .group_by(Push.media)):
            click.echo(f"drafts {status}: {n}")
        for p in s.scalars(sa.select(Push).where(Push.media.in_(("failed", "invalid")))):
            click.echo(f"  drafts {p.media} piece {p.key[:12]} attempts={p.attempts}: {p.last_error}")
        for att in s.scalars(sa.select(Attachment).where(Attachment.status.in_(("failed", "invalid")))
                             .order_by(Attachment.id)):
            click.echo(f"  {att.status} #{att.id} {att.kind} case={att.case_id} attempts={att.attempts}: "
                       f"{att.last_error}")


@media_cli.command("retry")
def media_retry() -> None:
    """Enqueue every pending or failed download whose media id has not expired."""
    from intake.jobs import requeue_pending_media

    n = requeue_pending_media(older_than_s=0)
    jobs().wait(timeout=120)
    click.echo(f"re-enqueued {n} download(s)")


@drafts_cli.command("list")
@click.option("--status", default="abandoned", show_default=True,
              type=click.Choice(["open", "abandoned"]))
def drafts_list(status: str) -> None:
    """Drafts nobody submitted (quiet ones count as abandoned after `draft_abandon_hours`): when
    each was last added to (to the hour) and how many pieces it has; never what they say."""
    from datetime import timedelta

    from core.app import settings, vault
    from core.db import utcnow
    from intake.drafts import unsubmitted

    abandoned_before = utcnow() - timedelta(hours=settings().draft_abandon_hours)
    with database().session() as s:
        rows = s.execute(sa.select(Push.key, Push.conversation, Push.at).where(Push.conversation.is_not(None))).all()
        drafts: dict[str, list] = {}
        for r in unsubmitted(s, vault(), rows):
            drafts.setdefault(r.conversation, []).append(r.at)
    for i, times in enumerate(sorted(drafts.values(), key=max), 1):
        if (max(times) < abandoned_before) == (status == "abandoned"):
            click.echo(f"#{i} {local(max(times)):%Y-%m-%d %H:00} pieces={len(times)}")


@drafts_cli.command("sweep")
def drafts_sweep() -> None:
    """Remind quiet citizens and forget long-silent drafts (also run by `flask jobs cron`)."""
    from intake.jobs import sweep_drafts

    click.echo(str(sweep_drafts()))
