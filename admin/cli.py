"""`flask deploy load FILE`."""
from __future__ import annotations

import click
import yaml

from admin.deploy import DeploymentError, load_deployment
from core.app import database
from core.cli import CommandGroup

deploy_cli = CommandGroup("deploy", help="Rounds, groups, units and QR codes from a deployment file.")


@deploy_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def deploy_load(path: str) -> None:
    """Load a deployment file (idempotent: loading it twice changes nothing)."""
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise click.ClickException(f"{path} is not valid YAML: {exc}") from None
    with database().session() as s:
        try:
            report = load_deployment(s, data)
        except DeploymentError as exc:
            raise click.ClickException(f"{path}: {exc}") from None
        s.commit()
    click.echo(f"{path}: {report}")


staff_cli = CommandGroup("staff", help="Staff accounts of the desk.")


@staff_cli.command("password")
@click.argument("login")
def staff_password(login: str) -> None:
    """Set LOGIN's password: asked twice on a terminal, else read from standard input
    (`echo 'pw' | flask staff password li`). The account's open sessions end."""
    import sys

    from admin.accounts import PasswordTooShort, UnknownLogin, set_password

    if sys.stdin.isatty():
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    with database().session() as s:
        try:
            set_password(s, login, password)
        except UnknownLogin:
            raise click.ClickException(f"no staff account {login!r} (flask deploy load FILE first)") from None
        except PasswordTooShort as exc:
            raise click.ClickException(str(exc)) from None
        s.commit()
    click.echo(f"password set for {login}")
