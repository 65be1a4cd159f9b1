"""Staff side (巡察办 / 巡察组): set-up of rounds from a deployment file; the desk comes later."""


def init_app(app) -> None:
    from admin.cli import deploy_cli

    app.cli.add_command(deploy_cli)
