"""The JSON API's tokens (接口令牌): made, listed and revoked from the command line
(`flask api-token create|list|revoke`), checked on every API request.

A token is shown once, when made; the table keeps its sha256 only (a random 256-bit token needs
no slow hash: nobody can guess one, and a stolen table holds nothing to present). Making and
revoking a token are written to the audit log."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import click
import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin import audit
from core.app import database
from core.cli import CommandGroup, command_session
from core.db import utcnow
from core.models import ApiToken

PREFIX = "msx_"
USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often


class TokenNameTaken(ValueError):
    pass


class UnknownToken(LookupError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(s: Session, name: str) -> str:
    """A new token named `name` (unique among live tokens); returns the token itself."""
    name = name.strip()
    if not name or len(name) > 60:
        raise ValueError("a token's name has 1 to 60 characters")
    if s.scalar(sa.select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))):
        raise TokenNameTaken(name)
    token = PREFIX + secrets.token_urlsafe(32)
    s.add(ApiToken(name=name, token_hash=hash_token(token)))
    audit.record(s, audit.TOKEN_CREATED, detail=name)
    return token


def revoke(s: Session, name: str) -> int:
    """Revoke every live token named `name`; returns how many."""
    live = list(s.scalars(sa.select(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))))
    if not live:
        raise UnknownToken(name)
    for row in live:
        row.revoked_at = utcnow()
    audit.record(s, audit.TOKEN_REVOKED, detail=name)
    return len(live)


def authenticate(s: Session, token: str | None, now: datetime | None = None) -> ApiToken | None:
    """The live token presented, else None. Touches `last_used_at` (at most once a minute)."""
    if not token or not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = s.scalar(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return None
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at > USED_EVERY:
        row.last_used_at = now
    return row


api_token_cli = CommandGroup("api-token", help="Tokens of the JSON API (/api/v1).")


@api_token_cli.command("create")
@click.argument("name")
def create_command(name: str) -> None:
    """Make a token NAME; it is printed once, as the last word of the output."""
    with command_session({TokenNameTaken: f"a live token is already named {name!r} (revoke it first)",
                          ValueError: None}) as s:
        token = create(s, name)
    click.echo(f"API token {name!r} created; it is shown only this once, keep it secret: {token}")


@api_token_cli.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Revoke the token NAME: refused from its next request on."""
    with command_session({UnknownToken: f"no live token named {name!r}"}) as s:
        revoke(s, name)
    click.echo(f"API token {name!r} revoked")


@api_token_cli.command("list")
def list_command() -> None:
    """Every token's name, when it was made, last used and revoked (never the token)."""
    from core.clock import local

    def when(dt):
        return f"{local(dt):%Y-%m-%d %H:%M}" if dt else "-"

    with database().session() as s:
        rows = s.scalars(sa.select(ApiToken).order_by(ApiToken.id)).all()
    if not rows:
        click.echo("no API tokens")
    for row in rows:
        state = f"revoked {when(row.revoked_at)}" if row.revoked_at else "live"
        click.echo(f"{row.name}\tcreated {when(row.created_at)}\tlast used {when(row.last_used_at)}\t{state}")
