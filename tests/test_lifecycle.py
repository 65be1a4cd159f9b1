"""A case's life (core.lifecycle): every allowed move, every refused one, the database's own
check, cases opened from any channel, routing that leaves a person's decision alone, and the
citizen's view (public steps and the latest reply, never an internal note)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from core import lifecycle
from core.lifecycle import SYSTEM, TRANSITIONS, Actor, TransitionError
from core.models import Case, CaseEvent, CaseStatus, Group, Staff
from intake.cases import NewCase, open_case
from tests.replies import tracking_no

ALL = list(CaseStatus)


def _staff(db, login: str) -> Staff:
    return db.scalar(sa.select(Staff).where(Staff.login == login))


def _case(db, app, text: str = "白沙村的路灯坏了三个月，晚上出行很不方便", **kw) -> Case:
    sub = open_case(db, NewCase(channel=kw.pop("channel", "letter"), texts=[text], **kw),
                    app.extensions["vault"], app.extensions["jobs"])
    return sub.case


def test_every_allowed_move_is_made_and_every_other_refused(app, db):
    """All 13 × 12 pairs of statuses: the allowed ones move the case and write one event with
    who, from and to; the others raise and leave the case and its history as they were."""
    zhang = _staff(db, "zhang")
    case = _case(db, app)
    db.flush()
    allowed = refused = 0
    for frm in ALL:
        for to in ALL:
            if to == frm:
                continue
            case.status = frm.value  # the test places the case; only `move` writes history
            before = db.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case.id))
            if to in TRANSITIONS[frm]:
                event = lifecycle.move(db, case, to, Actor.staff(zhang.id), "test", note=f"{frm.value}→{to.value}")
                db.flush()
                assert case.status == to.value
                assert (event.from_status, event.to_status, event.actor, event.staff_id) == (
                    frm.value, to.value, "staff", zhang.id)
                allowed += 1
            else:
                with pytest.raises(TransitionError):
                    lifecycle.move(db, case, to, SYSTEM, "test")
                db.flush()
                assert case.status == frm.value
                assert db.scalar(sa.select(sa.func.count()).select_from(CaseEvent)
                                 .where(CaseEvent.case_id == case.id)) == before
                refused += 1
    assert allowed == sum(len(v) for v in TRANSITIONS.values()) and allowed + refused == 13 * 12
    db.commit()


def test_the_lifecycle_is_whole():
    """Every status is a key, every status but received can be reached, and from everywhere but a
    merged case some way leads to an end (closed or rated)."""
    assert set(TRANSITIONS) == set(ALL)
    reached, todo = {CaseStatus.received}, [CaseStatus.received]
    while todo:
        for nxt in TRANSITIONS[todo.pop()] - reached:
            reached.add(nxt)
            todo.append(nxt)
    assert reached == set(ALL)
    for status in set(ALL) - {CaseStatus.merged}:
        seen, todo = {status}, [status]
        while todo:
            for nxt in TRANSITIONS[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        assert seen & {CaseStatus.closed, CaseStatus.rated}, status
    # The design's main road.
    for frm, to in [("received", "assigned"), ("assigned", "handed_over"), ("handed_over", "replied"),
                    ("replied", "closed"), ("closed", "rated"), ("rated", "reopened"), ("received", "merged")]:
        assert lifecycle.allowed(frm, to), (frm, to)
    assert not lifecycle.allowed("merged", "replied") and not lifecycle.allowed("closed", "handed_over")


def test_the_database_refuses_an_unknown_status_and_role(app, db):
    case = _case(db, app)
    db.commit()
    with pytest.raises(sa.exc.IntegrityError):
        db.execute(sa.update(Case).where(Case.id == case.id).values(status="done"))
        db.flush()
    db.rollback()
    with pytest.raises(sa.exc.IntegrityError):
        db.add(Staff(login="x", name="某人", role="liaison"))  # the file's word, not a Role
        db.flush()
    db.rollback()


def test_a_letter_entered_by_staff_is_a_case_like_any_other(app, db, run_jobs):
    """The staff entry of a letter: a tracking number, the staff member as its first actor, the
    channel in the citizen's timeline, and routing queued by opening it."""
    li = _staff(db, "li")
    case = _case(db, app, "早禾田村的灌溉水渠垮了一段，春耕用水成问题", actor=Actor.staff(li.id), channel="letter")
    db.commit()
    assert re.fullmatch(r"XC\d{6}\d{6}", case.tracking_no)
    first = case.events[0]
    assert (first.action, first.to_status, first.actor, first.staff_id, first.note, first.public) == (
        "submitted", "received", "staff", li.id, "来信", True)
    run_jobs()
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.routed_at is not None and case.status == "assigned" and case.group.code == "G1"
    assert case.unit.path == "青石镇/早禾田村"


