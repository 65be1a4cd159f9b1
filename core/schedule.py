"""Periodic jobs, as data: (function, cron expression, timeout in seconds or None for RQ's 180).
Run by `flask jobs cron` (RQ's cron)."""
from intake.jobs import purge_inbound, purge_orphan_media, requeue_pending_media, sweep_drafts
from routing.jobs import requeue_unrouted, retrain_if_changed

PERIODIC = [
    (requeue_pending_media, "*/5 * * * *", None),
    (requeue_unrouted, "*/10 * * * *", None),
    (sweep_drafts, "*/30 * * * *", None),
    (purge_inbound, "17 * * * *", None),
    (purge_orphan_media, "43 3 * * *", None),
    # Staff corrections and imported history teach the next model; a big history trains for
    # minutes (50,000 rows: ~8), far past RQ's default timeout.
    (retrain_if_changed, "30 2 * * *", 3 * 3600),
]
