"""`flask deploy load FILE`."""
from __future__ import annotations

import click
import yaml

from admin.deploy import DeploymentError, load_deployment
from core.cli import CommandGroup, command_session

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
    with command_session({DeploymentError: lambda exc: f"{path}: {exc}"}) as s:
        report = load_deployment(s, data)
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
    with command_session({UnknownLogin: f"no staff account {login!r} (flask deploy load FILE first)",
                          PasswordTooShort: None}) as s:
        set_password(s, login, password)
    click.echo(f"password set for {login}")
