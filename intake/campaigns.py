"""Survey campaigns (满意度测评): the office surveys the people concerned by one unit in a round.

- `start_campaign`: the office picks a unit and a round; the fan-out job follows the commit.
- `fan_out` (job): every reporter whose (non-anonymous) case concerned the unit in the round —
  its unit or the handover's was the unit or one under it — gets one survey message through the
  outbox (one per reporter, however many cases), with a personal link; a batch per run, each
  batch committed with its outbox rows, then the next batch queued. Idempotent: a reporter
  already surveyed is never surveyed again (`survey_recipients`' unique key).
- `answer`: once per personal link, and once per browser (a cookie) for the public QR code and
  link; a repeated answer is kept as `repeated` (the first counts), a late one (after the
  campaign closed) as `late`; neither is counted. Answers do not point to the recipient.
- `figures`: the satisfaction rate (满意+基本满意 over counted answers) with its sample size, the
  number surveyed and the response rate (counted personal-link answers over surveyed).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core import clock
from core.db import utcnow
from core.models import Case, Handover, Round, SurveyAnswer, SurveyCampaign, SurveyRecipient, Unit
from core.models.oversight import AnswerState

BATCH = 200
SCORES = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}
MAX_REASON = 500
PURPOSE = "survey"


class CampaignError(ValueError):
    """What the office or the citizen reads when a campaign or an answer is refused."""


def survey_path(code: str, token: str | None = None) -> str:
    """The answer page's path: the public one, or a recipient's personal link."""
    return f"/r/survey/{code}" + (f"?t={token}" if token else "")


def start_campaign(s: Session, staff_id: int, round_id: int | None, unit_id: int | None, closes_on: date,
                   question: str | None = None) -> SurveyCampaign:
    """A new campaign (the caller commits; its fan-out runs after the commit)."""
    from core.app import jobs

    rnd = s.get(Round, round_id) if round_id else None
    unit = s.get(Unit, unit_id) if unit_id else None
    if rnd is None or unit is None:
        raise CampaignError("请选择巡察轮次和被巡察单位")
    if closes_on < clock.today():
        raise CampaignError("截止日期不能早于今天")
    question = (question or "").strip()[:200] or f"您对{unit.name}巡察整改工作的评价是？"
    campaign = SurveyCampaign(code=secrets.token_urlsafe(6), round_id=rnd.id, unit_id=unit.id, question=question,
                              closes_on=closes_on, created_by=staff_id)
    s.add(campaign)
    s.flush()
    jobs().after_commit(s, fan_out, campaign.id)
    return campaign


def close_campaign(s: Session, campaign: SurveyCampaign) -> None:
    if campaign.closed_at is None:
        campaign.closed_at = utcnow()


def _subtree(unit: Unit) -> sa.Select:
    return sa.select(Unit.id).where(sa.or_(Unit.id == unit.id, Unit.path.startswith(unit.path + "/", autoescape=True)))


def concerned_reporters(s: Session, campaign: SurveyCampaign) -> sa.Select:
    """`select(reporter id)` of everyone whose case concerned the campaign's unit in its round."""
    units = _subtree(campaign.unit)
    handed = sa.exists().where(Handover.case_id == Case.id, Handover.unit_id.in_(units))
    return (sa.select(Case.reporter_id).where(
        Case.reporter_id.is_not(None), Case.anonymity != "anonymous", round_cases(campaign.round),
        sa.or_(Case.unit_id.in_(units), handed)).distinct())


def round_cases(rnd: Round) -> sa.ColumnElement[bool]:
    """The round's cases: those routed into it, and those without a round made while it ran."""
    start, end = clock_bounds(rnd.start, rnd.end)
    return sa.or_(Case.round_id == rnd.id,
                  sa.and_(Case.round_id.is_(None), Case.created_at >= start, Case.created_at < end))


