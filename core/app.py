"""The Flask app factory: settings → database → jobs → blueprints and commands."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from core.db import Database
from core.identity import IdentityVault
from core.jobs import Jobs
from core.ratelimit import RateLimiter
from core.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask("mashang", instance_path=str(settings.instance_path), root_path=str(Path(__file__).parent))
    app.config.update(SECRET_KEY=settings.secret_key, TESTING=settings.testing, JSON_AS_ASCII=False)
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app.extensions["settings"] = settings
    app.extensions["db"] = Database(settings.database_url)
    app.extensions["vault"] = IdentityVault(settings.identity_key)
    app.extensions["jobs"] = Jobs(app, settings)
    app.extensions["limiter"] = RateLimiter(app.extensions["jobs"].redis)
    app.teardown_appcontext(_close_session)

    from bot import bp as bot_bp
    from bot.cli import wechat_cli
    from admin.cli import deploy_cli
    from core.cli import db_cli, jobs_cli
    from intake.cli import drafts_cli, media_cli
    from routing.cli import routing_cli

    app.register_blueprint(bot_bp)
    for group in (db_cli, deploy_cli, jobs_cli, wechat_cli, media_cli, drafts_cli, routing_cli):
        app.cli.add_command(group)

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app


def settings() -> Settings:
    return current_app.extensions["settings"]


def vault() -> IdentityVault:
    return current_app.extensions["vault"]


def jobs() -> Jobs:
    return current_app.extensions["jobs"]


def wechat_api():
    """The WeChat API client of this process (token shared through Redis when there is one)."""
    api = current_app.extensions.get("wechat_api")
    if api is None:
        from core.wechat_api import WeChatApi

        cfg = settings()
        api = WeChatApi(cfg.wechat_appid, cfg.wechat_secret, cfg.wechat_api_base, redis=jobs().redis)
        current_app.extensions["wechat_api"] = api
    return api


def limiter() -> RateLimiter:
    return current_app.extensions["limiter"]


def database() -> Database:
    return current_app.extensions["db"]


def db_session() -> Session:
    """The session of the current request or app context, closed at teardown."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
