"""Direct connections (PostgreSQL): psycopg connections in autocommit, for the webhook's
one-statement writes (a piece, a scan, a plain-mode signature).

Why not the engine's pool and a cursor: a checkout and return through SQLAlchemy (the fairy, its
events, the reset on return, switching autocommit on and off) and psycopg's cursor (its
statement cache, row factory and result objects) cost a webhook thread more CPU than the
statement's own call to libpq (a cursor's INSERT 92 µs against libpq's 33 µs, in a loop). Here a statement goes to libpq as a prepared statement: its parameters
are adapted by psycopg's own `Transformer` (the same types a cursor would send) and its result
rows loaded by it, and nothing else. Each connection prepares a statement the first time it
runs it with those parameter types. The connections stay in autocommit and are handed out from
a plain list, newest first, so a quiet process reuses one connection and a busy one at most as
many as it has threads.

Connections die with the server (a restart, a failover): a statement that finds its connection
gone drops it and every idle one, since they are of the same age, and has the engine's pool renew
its own; the request fails (the webhook answers 503 and WeChat retries) and the next one
connects afresh. Connections are also renewed after `RECYCLE` seconds, as the engine's pool
does, and a forked process (gunicorn's workers) never uses its parent's.
"""
from __future__ import annotations

import os
import re
import threading
import time
from collections import namedtuple
from typing import Any, Callable

import psycopg
import sqlalchemy as sa
from psycopg import errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.pq import ConnStatus, ExecStatus

RECYCLE = 1800.0
_PARAMETER = re.compile(r"%\((\w+)\)s|%%")


class _Conn:
    """A connection and what it has prepared."""
    __slots__ = ("conn", "born", "tx", "prepared")

    def __init__(self, conn: Any, born: float):
        self.conn, self.born, self.tx = conn, born, Transformer.from_context(conn)
        self.prepared: dict[tuple, bytes] = {}  # (statement, parameter types) -> its name here


def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """A statement in psycopg's named paramstyle (what SQLAlchemy compiles `:name` to) as libpq's
    numbered `$n`, with the names in their order. A name used twice is one parameter; `%%` is a
    literal percent sign."""
    names: list[str] = []

    def number(m: re.Match) -> str:
        if m.group(1) is None:
            return "%"
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return _PARAMETER.sub(number, sql), tuple(names)


class DirectConnections:
    def __init__(self, engine: sa.Engine, keep: int = 8):
        url = engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._engine = engine
        self._dialect = engine.dialect
        self._keep = keep
        self._lock = threading.Lock()
        self._idle: list[_Conn] = []  # newest last
        self._statements: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._rows: dict[str, Callable] = {}  # statement -> its rows' named tuple
        self._pid = os.getpid()

    def run(self, sql: str, params: dict) -> tuple | None:
        """Execute one statement in autocommit and return its first row (None: no row)."""
        c = self._take()
        try:
            row = self._execute(c, sql, params)
        except psycopg.Error as exc:
            gone = (c.conn.broken or c.conn.pgconn.status != ConnStatus.OK
                    or self._dialect.is_disconnect(exc, c.conn, None))
            if gone:  # the server went away: so did the engine's own connections of that age
                self._drop_all()
                c.conn.close()
                self._engine.pool._invalidate(c.conn, exc, _checkin=False)
            else:
                self._give_back(c)
            raise sa.exc.DBAPIError.instance(sql, params, exc, psycopg.Error, hide_parameters=True,
                                             connection_invalidated=gone) from exc
        except BaseException:  # a parameter missing: the connection itself is fine
            self._give_back(c)
            raise
        self._give_back(c)
        return row

    def _execute(self, c: _Conn, sql: str, params: dict) -> tuple | None:
        text, names = self._statements.get(sql) or self._statements.setdefault(sql, _numbered(sql))
        values = [params[n] for n in names]
        encoded = c.tx.dump_sequence(values, [PyFormat.AUTO] * len(values))
        key = (sql, c.tx.types)
        name = c.prepared.get(key)
        pg = c.conn.pgconn
        if name is None:
            name = f"direct{len(c.prepared)}".encode()
            done = pg.prepare(name, text.encode(), c.tx.types)
            if done.status != ExecStatus.COMMAND_OK:
                raise errors.error_from_result(done, encoding=c.conn.info.encoding)
            c.prepared[key] = name
        res = pg.exec_prepared(name, encoded, c.tx.formats)
        if res.status not in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK):
            raise errors.error_from_result(res, encoding=c.conn.info.encoding)
        if res.status == ExecStatus.COMMAND_OK or not res.ntuples:
            return None
        maker = self._rows.get(sql) or self._rows.setdefault(sql, _row_maker(res))
        c.tx.set_pgresult(res)
        return c.tx.load_row(0, maker)

    def close(self) -> None:
        self._drop_all()

    def _take(self) -> _Conn:
        now = time.monotonic()
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours
                self._idle, self._pid = [], os.getpid()
            while self._idle:
                c = self._idle.pop()
                if now - c.born < RECYCLE and not c.conn.closed:
                    return c
                c.conn.close()
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, options="-c jit=off")
        except psycopg.Error as exc:
            raise sa.exc.DBAPIError.instance("connect", None, exc, psycopg.Error, hide_parameters=True,
                                             connection_invalidated=True) from exc
        return _Conn(conn, now)

    def _give_back(self, c: _Conn) -> None:
        with self._lock:
            if len(self._idle) < self._keep and self._pid == os.getpid():
                self._idle.append(c)
                return
        c.conn.close()

    def _drop_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.conn.close()


def _row_maker(res: Any) -> Callable:
    """Rows as named tuples (`row.qr_id`) of the result's columns."""
    return namedtuple("Row", [res.fname(i).decode() for i in range(res.nfields)], rename=True)._make
