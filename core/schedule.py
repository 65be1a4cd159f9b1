"""Periodic jobs, as data: (function, cron expression). Run by `flask jobs cron` (RQ's cron)."""
from intake.jobs import purge_inbound, purge_orphan_media, requeue_pending_media, sweep_drafts
from routing.jobs import requeue_unrouted, retrain_if_corrected

PERIODIC = [
    (requeue_pending_media, "*/5 * * * *"),
    (requeue_unrouted, "*/10 * * * *"),
    (sweep_drafts, "*/30 * * * *"),
    (purge_inbound, "17 * * * *"),
    (purge_orphan_media, "43 3 * * *"),
    (retrain_if_corrected, "30 2 * * *"),  # staff corrections of the day teach the next model
]