def clock_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Beijing days `first`..`last` as the naive UTC bounds the database keeps."""
    return (datetime.combine(first, time()) - timedelta(hours=8),
            datetime.combine(last + timedelta(days=1), time()) - timedelta(hours=8))


def survey_text(campaign: SurveyCampaign) -> str:
    return (f"【满意度测评】{campaign.round.name}：{campaign.question}请在{campaign.closes_on:%Y年%m月%d日}前"
            f"通过链接选择满意、基本满意或不满意，每人一次。")


def fan_out(campaign_id: int) -> int:
    """Job: survey the next batch of concerned reporters through the outbox; queue the next."""
    from core.app import database, jobs
    from intake.outbox import queue

    with database().session() as s:
        campaign = s.get(SurveyCampaign, campaign_id)
        if campaign is None or campaign.fanned_out_at is not None:
            return 0
        surveyed = sa.select(SurveyRecipient.reporter_id).where(SurveyRecipient.campaign_id == campaign.id)
        reporters = concerned_reporters(s, campaign).subquery()
        ids = list(s.scalars(sa.select(reporters.c.reporter_id).where(reporters.c.reporter_id.not_in(surveyed))
                             .order_by(reporters.c.reporter_id).limit(BATCH)))
        text = survey_text(campaign)
        for reporter_id in ids:
            token = secrets.token_urlsafe(16)
            recipient = SurveyRecipient(campaign_id=campaign.id, reporter_id=reporter_id, token_hash=_sha(token))
            s.add(recipient)
            s.flush()
            message = queue(s, reporter_id=reporter_id, purpose=PURPOSE, text=text, campaign_id=campaign.id,
                            link_path=survey_path(campaign.code, token))
            s.flush()
            recipient.outbox_id = message.id
        if len(ids) < BATCH:
            campaign.fanned_out_at = utcnow()
        s.commit()
    if len(ids) == BATCH:
        jobs().enqueue(fan_out, campaign_id)
    return len(ids)


def recipient_by_token(s: Session, campaign: SurveyCampaign, token: str | None) -> SurveyRecipient | None:
    if not token:
        return None
    return s.scalar(sa.select(SurveyRecipient).where(SurveyRecipient.campaign_id == campaign.id,
                                                     SurveyRecipient.token_hash == _sha(token)))


def device_hash(secret_key: str, cookie: str) -> str:
    return hmac.new(secret_key.encode(), f"survey-device:{cookie}".encode(), "sha256").hexdigest()


def answer(s: Session, campaign: SurveyCampaign, score: str, reason: str | None, device: str,
           recipient: SurveyRecipient | None = None, today: date | None = None) -> SurveyAnswer:
    """Keep an answer and say whether it counts (`state`). `device` is the browser's hash."""
    if score not in SCORES:
        raise CampaignError("请选择满意、基本满意或不满意")
    reason = (reason or "").strip()[:MAX_REASON] or None
    seen = s.scalar(sa.select(SurveyAnswer.id).where(SurveyAnswer.campaign_id == campaign.id,
                                                     SurveyAnswer.device_hash == device).limit(1))
    if recipient is not None:
        # One answer per link: the row is locked so two taps at once cannot both count.
        used = s.execute(sa.update(SurveyRecipient).where(SurveyRecipient.id == recipient.id,
                                                          SurveyRecipient.answered.is_(False))
                         .values(answered=True)).rowcount == 0
    else:
        used = False
    if used or seen is not None:
        state = AnswerState.repeated
    elif not campaign.open_on(today or clock.today()):
        state = AnswerState.late
    else:
        state = AnswerState.counted
    row = SurveyAnswer(campaign_id=campaign.id, via="link" if recipient is not None else "qr", score=score,
                       reason=reason, state=state.value, device_hash=device)
    s.add(row)
    s.flush()
    return row


@dataclass(frozen=True)
class Figures:
    surveyed: int  # reporters sent a personal link
    counted: int  # the sample size (answers that count)
    satisfied: int
    basically: int
    unsatisfied: int
    link_counted: int  # counted answers by personal link
    qr_counted: int
    repeated: int
    late: int

    @property
    def rate(self) -> float | None:
        """满意率: 满意 + 基本满意 over counted answers."""
        return (self.satisfied + self.basically) / self.counted if self.counted else None

    @property
    def response_rate(self) -> float | None:
        return self.link_counted / self.surveyed if self.surveyed else None


def figures(s: Session, campaign_id: int) -> Figures:
    surveyed = s.scalar(sa.select(sa.func.count()).where(SurveyRecipient.campaign_id == campaign_id)) or 0
    rows = s.execute(sa.select(SurveyAnswer.state, SurveyAnswer.via, SurveyAnswer.score, sa.func.count())
                     .where(SurveyAnswer.campaign_id == campaign_id)
                     .group_by(SurveyAnswer.state, SurveyAnswer.via, SurveyAnswer.score)).all()

    def total(**want) -> int:
        return sum(n for state, via, score, n in rows
                   if all({"state": state, "via": via, "score": score}[k] == v for k, v in want.items()))

    counted = AnswerState.counted.value
    return Figures(surveyed=surveyed, counted=total(state=counted), satisfied=total(state=counted, score="satisfied"),
                   basically=total(state=counted, score="basically"),
                   unsatisfied=total(state=counted, score="unsatisfied"),
                   link_counted=total(state=counted, via="link"), qr_counted=total(state=counted, via="qr"),
                   repeated=total(state=AnswerState.repeated.value), late=total(state=AnswerState.late.value))


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
