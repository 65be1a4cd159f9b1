"""WSGI entry: `gunicorn wsgi:app`. Flask's CLI finds it too (`flask ...` in this folder)."""
from product import create_app
from core.settings import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a missing secret outside development: one clear line, no traceback
    raise SystemExit(f"码上巡察 cannot start: {exc}") from None
