"""Staff side (巡察办 / 巡察组 / 被巡察单位 / 纪委监委): deployment files, the desk at /admin, and the
JSON API for integrations at /api/v1."""


def init_app(app) -> None:
    from admin import actions, audit_page, auth, case_page, entry, inbox, outbox_page, reply_templates, reveal_page  # noqa: F401
    from admin import campaigns_page, warnings_page  # noqa: F401
    from admin.deadlines import remind_due_handovers
    from admin.retention import purge_identities
    from admin.warnings import refresh_cards
    from admin.api import bp as api_bp
    from admin.blueprint import bp
    from admin.cli import deploy_cli, staff_cli
    from admin.tokens import api_token_cli

    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    app.cli.add_command(deploy_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(api_token_cli)
    jobs = app.extensions["jobs"]
    jobs.every("20 * * * *", remind_due_handovers)  # once per handover and reminder day
    jobs.every("25 * * * *", refresh_cards, 600)  # 红黄牌预警
    jobs.every("17 4 * * *", purge_identities)  # 保存期限: reporter identity of old closed cases
