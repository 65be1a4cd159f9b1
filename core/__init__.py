"""Shared infrastructure: settings, database, models, the case lifecycle, jobs, WeChat API client.
It imports no feature package (bot, intake, routing, admin): they register themselves.

Everything here is usable without Flask except `core.app` (the factory) and `core.cli`.
"""
