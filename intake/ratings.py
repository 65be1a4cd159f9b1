"""Ratings (群众评价): after a public reply the citizen says 满意 / 基本满意 / 不满意 (and why), in
the chat or on the mobile page; one rating per case and round of reply.

Through `core.lifecycle`:
- 满意 / 基本满意: the case becomes `rated`, the loop closed (闭环).
- 不满意: the case is reopened for its group (`reopened`, a public event).
- 不满意 again in a later round: escalated to the office (督办). The case is reopened with the
  event action `escalate`; it keeps its group (who still does the work) and rises in priority,
  and the office's inbox lists it under 督办 (`escalated_case_ids`). The rating is marked
  `escalated`, which counts against the unit as repeated dissatisfaction.

An anonymous case has no openid: it is rated on the mobile page only (by tracking number and
query code). A rating's reason is kept on the rating and as an internal note on the case (the
desk reads it); the public timeline says only the score, as the reason is the citizen's words.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core import lifecycle
from core.models import Case, CaseEvent, CaseStatus as S, Rating, RatingVia, Reporter, Score
from intake.progress import REPLY

SCORE_LABELS = {Score.satisfied: "满意", Score.basically: "基本满意", Score.unsatisfied: "不满意"}
# A case in these statuses has been answered and may be rated (a reopened case waits for a new reply).
RATABLE = frozenset({S.replied, S.closed, S.rated})
ESCALATED_PRIORITY = 3  # what an escalation adds to the case's priority
REASON_CHARS = 500
RATE, REOPEN, ESCALATE, REASON = "rate", "reopen", "escalate", "rating_reason"  # event actions
CHECKED_CASES = 10  # how many of a citizen's newest cases the chat looks at for one awaiting a rating


class NotRatable(ValueError):
    """A rating refused; `str()` is the sentence the citizen reads."""

    def __init__(self, why: str, message: str):
        super().__init__(message)
        self.why = why  # no_reply | already | reopened | merged | anonymous | bad_score


NO_REPLY = "这件事项还没有答复，收到答复后才能评价。"
ALREADY = "这次答复您已经评价过了，感谢您的反馈！"
REOPENED = "这件事项正在重新办理，收到新的答复后可以再次评价。"
MERGED = "这件事项已与同类反映合并办理，请对合并后的事项评价。"
ANONYMOUS_CHAT = "匿名反映请在手机网页上凭受理编号和查询码评价。"
BAD_SCORE = "请选择：满意、基本满意或不满意。"


def reply_round(s: Session, case: Case) -> int:
    """How many public replies (答复) the case has had: the round a rating now belongs to."""
    return s.scalar(sa.select(sa.func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.public.is_(True), CaseEvent.action == REPLY)) or 0


def refusal(s: Session, case: Case, via: str = RatingVia.h5.value) -> NotRatable | None:
    """Why `case` cannot be rated now, or None when it awaits a rating."""
    if via == RatingVia.chat.value and case.anonymity == "anonymous":
        return NotRatable("anonymous", ANONYMOUS_CHAT)
    if S(case.status) == S.merged:
        return NotRatable("merged", MERGED)
    current = reply_round(s, case)
    if current == 0:
        return NotRatable("no_reply", NO_REPLY)
    if S(case.status) not in RATABLE:
        return NotRatable("reopened", REOPENED)
    if s.scalar(sa.select(Rating.id).where(Rating.case_id == case.id, Rating.reply_round == current)):
        return NotRatable("already", ALREADY)
    return None


def awaiting(s: Session, case: Case, via: str = RatingVia.h5.value) -> bool:
    return refusal(s, case, via) is None


@dataclass(frozen=True)
class Rated:
    rating: Rating
    reopened: bool
    escalated: bool


def rate(s: Session, case: Case, score: str | Score, reason: str | None, via: str | RatingVia) -> Rating:
    """Keep the citizen's rating of the case's latest reply and move the case accordingly.
    Raises NotRatable (its message is for the citizen) when there is no reply yet, the round is
    already rated, the case is being handled again, or an anonymous case is rated in the chat."""
    return rate_case(s, case, score, reason, via).rating


def rate_case(s: Session, case: Case, score: str | Score, reason: str | None, via: str | RatingVia) -> Rated:
    try:
        score, via = Score(score), RatingVia(via)
    except ValueError:
        raise NotRatable("bad_score", BAD_SCORE) from None
    problem = refusal(s, case, via.value)
    if problem is not None:
        raise problem
    reason = (reason or "").strip()[:REASON_CHARS] or None
    current = reply_round(s, case)
    unsatisfied_before = s.scalar(sa.select(Rating.id).where(
        Rating.case_id == case.id, Rating.score == Score.unsatisfied.value, Rating.reply_round < current).limit(1))
    escalated = score == Score.unsatisfied and unsatisfied_before is not None
    rating = Rating(case_id=case.id, reply_round=current, score=score.value, reason=reason, via=via.value,
                    unit_id=case.unit_id, escalated=escalated)
    try:
        with s.begin_nested():  # two answers at once (chat and page): the second one is refused
            s.add(rating)
            s.flush()
    except IntegrityError:
        raise NotRatable("already", ALREADY) from None
    label = SCORE_LABELS[score]
    if score != Score.unsatisfied:
        if S(case.status) == S.rated:
            lifecycle.record(s, case, lifecycle.CITIZEN, RATE, f"群众评价：{label}", public=True)
        else:
            lifecycle.move(s, case, S.rated, lifecycle.CITIZEN, RATE, f"群众评价：{label}", public=True)
    elif escalated:
        lifecycle.move(s, case, S.reopened, lifecycle.CITIZEN, ESCALATE,
                       "群众再次评价不满意，已提交巡察办督办", public=True)
        case.priority = (case.priority or 0) + ESCALATED_PRIORITY
    else:
        lifecycle.move(s, case, S.reopened, lifecycle.CITIZEN, REOPEN, "群众评价不满意，已重新办理", public=True)
    if reason:
        lifecycle.record(s, case, lifecycle.CITIZEN, REASON, f"评价{label}的原因：{reason}", public=False)
    return Rated(rating, score == Score.unsatisfied, escalated)


def awaiting_case(s: Session, openid_hash: str) -> Case | None:
    """The citizen's case awaiting a rating whose latest reply is the newest (the chat's answer
    "1"/"满意" is about the reply they just read), or None."""
    cases = s.scalars(
        sa.select(Case).join(Reporter, Case.reporter_id == Reporter.id)
        .where(Reporter.openid_hash == openid_hash, Case.status.in_([x.value for x in RATABLE]))
        .order_by(Case.id.desc()).limit(CHECKED_CASES)).all()
    best, best_reply = None, -1
    for case in cases:
        if not awaiting(s, case, RatingVia.chat.value):
            continue
        last = s.scalar(sa.select(sa.func.max(CaseEvent.id)).where(
            CaseEvent.case_id == case.id, CaseEvent.public.is_(True), CaseEvent.action == REPLY)) or 0
        if last > best_reply:
            best, best_reply = case, last
    return best


def escalated_case_ids() -> sa.Select:
    """The cases a second 不满意 sent to the office (督办), for the desk's filter."""
    return sa.select(Rating.case_id).where(Rating.escalated.is_(True))
