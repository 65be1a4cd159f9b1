"""`flask media ...` and `flask drafts ...`: the state of downloads and of quiet drafts."""
from __future__ import annotations

import click
import sqlalchemy as sa

from core.app import database, jobs
from core.cli import CommandGroup
from core.models import Attachment, Draft
from core.clock import local

media_cli = CommandGroup("media", help="Voice and image downloads from WeChat.")
drafts_cli = CommandGroup("drafts", help="Unsubmitted reports.")


@media_cli.command("status")
def media_status() -> None:
    """Count downloads by status and list the failed and invalid ones with their last error."""
    with database().session() as s:
        for status, n in s.execute(sa.select(Attachment.status, sa.func.count()).where(
                Attachment.media_id.is_not(None)).group_by(Attachment.status)):
            click.echo(f"{status}: {n}")
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
    """Drafts nobody submitted: open ones, or those marked abandoned after a long silence."""
    with database().session() as s:
        quiet = Draft.abandoned_at.is_not(None) if status == "abandoned" else Draft.abandoned_at.is_(None)
        rows = s.scalars(sa.select(Draft).where(Draft.status == "open", Draft.entry_count > 0, quiet)
                         .order_by(Draft.updated_at))
        for d in rows:
            click.echo(f"#{d.id} {local(d.updated_at):%Y-%m-%d %H:%M} entries={d.entry_count} "
                       f"reminded={'yes' if d.reminded_at else 'no'}")


@drafts_cli.command("sweep")
def drafts_sweep() -> None:
    """Remind quiet citizens and mark long-silent drafts abandoned (also run by `flask jobs cron`)."""
    from intake.jobs import sweep_drafts

    click.echo(str(sweep_drafts()))
