"""Engine and sessions. Usable without Flask (routing, jobs, CLI); `core.app` binds it to requests."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.direct import DirectConnections

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)


def one_of(column: str, values) -> str:
    """A CHECK constraint's text: `column` holds one of an enum's values."""
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 15, "check_same_thread": False},
                                  hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # WAL lets the job thread write beside requests
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Deleted rows are overwritten, not left in free pages (a submitted draft's pieces).
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        return engine
    # No pre-ping: it costs a round trip per request. A connection that died with the server
    # fails its request (503, WeChat retries) and the pool drops every connection of that age.
    # hide_parameters: an error logged must not carry a report's text or a hashed openid.
    # jit=off: PostgreSQL compiles any statement its planner costs high (the desk's inbox over a
    # million cases), which takes 15-20 ms and saves less on queries that read a page of rows.
    return sa.create_engine(url, pool_size=8, max_overflow=8, pool_recycle=1800,
                            hide_parameters=True, connect_args={"options": "-c jit=off"})


class Database:
    """One engine and its session factory, made once per process by the app factory or worker."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self._compiled: dict[sa.TextClause, str] = {}
        # The webhook's one-statement writes bypass the engine's pool (PostgreSQL only).
        self._direct = DirectConnections(self.engine) if self.engine.dialect.name == "postgresql" else None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for a job or a command: committed by the caller, always closed."""
        with self.sessionmaker() as s:
            try:
                yield s
            except BaseException:
                s.rollback()
                raise

    def autocommit_row(self, stmt: sa.TextClause, params: dict) -> tuple | None:
        """Run one statement in autocommit straight on the driver (PostgreSQL only) and return its
        first row: the webhook's hot path, where SQLAlchemy's execution layer costs as much as
        the round trip. The statement is compiled once to the driver's paramstyle."""
        sql = self._compiled.get(stmt)
        if sql is None:
            sql = self._compiled[stmt] = str(stmt.compile(dialect=self.engine.dialect))
        return self._direct.run(sql, params)

    def commit_then(self, conn: sa.Connection, action: Callable[[], None]) -> None:
        """Commit `conn`'s transaction and run `action` the moment the COMMIT has been written
        to PostgreSQL, before its answer is read; then wait for that answer (raising if the commit
        failed). A process that dies in between leaves the commit done or not, and `action` done
        or not, with only `action`'s own few writes between the two (`intake.delivery`). On
        SQLite: commit, then `action`."""
        if self.engine.dialect.name != "postgresql":
            conn.commit()
            action()
            return
        from psycopg import generators
        from psycopg.pq import ExecStatus

        dbapi = conn.connection.driver_connection
        pg = dbapi.pgconn
        try:
            with dbapi.lock:
                pg.send_query(b"COMMIT")
                dbapi.wait(generators.send(pg))
                try:
                    action()
                finally:
                    results = dbapi.wait(generators.fetch_many(pg))
        except self.engine.dialect.loaded_dbapi.Error as exc:
            conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance("COMMIT", None, exc, self.engine.dialect.loaded_dbapi.Error,
                                             hide_parameters=True, connection_invalidated=True) from exc
        failed = [r for r in results if r.status != ExecStatus.COMMAND_OK or r.command_status != b"COMMIT"]
        if failed:
            message = failed[0].error_message.decode(errors="replace").strip()
            conn.invalidate()
            raise sa.exc.OperationalError("COMMIT", None, RuntimeError(message or "COMMIT failed"))
        conn.commit()  # the driver sees no transaction left and sends nothing; SQLAlchemy's ends

    def dispose(self) -> None:
        if self._direct is not None:
            self._direct.close()
        self.engine.dispose()
