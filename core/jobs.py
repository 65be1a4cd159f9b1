"""Background jobs: RQ on Redis when `REDIS_URL` is set, else a thread in this process.

Jobs are plain module-level functions taking ids (see `intake/jobs.py`); they are idempotent,
so a retry never repeats an effect. Enqueue only after the data they read is committed.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from flask import Flask

from core.settings import Settings

log = logging.getLogger(__name__)


class Jobs:
    def __init__(self, app: Flask, settings: Settings):
        self.app = app
        self.intervals = list(settings.job_retry_intervals)
        self.redis = None
        self.queue = None
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[Future] = set()
        self._nudged: set[str] = set()
        self._lock = threading.Lock()
        if settings.redis_url:
            from redis import Redis
            from rq import Queue

            # Fail fast: a Redis outage must not hold the webhook past WeChat's 5 s.
            self.redis = Redis.from_url(settings.redis_url, socket_connect_timeout=1, socket_timeout=2)
            self.queue = Queue("default", connection=self.redis)

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
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs")
        future = self._executor.submit(self._run_inline, func, args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
        return True

    def nudge(self, func: Callable[[], Any], key: str) -> None:
        """Queue `func()` unless a run of it is already queued and not yet started: a push costs
        one Redis SET NX instead of a job. The job calls `started(key)` before it reads, so work
        committed before a skipped nudge is still seen by the queued run."""
        if self.queue is not None:
            from redis import RedisError

            try:
                if not self.redis.set(f"mashang:nudge:{key}", "1", nx=True, ex=60):
                    return
            except RedisError:
                log.exception("could not nudge %s; the periodic sweep will do it", key)
                return
            self.enqueue(func)
            return
        with self._lock:
            if key in self._nudged:
                return
            self._nudged.add(key)
        self.enqueue(func)

    def started(self, key: str) -> None:
        """Called by a nudged job as it starts: the next nudge queues a new run."""
        if self.queue is not None:
            self.redis.delete(f"mashang:nudge:{key}")
        else:
            with self._lock:
                self._nudged.discard(key)

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run_inline(self, func: Callable[..., Any], args: tuple) -> Any:
        with self.app.app_context():
            for attempt in range(len(self.intervals) + 1):
                try:
                    return func(*args)
                except Exception:
                    if attempt == len(self.intervals):
                        log.exception("job %s%r failed for good", func.__name__, args)
                        return None
                    log.warning("job %s%r failed; retry %d in %ss", func.__name__, args, attempt + 1,
                                self.intervals[attempt], exc_info=True)
                    time.sleep(self.intervals[attempt])

    def wait(self, timeout: float = 30) -> None:
        """Block until in-process jobs are done (tests and one-shot commands)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for f in pending:
                f.result(timeout=max(0.0, deadline - time.monotonic()))
