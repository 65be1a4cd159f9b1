"""The Flask app factory of the shared infrastructure: settings → database → jobs → the features.

Core knows no feature package: `create_app` takes the features (modules with `init_app(app)`)
from its caller, `product.create_app`, which is the one place that composes the product.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from flask import Flask, current_app, g
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.orm import Session

from core.db import Database
from core.files import make_private
from core.identity import IdentityVault
from core.jobs import Jobs
from core.ratelimit import RateLimiter, limiter_secret, purge_rate_counters
from core.settings import NOT_DEPLOYED, Settings


def create_app(settings: Settings | None = None, features: Iterable[ModuleType] = ()) -> Flask:
    """The app on `settings` with each feature's `init_app(app)` called in order (blueprints,
    commands, periodic jobs: `jobs().every(...)`)."""
    settings = settings or Settings.from_env()
    app = Flask("mashang", instance_path=str(settings.instance_path), root_path=str(Path(__file__).parent))
    app.config.update(SECRET_KEY=settings.secret_key, TESTING=settings.testing,
                      # The session cookie (the desk's login, forms' CSRF tokens): never read by
                      # scripts, not sent on other sites' posts, HTTPS only once deployed.
                      SESSION_COOKIE_NAME="mashang_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.env not in NOT_DEPLOYED)
    app.session_interface = _CookielessFirst()
    if settings.trusted_proxies:  # else every villager behind nginx is 127.0.0.1 to the limits
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)
    app.json.ensure_ascii = False  # JSON answers keep Chinese readable (no \u escapes)
    make_private(settings)  # umask 077; instance/ and the media folder 0700, a SQLite file 0600
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    app.extensions["settings"] = settings
    app.extensions["db"] = Database(settings.database_url)
    app.extensions["vault"] = IdentityVault(settings.identity_key)
    app.extensions["jobs"] = Jobs(app, settings)
    app.extensions["limiter"] = RateLimiter(limiter_secret(settings.secret_key), app.extensions["db"].engine,
                                            app.extensions["jobs"].redis)
    # Every session knows the product it belongs to (`of_session`): services called outside a
    # request (jobs, commands, tests) reach its settings and jobs without Flask's context.
    app.extensions["db"].sessionmaker.configure(info={PRODUCT: app})
    app.teardown_appcontext(_close_session)

    from core.cli import db_cli, jobs_cli

    app.cli.add_command(db_cli)
    app.cli.add_command(jobs_cli)
    app.extensions["jobs"].every("7 * * * *", purge_rate_counters)
    for feature in features:
        feature.init_app(app)

    @app.get("/healthz")
    def healthz():
        return {"ok": True}

    return app


class _CookielessFirst(SecureCookieSessionInterface):
    """A request without the session cookie (a villager's first visit, a script) gets
    an empty session at once; Flask would build the cookie's signer first. Saving is unchanged:
    a session that is written still gets its signed cookie."""

    def open_session(self, app, request):
        if ("HTTP_COOKIE" not in request.environ  # no cookies at all: not even parsed
                or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)


PRODUCT = "mashang.app"


def of_session(s: Session) -> Flask:
    """The app whose database made session `s` (else the current one)."""
    return s.info.get(PRODUCT) or current_app._get_current_object()


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
