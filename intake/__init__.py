"""Intake (受理): drafts, submission, tracking numbers and query codes, media jobs.

Channel-neutral services: the WeChat bot, the mobile page and the staff entry all call these.
"""


def init_app(app) -> None:
    from intake.cli import drafts_cli, media_cli
    from intake.delivery import reap
    from intake.jobs import purge_orphan_media, purge_pushes, requeue_pending_media, sweep_drafts
    from intake.survey_page import bp as survey_bp

    from intake.page import bp as mobile_page

    app.register_blueprint(mobile_page)  # the mobile page, /r/
    app.register_blueprint(survey_bp)
    app.cli.add_command(media_cli)
    app.cli.add_command(drafts_cli)
    jobs = app.extensions["jobs"]
    jobs.every("*/5 * * * *", requeue_pending_media)
    jobs.every("*/30 * * * *", sweep_drafts)
    jobs.every("*/5 * * * *", purge_pushes)
    jobs.every("43 3 * * *", purge_orphan_media)
    jobs.every("* * * * *", reap)  # the outbox: claims and attempts dead workers left
