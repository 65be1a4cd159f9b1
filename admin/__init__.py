"""Staff side (巡察办 / 巡察组 / 被巡察单位 / 纪委监委): deployment files and the desk at /admin."""


def init_app(app) -> None:
    from admin import audit_page, auth, case_page, inbox, reveal_page  # noqa: F401  (their routes join the blueprint)
    from admin.blueprint import bp
    from admin.cli import deploy_cli, staff_cli

    app.register_blueprint(bp)
    app.cli.add_command(deploy_cli)
    app.cli.add_command(staff_cli)
