"""Background jobs: RQ on Redis when `REDIS_URL` is set, else a thread in this process.

Jobs are plain module-level functions taking ids (see `intake/jobs.py`); they are idempotent,
so a retry never repeats an effect. Enqueue only after the data they read is committed.
In-process, a retry waits on a timer, not in the job thread, so one failing job does not hold
up the others; the thread is a daemon, so it never holds up shutdown.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable

from flask import Flask

from core.settings import Settings

log = logging.getLogger(__name__)

NUDGE_WINDOW = 0.2  # seconds


class Jobs:
    def __init__(self, app: Flask, settings: Settings):
        self.app = app
        self.intervals = list(settings.job_retry_intervals)
        self.redis = None
        self.queue = None
        self._inbox: queue.Queue | None = None
        self._outstanding = 0  # queued, running or waiting for a retry (in-process)
        self._idle = threading.Condition()
        self._nudged: set[str] = set()
        self._nudge_until: dict[str, float] = {}  # with Redis: no SET for this key before then
        self._trailing: set[str] = set()  # keys with a nudge due when their window ends
        # Periodic jobs, as data: (function, cron expression, timeout in seconds or None for
        # RQ's 180), registered by each feature's init_app; run by `flask jobs cron`.
        self.periodic: list[tuple[Callable[[], Any], str, int | None]] = []
        if settings.redis_url:
            from redis import Redis
            from rq import Queue

            # Fail fast: a Redis outage must not hold the webhook past WeChat's 5 s.
            self.redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
            self.queue = Queue("default", connection=self.redis)

    def every(self, cron: str, func: Callable[[], Any], timeout: int | None = None) -> None:
        """Run `func()` on the cron expression (`flask jobs cron`: RQ's cron with Redis)."""
        self.periodic.append((func, cron, timeout))

    @property
    def in_process(self) -> bool:
        return self.queue is None

    def enqueue(self, func: Callable[..., Any], *args: Any, job_id: str | None = None) -> bool:
        """Queue `func(*args)`. Returns False (and logs) if the queue is unreachable; callers keep
        enough state (e.g. an attachment still `pending`) for a sweep to enqueue it again."""
        if self.queue is not None:
            from redis import RedisError
            from rq import Retry

            try:
                self.queue.enqueue(func, *args, job_id=job_id, retry=Retry(max=len(self.intervals),
                                                                          interval=self.intervals))
                return True
            except RedisError:
                log.exception("could not enqueue %s%r; a sweep will retry it", func.__name__, args)
                return False
        with self._idle:
            self._outstanding += 1
        self._put((func, args, 0))
        return True

    def after_commit(self, session, func: Callable[..., Any], *args: Any, job_id: str | None = None) -> None:
        """Enqueue `func(*args)` once `session` commits what the job will read (never before)."""
        from sqlalchemy import event

        event.listen(session, "after_commit", lambda _s: self.enqueue(func, *args, job_id=job_id), once=True)

    def nudge(self, func: Callable[[], Any], key: str) -> None:
        """Queue `func()` unless a run of it is already queued and not yet started. The job calls
        `started(key)` before it reads, so work committed before a skipped nudge is still seen by
        the queued run. With Redis a nudge is one SET NX, and a process makes at most one per
        `NUDGE_WINDOW` for a key: a nudge inside the window is carried by one made when the
        window ends (after the caller's commit), so no work waits longer than that."""
        if self.queue is None:
            with self._idle:
                if key in self._nudged:
                    return
                self._nudged.add(key)
            self.enqueue(func)
            return
        now = time.monotonic()
        with self._idle:
            until = self._nudge_until.get(key, 0.0)
            if now < until:
                if key not in self._trailing:
                    self._trailing.add(key)
                    timer = threading.Timer(until - now, self._nudge_trailing, (func, key))
                    timer.daemon = True
                    timer.start()
                return
            self._nudge_until[key] = now + NUDGE_WINDOW
        self._nudge_redis(func, key)

    def _nudge_trailing(self, func: Callable[[], Any], key: str) -> None:
        with self._idle:
            self._trailing.discard(key)
            self._nudge_until[key] = time.monotonic() + NUDGE_WINDOW
        self._nudge_redis(func, key)

    def _nudge_redis(self, func: Callable[[], Any], key: str) -> None:
        from redis import RedisError

        try:
            if not self.redis.set(f"mashang:nudge:{key}", "1", nx=True, ex=60):
                return
        except RedisError:
            log.exception("could not nudge %s; the periodic sweep will do it", key)
            return
        self.enqueue(func)

    def started(self, key: str) -> None:
        """Called by a nudged job as it starts: the next nudge queues a new run."""
        if self.queue is not None:
            self.redis.delete(f"mashang:nudge:{key}")
        else:
            with self._idle:
                self._nudged.discard(key)

    def wait(self, timeout: float = 30) -> None:
        """Block until in-process jobs (and their retries) are done: tests, one-shot commands."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._outstanding:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._outstanding} job(s) still running")
                self._idle.wait(left)

    # --- in-process runner ----------------------------------------------------------------

    def _put(self, item: tuple) -> None:
        if self._inbox is None:
            with self._idle:
                if self._inbox is None:
                    self._inbox = queue.Queue()
                    threading.Thread(target=self._work, name="jobs", daemon=True).start()
        self._inbox.put(item)

    def _work(self) -> None:
        while True:
            func, args, attempt = self._inbox.get()
            retry_in = None
            with self.app.app_context():
                try:
                    func(*args)
                except Exception:
                    if attempt < len(self.intervals):
                        retry_in = self.intervals[attempt]
                        log.warning("job %s%r failed; retry %d in %ss", func.__name__, args, attempt + 1,
                                    retry_in, exc_info=True)
                    else:
                        log.exception("job %s%r failed for good", func.__name__, args)
            if retry_in is None:
                self._done()
            elif retry_in <= 0:
                self._inbox.put((func, args, attempt + 1))
            else:
                timer = threading.Timer(retry_in, self._inbox.put, [(func, args, attempt + 1)])
                timer.daemon = True
                timer.start()

    def _done(self) -> None:
        with self._idle:
            self._outstanding -= 1
            self._idle.notify_all()
