"""The WeChat Official Account bot: webhook, conversation, chat simulator."""
from flask import Blueprint

bp = Blueprint("bot", __name__)

from bot import webhook  # noqa: E402,F401  (registers the routes)
