"""Duplicate clusters as staff see them: which reports are linked as one issue (the first report
submitted is the cluster's), and the priority that rises with it. The negatives (another unit,
older than the window, unrelated text) and routing jobs that run at once or out of order."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.db import utcnow
from core.models import Case

WATER = "白沙村自来水停了半个月，一直没人管"
WATER_AGAIN = "白沙村停水半个月了，自来水一直不来"
WATER_THIRD = "我们白沙村自来水半个月没来了"


def submitted(db, text: str, days_ago: float = 0) -> int:
    """A case as the desk enters one (no poster: routing finds the unit named in the text)."""
    case = Case(channel="visit", text=text, summary=text, status="received",
                created_at=utcnow() - timedelta(days=days_ago))
    db.add(case)
    db.commit()
    return case.id


def route(app, *case_ids: int) -> None:
    from routing.jobs import route_case

    with app.app_context():
        for case_id in case_ids:
            route_case(case_id)


def seen(db, *case_ids: int) -> list[tuple[int | None, int]]:
    """(cluster, priority) of each case, as the desk shows them."""
    db.expire_all()
    return [(c.cluster_id, c.priority) for c in (db.get(Case, i) for i in case_ids)]


def test_the_same_issue_in_one_unit_within_the_window_is_one_cluster(app, db):
    old, new = submitted(db, WATER, days_ago=29), submitted(db, WATER_AGAIN)
    route(app, old, new)
    assert seen(db, old, new) == [(None, 1), (old, 1)]  # two reports of one issue: +1 for both
    assert db.get(Case, new).evidence["cluster"]["size"] == 2


def test_the_same_words_about_another_unit_are_not_a_duplicate(app, db):
    baisha, shimen = submitted(db, WATER), submitted(db, WATER.replace("白沙村", "石门村"))
    route(app, baisha, shimen)
    db.expire_all()
    assert (db.get(Case, baisha).unit.path, db.get(Case, shimen).unit.path) == ("青石镇/白沙村", "柳溪镇/石门村")
    assert seen(db, baisha, shimen) == [(None, 0), (None, 0)]


@pytest.mark.parametrize("order", ["old first", "new first"])
def test_a_report_older_than_the_window_is_not_a_duplicate(app, db, order):
    old, new = submitted(db, WATER, days_ago=31), submitted(db, WATER_AGAIN)
    route(app, *((old, new) if order == "old first" else (new, old)))
    assert seen(db, old, new) == [(None, 0), (None, 0)]
    assert "cluster" not in db.get(Case, new).evidence and "cluster" not in db.get(Case, old).evidence


def test_an_unrelated_report_in_the_same_unit_is_not_a_duplicate(app, db):
    water, lights = submitted(db, WATER), submitted(db, "白沙村的路灯坏了三个月，晚上出行很不方便")
    route(app, water, lights)
    db.expire_all()
    assert db.get(Case, water).unit_id == db.get(Case, lights).unit_id
    assert seen(db, water, lights) == [(None, 0), (None, 0)]


def test_a_late_routing_job_joins_the_reports_routed_before_it(app, db):
    """The first report's job was lost and queued again after the later ones were routed: the
    cluster is the same as if the jobs had run in order."""
    first, second, third = submitted(db, WATER, days_ago=2), submitted(db, WATER_AGAIN, 1), submitted(db, WATER_THIRD)
    route(app, second, third, first)
    assert seen(db, first, second, third) == [(None, 2), (first, 2), (first, 2)]
    assert db.get(Case, first).evidence["cluster"]["size"] == 3


@pytest.mark.parametrize("slow", ["first submitted", "second submitted"])
def test_two_routing_jobs_at_once_end_in_one_cluster(app, db, monkeypatch, slow):
    """Two workers route two reports of one issue at the same moment: one job has looked for
    its cluster and is still inside its transaction while the other job looks for its own
    (or, as it should, waits for the first to commit: then the first goes on after a second)."""
    import routing.service

    first, second = submitted(db, WATER, days_ago=1), submitted(db, WATER_AGAIN)
    leader, follower = (first, second) if slow == "first submitted" else (second, first)
    inside, follower_looked, real = threading.Event(), threading.Event(), routing.service.find_cluster

    def held(s, case):
        found = real(s, case)
        if case.id == leader:
            inside.set()
            # Up to a second for the other job, polled with sleep: under libfaketime (the CI pass
            # on a moved clock) a timed wait that has to run out never does, sleep is fine.
            for _ in range(20):
                if follower_looked.is_set():
                    break
                time.sleep(0.05)
        else:
            follower_looked.set()
        return found

    monkeypatch.setattr(routing.service, "find_cluster", held)
    errors: list[BaseException] = []

    def job(case_id: int, after: threading.Event | None) -> None:
        try:
            if after is not None:
                assert after.wait(10)
            route(app, case_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(leader, None)), threading.Thread(target=job, args=(follower, inside))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert seen(db, first, second) == [(None, 1), (first, 1)]


def test_three_routing_jobs_at_once_end_in_one_cluster(app, db):
    ids = [submitted(db, WATER, days_ago=2), submitted(db, WATER_AGAIN, 1), submitted(db, WATER_THIRD)]
    start, errors = threading.Barrier(3), []

    def job(case_id: int) -> None:
        try:
            start.wait()
            route(app, case_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert seen(db, *ids) == [(None, 2), (ids[0], 2), (ids[0], 2)]
    assert db.scalar(sa.select(sa.func.count()).select_from(Case).where(Case.cluster_id == ids[0])) == 2
