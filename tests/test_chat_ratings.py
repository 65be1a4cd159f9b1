"""Ratings in the chat, through the real webhook with signed pushes: the answer to 「回复 1 满意
2 基本满意 3 不满意，可附原因」 as people write it, for the citizen's case awaiting a rating; the
same words from someone with nothing to rate stay what they were (a report, the help line)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from admin import handling
from bot import simulator as sim
from bot import texts
from core import lifecycle
from core.models import Case, CaseEvent, Rating
from core.models.case import CaseStatus as S
from tests.desk import staff
from tests.replies import tracking_no


def _report(citizen, run_jobs, text="白沙村村口的路灯坏了三个月，晚上出门很不方便", anonymous=False) -> str:
    citizen.scan("G1-baisha")
    citizen.say(text)
    number = tracking_no(citizen.say("匿名提交" if anonymous else "提交"))
    run_jobs()
    return number


def _answer(db, number: str, text: str = "路灯已更换，恢复照明。") -> Case:
    """The group hands the case over and answers it, as the desk does."""
    db.expire_all()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    if case.status in (S.received.value, S.assigned.value):
        lifecycle.move(db, case, S.handed_over, lifecycle.Actor.staff(staff(db, "zhang").id), "hand_over")
    handling.reply(db, staff(db, "zhang"), case, text)
    db.commit()
    return case


def _case(db, number: str) -> Case:
    db.expire_all()
    return db.scalar(sa.select(Case).where(Case.tracking_no == number))


@pytest.mark.parametrize("answer, score, reason", [
    ("1", "satisfied", None), ("满意", "satisfied", None), ("非常满意！", "satisfied", None),
    ("2", "basically", None), ("还行", "basically", None), ("一般", "basically", None),
    ("基本满意", "basically", None), ("３", "unsatisfied", None), ("不太满意", "unsatisfied", None),
    ("没解决", "unsatisfied", None), ("不满意因为路灯还是不亮", "unsatisfied", "路灯还是不亮"),
    ("不满意，晚上还是黑的", "unsatisfied", "晚上还是黑的"), ("3 只修了一个", "unsatisfied", "只修了一个"),
])
def test_the_answer_as_people_write_it(citizen, db, run_jobs, answer, score, reason):
    number = _report(citizen, run_jobs)
    _answer(db, number)
    reply = citizen.say(answer)
    assert reply.startswith(f"感谢您的评价！受理编号{number}：{texts.SCORE_WORDS[score]}。")
    rating = db.scalar(sa.select(Rating))
    assert (rating.score, rating.reason, rating.via, rating.reply_round) == (score, reason, "chat", 1)
    case = _case(db, number)
    if score == "unsatisfied":
        assert "已重新交巡察组办理" in reply and case.status == S.reopened.value
    else:
        assert "欢迎继续监督" in reply and case.status == S.rated.value
    assert "已评价" in citizen.say("查询") or score == "unsatisfied"


def test_a_spoken_rating_counts_too(citizen, db, run_jobs):
    number = _report(citizen, run_jobs)
    _answer(db, number)
    reply = citizen.voice("MEDIA_VOICE_1", "满意。")
    assert reply.startswith(f"感谢您的评价！受理编号{number}：满意")
    assert _case(db, number).status == S.rated.value


def test_the_whole_loop_unsatisfied_twice_then_satisfied(citizen, db, run_jobs):
    number = _report(citizen, run_jobs)
    _answer(db, number)
    assert "已重新交巡察组办理" in citizen.say("不满意，路灯还是不亮")
    assert citizen.say("1") == texts.TOO_SHORT  # nothing awaits a rating while the group works again
    _answer(db, number, "已再次维修。")
    reply = citizen.say("3")
    assert "已提交巡察办督办" in reply
    case = _case(db, number)
    assert case.status == S.reopened.value
    assert [e.action for e in db.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                                  CaseEvent.public.is_(True)))][-1] == "escalate"
    _answer(db, number, "镇里已更换线路，路灯全部恢复。")
    assert "欢迎继续监督" in citizen.say("满意")
    assert [(r.reply_round, r.score, r.escalated) for r in db.scalars(sa.select(Rating).order_by(Rating.id))] == [
        (1, "unsatisfied", False), (2, "unsatisfied", True), (3, "satisfied", False)]
    listing = citizen.say("查询")
    assert number in listing and "已评价" in listing


def test_a_retried_rating_push_is_answered_once(citizen, db, run_jobs):
    number = _report(citizen, run_jobs)
    _answer(db, number)
    xml = sim.text(citizen.openid, "1", 7_000_000_001)
    first = citizen.send(xml)
    assert citizen.send(xml) == first  # WeChat's retry replays the answer
    assert db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 1


def test_the_latest_answered_case_is_rated(citizen, db, run_jobs):
    first = _report(citizen, run_jobs)
    second = _report(citizen, run_jobs, "石门村的水渠堵了，田里灌不上水，找了村里没人管")
    _answer(db, second)
    _answer(db, first)  # answered last: the "1" is about this reply
    assert f"受理编号{first}" in citizen.say("1")
    assert f"受理编号{second}" in citizen.say("2")
    assert _case(db, second).status == S.rated.value


def test_with_nothing_to_rate_the_words_are_what_they_were(citizen, db, run_jobs, draft_of):
    citizen.scan("G1-baisha")
    assert citizen.say("1") == texts.TOO_SHORT
    assert citizen.say("满意") == texts.TOO_SHORT
    reply = citizen.say("不满意，村里的路灯坏了三个月没人修")
    assert reply.startswith("已记录：不满意，村里的路灯坏了三个月没人修")  # the start of a report
    assert citizen.say("2").startswith("已记录：2")  # a short addition to the draft under way
    assert draft_of(citizen).entry_count == 2
    assert db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


def test_an_anonymous_case_is_not_rated_in_the_chat(citizen, db, run_jobs):
    number = _report(citizen, run_jobs, anonymous=True)
    _answer(db, number)
    assert citizen.say("1") == texts.TOO_SHORT  # no openid is linked: nothing of theirs awaits a rating
    assert _case(db, number).status == S.replied.value
    assert db.scalar(sa.select(sa.func.count()).select_from(Rating)) == 0


def test_a_draft_under_way_does_not_swallow_the_rating(citizen, db, run_jobs, draft_of):
    number = _report(citizen, run_jobs)
    _answer(db, number)
    citizen.say("另外，石门村的水渠也堵了，一直没人管")
    assert citizen.say("满意").startswith(f"感谢您的评价！受理编号{number}")
    assert draft_of(citizen).entry_count == 1  # the draft is as it was
