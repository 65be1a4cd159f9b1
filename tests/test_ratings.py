"""Ratings (intake/ratings.py): each score moves the case as the lifecycle says, once per case and
round of reply; a second 不满意 escalates the case to the office and counts against its unit;
an anonymous case is rated on the mobile page only."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from admin import handling
from core.models import Case, CaseEvent, Rating, Unit
from core.models.case import CaseStatus as S
from intake.progress import citizen_view
from intake.ratings import NotRatable, awaiting_case, escalated_case_ids, rate, reply_round
from tests.desk import make_case, staff


def _replied(db, text="村口路灯坏了三个月没人修", anonymity="default") -> Case:
    case = make_case(db, text, status=S.handed_over)
    case.anonymity = anonymity
    handling.reply(db, staff(db, "zhang"), case, "路灯已更换，恢复照明。")
    db.commit()
    return case


def _events(db, case) -> list[tuple[str, str, bool]]:
    return [(e.action, e.to_status, e.public) for e in
            db.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))]


@pytest.mark.parametrize("score, label", [("satisfied", "满意"), ("basically", "基本满意")])
def test_satisfied_or_basically_closes_the_loop(db, score, label):
    case = _replied(db)
    rating = rate(db, case, score, None, "chat")
    db.commit()
    assert case.status == S.rated.value
    assert (rating.reply_round, rating.score, rating.via, rating.escalated) == (1, score, "chat", False)
    assert rating.unit_id == db.scalar(sa.select(Unit.id).where(Unit.path == "青石镇/白沙村"))
    assert _events(db, case)[-1] == ("rate", "rated", True)
    view = citizen_view(db, case)
    assert view.status == "已评价" and view.latest.note == f"群众评价：{label}"


def test_unsatisfied_reopens_for_the_group_and_keeps_the_reason_internal(db):
    case = _replied(db)
    group_id = case.group_id
    rate(db, case, "unsatisfied", "  路灯修了两天又坏了  ", "h5")
    db.commit()
    assert (case.status, case.group_id) == (S.reopened.value, group_id)
    assert _events(db, case)[-2:] == [("reopen", "reopened", True), ("rating_reason", "reopened", False)]
    rating = db.scalar(sa.select(Rating))
    assert (rating.score, rating.reason, rating.via) == ("unsatisfied", "路灯修了两天又坏了", "h5")
    view = citizen_view(db, case)
    assert view.status == "重新办理中"
    assert all("两天又坏了" not in (step.note or "") for step in view.timeline)  # the reason stays on the desk


def test_a_round_is_rated_once_and_a_new_reply_opens_the_next(db):
    case = _replied(db)
    rate(db, case, "unsatisfied", None, "chat")
    db.commit()
    with pytest.raises(NotRatable) as refused:
        rate(db, case, "satisfied", None, "h5")  # reopened: the group has not answered again
    assert refused.value.why == "reopened"
    handling.reply(db, staff(db, "zhang"), case, "已再次维修并安排专人巡查。")
    db.commit()
    assert reply_round(db, case) == 2
    rate(db, case, "satisfied", None, "h5")
    db.commit()
    with pytest.raises(NotRatable) as twice:
        rate(db, case, "unsatisfied", None, "h5")
    assert twice.value.why == "already" and "已经评价" in str(twice.value)
    assert [(r.reply_round, r.score) for r in db.scalars(sa.select(Rating).order_by(Rating.id))] == [
        (1, "unsatisfied"), (2, "satisfied")]
    assert case.status == S.rated.value


def test_no_reply_no_rating(db):
    case = make_case(db, "低保评定不公平，村干部优亲厚友", status=S.handed_over)
    with pytest.raises(NotRatable) as refused:
        rate(db, case, "satisfied", None, "h5")
    assert refused.value.why == "no_reply" and "还没有答复" in str(refused.value)
    assert db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0
    with pytest.raises(NotRatable):
        rate(db, case, "great", None, "h5")


def test_a_second_unsatisfied_escalates_to_the_office_and_counts_against_the_unit(db):
    case = _replied(db)
    priority = case.priority
    rate(db, case, "unsatisfied", "没修好", "chat")
    handling.reply(db, staff(db, "zhang"), case, "已协调镇里再次维修。")
    db.commit()
    rate(db, case, "unsatisfied", "还是不亮", "chat")
    db.commit()
    assert case.status == S.reopened.value and case.group_id is not None  # the group keeps working it
    assert case.priority == priority + 3
    actions = [a for a, _, public in _events(db, case) if public]
    assert actions[-1] == "escalate" and actions.count("reopen") == 1
    assert [r.escalated for r in db.scalars(sa.select(Rating).order_by(Rating.id))] == [False, True]
    assert db.scalars(escalated_case_ids()).all() == [case.id]
    assert citizen_view(db, case).latest.note == "群众再次评价不满意，已提交巡察办督办"


def test_an_anonymous_case_is_rated_on_the_page_only(db):
    case = _replied(db, anonymity="anonymous")
    with pytest.raises(NotRatable) as refused:
        rate(db, case, "satisfied", None, "chat")
    assert refused.value.why == "anonymous"
    rate(db, case, "satisfied", None, "h5")
    db.commit()
    assert case.status == S.rated.value


def test_the_chat_finds_the_citizens_case_awaiting_a_rating(app, db):
    from intake.cases import NewCase, open_case

    vault, jobs = app.extensions["vault"], app.extensions["jobs"]
    mine = [open_case(db, NewCase("wechat", [f"第{i}件：村里的水渠堵了好久"], openid="oRATER1"), vault, jobs).case
            for i in range(3)]
    other = open_case(db, NewCase("wechat", ["别人的反映：路面塌陷"], openid="oOTHER1"), vault, jobs).case
    db.commit()
    app.extensions["jobs"].wait(timeout=30)
    db.expire_all()
    me = vault.openid_hash("oRATER1")
    assert awaiting_case(db, me) is None
    for case in (mine[1], mine[0], other):  # mine[0] was answered last
        case.status = S.handed_over.value
        handling.reply(db, staff(db, "lizhuren"), case, "已处理。")
    db.commit()
    assert awaiting_case(db, me) == mine[0]
    rate(db, mine[0], "satisfied", None, "chat")
    db.commit()
    assert awaiting_case(db, me) == mine[1]