def test_an_anonymous_case_needs_no_openid_and_keeps_none(app, db):
    sub = open_case(db, NewCase(channel="h5", texts=["石门村修路的工程款被挪用了"], anonymity="anonymous",
                                openid="oSHOULD_NOT_BE_KEPT"), app.extensions["vault"], app.extensions["jobs"])
    db.commit()
    assert sub.query_code and sub.case.reporter_id is None and sub.case.query_code_hash != sub.query_code


def test_routing_leaves_a_case_staff_already_moved_alone(app, db, run_jobs):
    """The routing job comes late (a worker was down): the office already gave the case to G2 and
    handed it over. Routing records its advice and changes nothing a person decided."""
    g2 = db.scalar(sa.select(Group).where(Group.code == "G2"))
    wang = _staff(db, "wang")
    case = _case(db, app, "白沙村村支书把低保名额给了自己亲戚")
    case.group_id, case.assignee_id = g2.id, wang.id
    lifecycle.move(db, case, "assigned", Actor.staff(wang.id), "assign", "交巡察二组")
    lifecycle.move(db, case, "handed_over", Actor.staff(wang.id), "handover")
    db.commit()
    run_jobs()
    db.expire_all()
    case = db.get(Case, case.id)
    assert (case.status, case.group.code, case.assignee.login) == ("handed_over", "G2", "wang")
    assert case.kind is None and case.routed_at is not None  # labels are for staff now
    assert case.evidence["staff_first"] and case.evidence["unit"] == "named: 白沙村"
    routed = [e for e in case.events if e.action == "routed"]
    assert [(e.from_status, e.to_status, e.actor) for e in routed] == [("handed_over", "handed_over", "system")]


def test_routing_keeps_labels_staff_confirmed_first(app, db, run_jobs):
    from routing.service import correct_labels
    from routing.taxonomy import load_taxonomy

    case = _case(db, app, "白沙村的路灯坏了三个月，晚上出行很不方便")
    correct_labels(db, case, load_taxonomy(), Actor.staff(_staff(db, "li").id), "suggestion", "other")
    db.commit()
    run_jobs()
    db.expire_all()
    case = db.get(Case, case.id)
    assert (case.kind, case.domain, case.status) == ("suggestion", "other", "received")


def test_the_citizen_sees_public_steps_and_the_reply_never_an_internal_note(app, db, citizen):
    citizen.scan("G1-baisha")
    citizen.say("白沙村的路灯坏了三个月，晚上出行很不方便")
    reply = citizen.say("匿名提交")
    number, code = tracking_no(reply), re.search(r"查询码：(\w+)", reply).group(1)
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    li = Actor.staff(_staff(db, "li").id)
    lifecycle.record(db, case, li, "note", "内部：村主任与反映人有矛盾", public=False)
    lifecycle.move(db, case, "handed_over", li, "handover", "已交办青石镇白沙村整改", public=True)
    lifecycle.move(db, case, "replied", li, "reply", "路灯已于本周修复，感谢监督。", public=True)
    db.commit()
    answer = citizen.say(f"查询 {number} {code}")
    assert f"受理编号：{number}" in answer and "状态：已答复" in answer
    assert re.search(r"答复（\d{4}-\d{2}-\d{2}）：路灯已于本周修复，感谢监督。", answer)
    assert "内部" not in answer and "矛盾" not in answer
    lifecycle.record(db, case, li, "note", "内部：已电话回访", public=False)
    db.commit()
    assert "内部" not in citizen.say(f"查询 {number} {code}")
