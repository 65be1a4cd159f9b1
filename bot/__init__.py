"""The WeChat Official Account bot: webhook, conversation, chat simulator."""
from flask import Flask


def init_app(app: Flask) -> None:
    from bot.cli import wechat_cli
    from bot.webhook import Webhook

    app.wsgi_app = Webhook(app, app.wsgi_app)  # `/wechat`, ahead of Flask's routing
    app.cli.add_command(wechat_cli)
