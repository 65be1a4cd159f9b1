"""Shared infrastructure: settings, database, models, jobs, WeChat API client.

Everything here is usable without Flask except `core.app` (the factory) and `core.cli`.
"""
