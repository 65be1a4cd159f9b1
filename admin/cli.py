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
