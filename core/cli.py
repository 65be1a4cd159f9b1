"""`flask db ...` (Alembic) and `flask jobs ...` (RQ worker and cron)."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

ROOT = Path(__file__).resolve().parent.parent

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


SCHEMA_HINT = ("the database schema is missing or older than this code: run `flask db upgrade` "
               "(then `flask deploy load FILE` for a new database; ./run.sh does both)")


def _schema_missing(exc: BaseException) -> bool:
    """An undefined table or column: SQLite says so in words, PostgreSQL by SQLSTATE."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in ("42P01", "42703"):
        return True
    return any(words in str(orig) for words in ("no such table", "no such column"))


class CommandGroup(AppGroup):
    """A group whose commands, run against an unmigrated database, end with SCHEMA_HINT instead
    of a traceback (the usual case: a fresh checkout, or new code before `flask db upgrade`).
    Every group but `flask db` itself, whose own errors are the ones to see."""

    def invoke(self, ctx: click.Context):
        import sqlalchemy as sa

        try:
            return super().invoke(ctx)
        except sa.exc.DBAPIError as exc:
            if _schema_missing(exc):
                raise click.ClickException(SCHEMA_HINT) from None
            raise


Refusal = str | Callable[[Exception], str] | None


@contextmanager
def command_session(refusals: Mapping[type[Exception], Refusal] | None = None) -> Iterator:
    """A command's database session, committed when its work is done. An exception of a type in
    `refusals` ends the command with one line instead of a traceback: the message given, made
    from the exception by a function, or (None) the exception's own words. Nothing is committed."""
    from core.app import database

    refusals = refusals or {}
    with database().session() as s:
        try:
            yield s
        except tuple(refusals) as exc:
            message = next(m for kind, m in refusals.items() if isinstance(exc, kind))
            raise click.ClickException(message(exc) if callable(message) else message or str(exc)) from None
        s.commit()


jobs_cli = CommandGroup("jobs", help="Background jobs (RQ).")


def alembic_config():
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = current_app.extensions["settings"].database_url
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the schema to REVISION (default: the latest)."""
    from alembic import command

    command.upgrade(alembic_config(), revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models."""
    from alembic import command

    command.revision(alembic_config(), message=message, autogenerate=True)


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def jobs_worker(burst: bool) -> None:
    """Run an RQ worker with this app's context (needs REDIS_URL)."""
    from rq import Worker

    jobs = current_app.extensions["jobs"]
    if jobs.in_process:
        raise click.ClickException("REDIS_URL is not set: jobs already run inside the web process")
    Worker([jobs.queue], connection=jobs.redis).work(burst=burst, with_scheduler=True)


@jobs_cli.command("cron")
def jobs_cron() -> None:
    """Run the periodic jobs the features registered (`Jobs.every`): RQ's cron scheduler with
    REDIS_URL, else a plain loop in this process (the development default, started by run.sh)."""
    jobs = current_app.extensions["jobs"]
    periodic = jobs.periodic
    if not jobs.in_process:
        from rq.cron import CronScheduler

        cron = CronScheduler(connection=jobs.redis)
        for func, cron_expr, timeout in periodic:
            cron.register(func, queue_name="default", cron=cron_expr, job_timeout=timeout)
        cron.start()
        return
    run_periodic(periodic)


def run_periodic(periodic, clock=None, sleep=None, until=lambda: False) -> None:
    """The loop of `flask jobs cron` without Redis: run each (function, cron, timeout) of
    `periodic` when due, in this process, until `until()` is true. A failed run is reported
    and waits for its next turn; the other jobs keep theirs. `clock` (epoch seconds) and `sleep`
    are time.time and time.sleep unless given. Cron fields are local time, as in RQ's cron."""
    import time
    from datetime import datetime

    from croniter import croniter

    clock, sleep = clock or time.time, sleep or time.sleep
    # get_next(datetime), not get_next(float): the float reads the naive local time as UTC.
    nexts = {func: croniter(expr, datetime.fromtimestamp(clock())) for func, expr, _ in periodic}
    due = {func: it.get_next(datetime).timestamp() for func, it in nexts.items()}
    click.echo("periodic jobs in this process: " + ", ".join(f"{f.__name__} ({e})" for f, e, _ in periodic))
    while not until():
        func = min(due, key=due.get)
        sleep(max(0.0, due[func] - clock()))
        try:
            click.echo(f"{func.__name__}: {func()}")
        except Exception as exc:  # noqa: BLE001 - a failed run waits for its next turn
            click.echo(f"{func.__name__} failed: {exc}", err=True)
        due[func] = nexts[func].get_next(datetime).timestamp()
