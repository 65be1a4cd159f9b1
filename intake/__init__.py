"""Intake (受理): drafts, submission, tracking numbers and query codes, media jobs.

Channel-neutral services: the WeChat bot and the mobile page both call these.
"""
