"""The product, composed: the shared infrastructure (`core`) with its feature packages.

The one module that imports every package; only `wsgi.py`, the tests and the benchmarks import
it. The direction of imports below it (README, "Layout"; checked by tests/test_layering.py):
bot, admin → intake → routing → core.
"""
from __future__ import annotations

from flask import Flask

import admin
import bot
import intake
import routing
from core.app import create_app as create_core_app
from core.settings import Settings

FEATURES = (bot, intake, routing, admin)


def create_app(settings: Settings | None = None) -> Flask:
    return create_core_app(settings, FEATURES)
