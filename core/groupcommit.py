"""Group commit (PostgreSQL): rows that request threads of one process insert at the same moment
go to the database together, as one multi-row statement in one transaction, each thread still
answering only once its own row is durable.

Why: storing every push durably before answering costs a commit (a WAL flush) and a round trip
per push, as much as everything else the webhook does. Under load, pushes arrive while one is
being written; writing them together costs about what one costs. When the webhook is idle a push
is written at once (no timer, no added wait): the first thread to arrive leads and writes what is
waiting, including its own row; threads arriving meanwhile queue, and when the write returns the
first of them leads the next one. A leader writes one batch and hands over, so no request waits
for rows that came after it. A thread that finds nobody writing writes its row at once, at the
cost of a plain INSERT (nothing queued, nothing to wake).

A failed batch is retried row by row, so that one bad row fails its own request only; when the
database is gone every row of the batch fails (the webhook answers 503 and WeChat retries).
"""
from __future__ import annotations

import threading
from typing import Any, Sequence

import sqlalchemy as sa

from core.db import Database


class _Waiter:
    """A queued row. Its lock is held from the start and released to wake the thread waiting on
    it (a lock is the cheapest one-shot signal; an Event builds a Condition)."""
    __slots__ = ("row", "wake", "leads", "inserted", "error")

    def __init__(self, row: dict[str, Any]):
        self.row = row
        self.wake = threading.Lock()
        self.wake.acquire()
        self.leads = False
        self.inserted = False
        self.error: BaseException | None = None


class GroupInsert:
    """`INSERT INTO table (columns) VALUES ... ON CONFLICT (key) DO NOTHING RETURNING key`, for
    rows coming from many threads. `insert(row)` returns True when the row was new."""

    def __init__(self, db: Database, table: str, columns: Sequence[str], key: str, max_rows: int = 64):
        self.db, self.table, self.columns, self.key, self.max_rows = db, table, tuple(columns), key, max_rows
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._leading = False  # False: nobody writes, and nobody waits
        self._single = sa.text(self._sql(1, named=True))
        self._many: dict[int, str] = {}

    def _sql(self, n: int, named: bool = False) -> str:
        cols = ", ".join(self.columns)
        one = "(" + ", ".join(f":{c}" if named else "%s" for c in self.columns) + ")"
        return (f"INSERT INTO {self.table} ({cols}) VALUES {', '.join([one] * n)} "
                f"ON CONFLICT ({self.key}) DO NOTHING RETURNING {self.key}")

    def insert(self, row: dict[str, Any]) -> bool:
        with self._lock:
            alone = not self._leading
            self._leading = True
            me = None if alone else _Waiter(row)
            if me is not None:
                self._queue.append(me)
        if alone:  # the usual case when the webhook is not busy: a batch of one, written at once
            try:
                return self._insert_one(row)
            finally:
                self._hand_over()
        me.wake.acquire()  # released when our row is written, or when we are to lead the next batch
        if me.leads:
            self._lead()
        if me.error is not None:
            raise me.error
        return me.inserted

    def _insert_one(self, row: dict[str, Any]) -> bool:
        return self.db.autocommit_row(self._single, row) is not None

    def _hand_over(self) -> None:
        """The write is done: the first thread that queued meanwhile leads the next batch."""
        with self._lock:
            if self._queue:
                nxt = self._queue[0]
                nxt.leads = True
                nxt.wake.release()
            else:
                self._leading = False

    def _lead(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:self.max_rows], self._queue[self.max_rows:]
        try:
            self._write(batch)
        except BaseException as exc:  # not the database's refusal (that is per row): all fail
            for w in batch:
                w.error = exc
        finally:
            self._hand_over()
            for w in batch[1:]:  # the first is this thread
                w.wake.release()

    def _write(self, batch: list[_Waiter]) -> None:
        first: dict[Any, _Waiter] = {}
        for w in batch:  # a retry that came with its first try: the first one inserts
            first.setdefault(w.row[self.key], w)
        rows = list(first.values())
        try:
            if len(rows) == 1:
                new = {rows[0].row[self.key]} if self._insert_one(rows[0].row) else set()
            else:
                sql = self._many.get(len(rows)) or self._many.setdefault(len(rows), self._sql(len(rows)))
                params = [w.row[c] for w in rows for c in self.columns]
                new = {r[0] for r in self.db.autocommit_rows(sql, params)}
        except sa.exc.DBAPIError as exc:
            if len(rows) == 1 or exc.connection_invalidated:
                for w in batch:
                    w.error = exc
                return
            for w in rows:  # one bad row must not fail the others
                try:
                    w.inserted = self._insert_one(w.row)
                except sa.exc.DBAPIError as one:
                    w.error = one
            return
        for w in rows:
            w.inserted = w.row[self.key] in new
