"""The WeChat Official Account bot: webhook, conversation, chat simulator."""
from flask import Blueprint, Flask

bp = Blueprint("bot", __name__)

from bot import webhook  # noqa: E402,F401  (registers the routes)


def init_app(app: Flask) -> None:
    from bot.cli import wechat_cli

    app.register_blueprint(bp)
    app.cli.add_command(wechat_cli)
