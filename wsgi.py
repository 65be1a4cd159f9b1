"""WSGI entry: `gunicorn wsgi:app`. Flask's CLI finds it too (`flask ...` in this folder)."""
import gc

from product import create_app
from core.settings import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a missing secret outside development: one clear line, no traceback
    raise SystemExit(f"码上巡察 cannot start: {exc}") from None

# What the app made at start (modules, the router's model, the deployment) lives as long as the
# process: kept out of the cyclic garbage collector, whose full passes would otherwise walk it
# all (~0.1 s with every thread of the worker stopped, a spike in the webhook's p99).
gc.freeze()
