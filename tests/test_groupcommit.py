"""Group commit of the webhook's pieces (core.groupcommit) on PostgreSQL: rows written together
from many threads, each answered for its own row; duplicates and a bad row kept apart."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from core.groupcommit import GroupInsert

pytestmark = pytest.mark.needs_postgres


@pytest.fixture
def table(app):
    database = app.extensions["db"]
    if database.engine.dialect.name != "postgresql":
        pytest.skip("group commit is the PostgreSQL path (needs postgres)")
    with database.engine.begin() as c:
        c.execute(sa.text("CREATE TABLE grouped_rows (key varchar(8) PRIMARY KEY, body text)"))
    yield database
    with database.engine.begin() as c:
        c.execute(sa.text("DROP TABLE grouped_rows"))


def _run(threads: int, work) -> list:
    results: list = [None] * threads
    start = threading.Barrier(threads)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # kept to assert on
            results[i] = exc

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def _stored(database) -> dict[str, str]:
    with database.engine.connect() as c:
        return dict(c.execute(sa.text("SELECT key, body FROM grouped_rows")).all())


def test_rows_from_many_threads_are_each_stored_once_and_answered_for_themselves(table):
    group = GroupInsert(table, "grouped_rows", ("key", "body"), "key")
    # 40 threads, 20 keys: each key comes twice (a retry racing its first try).
    results = _run(40, lambda i: group.insert({"key": f"k{i % 20}", "body": f"from {i}"}))
    stored = _stored(table)
    assert sorted(stored) == sorted(f"k{i}" for i in range(20))
    for k in range(20):
        answers = [results[i] for i in (k, k + 20)]
        assert sorted(answers) == [False, True]  # one insert, one "already there"
        winner = (k, k + 20)[answers.index(True)]
        assert stored[f"k{k}"] == f"from {winner}"
    # A later retry finds the row.
    assert group.insert({"key": "k3", "body": "again"}) is False


def test_a_bad_row_fails_its_own_request_only(table):
    group = GroupInsert(table, "grouped_rows", ("key", "body"), "key")
    # key is varchar(8): thread 0's row is refused by the database, wherever it lands in a batch.
    results = _run(16, lambda i: group.insert({"key": "too-long-key" if i == 0 else f"r{i}", "body": "x"}))
    assert isinstance(results[0], sa.exc.DBAPIError)
    assert results[1:] == [True] * 15
    assert sorted(_stored(table)) == sorted(f"r{i}" for i in range(1, 16))


def test_a_batch_that_cannot_be_written_fails_every_request_in_it(table):
    """Rows queue behind a write that waits on a lock; the batch they form then fails for a reason
    that is not one row's (here a row without its body): each of them gets the error, none is
    told that its row was there already."""
    group = GroupInsert(table, "grouped_rows", ("key", "body"), "key")
    blocker = table.engine.connect()
    blocker.execute(sa.text("INSERT INTO grouped_rows (key, body) VALUES ('first', 'held')"))  # not committed
    results: dict[int, object] = {}

    def insert(i: int, row: dict) -> None:
        try:
            results[i] = group.insert(row)
        except Exception as exc:  # kept to assert on
            results[i] = exc

    leader = threading.Thread(target=insert, args=(0, {"key": "first", "body": "x"}))
    leader.start()
    while not group._leading:  # the leader is writing, blocked by the uncommitted row
        time.sleep(0.001)
    followers = [threading.Thread(target=insert, args=(i, {"key": f"q{i}", "body": "x"} if i != 2 else {"key": "q2"}))
                 for i in (1, 2, 3)]
    for t in followers:
        t.start()
    while len(group._queue) < 3:
        time.sleep(0.01)
    blocker.rollback()
    blocker.close()
    for t in [leader, *followers]:
        t.join()
    assert results[0] is True
    assert all(isinstance(results[i], KeyError) for i in (1, 2, 3)), results
    assert sorted(_stored(table)) == ["first"]
