"""The group's work on one case (办理): accept, note, reply, correct the labels or the unit,
merge, hand over, transfer, refer, verify, file, reject. Each is a lifecycle move (or a record
when the status stays) by a member `admin.access` allowed; the views check that first.

Public events are what the citizen reads (`intake.progress`); internal notes stay on the desk.
Services raise `Refused` with the reason the member reads."""
from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin.access import visible_cases
from admin.assign import related_units
from admin.labels import taxonomy
from admin.redact import redact
from core import clock, lifecycle
from core.identity import IdentityVault
from core.models import Case, CaseEvent, Handover, Office, Round, Staff, Unit
from core.models.case import CaseStatus as S
from intake import outbox
from intake.progress import REPLY
from routing.service import InvalidLabel, correct_labels

DEFAULT_HANDOVER_DAYS = 15
MAX_TEXT = 5000


class Refused(ValueError):
    """An action the case or its input does not allow; the message is for the member."""


def _actor(staff: Staff) -> lifecycle.Actor:
    return lifecycle.Actor.staff(staff.id)


def text_field(value: str | None, what: str, required: bool = True) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise Refused(f"请填写{what}")
        return None
    if len(value) > MAX_TEXT:
        raise Refused(f"{what}过长（最多{MAX_TEXT}字）")
    return value


def _move(s: Session, case: Case, to: S, staff: Staff, action: str, note: str | None, public: bool):
    try:
        return lifecycle.move(s, case, to, _actor(staff), action, note, public=public)
    except lifecycle.TransitionError:
        raise Refused("案件当前状态不允许此操作") from None


def tell(s: Session, case: Case, purpose: str, text: str) -> None:
    """The citizen hears it (intake.outbox: the case's reporter and those of the cases merged
    into it; an anonymous case's news waits on the mobile page and in 查询)."""
    outbox.notify_case(s, case, purpose, text)


def _internal(s: Session, case: Case, staff: Staff, note: str | None) -> None:
    """The member's optional remark beside a public move: staff only."""
    if note:
        lifecycle.record(s, case, _actor(staff), "note", note)


def accept(s: Session, staff: Staff, case: Case) -> None:
    """受理确认: the group confirms it takes the case; the citizen reads it."""
    note = f"{case.group.name}已受理，正在办理" if case.group else "巡察办已受理，正在分办"
    if S(case.status) in (S.received, S.reopened) and case.group_id is not None:
        _move(s, case, S.assigned, staff, "accepted", note, public=True)
    else:
        lifecycle.record(s, case, _actor(staff), "accepted", note, public=True)


def note(s: Session, staff: Staff, case: Case, text: str) -> None:
    """内部备注: staff only, never on the citizen's timeline."""
    lifecycle.record(s, case, _actor(staff), "note", text_field(text, "备注内容"), public=False)


def reply(s: Session, staff: Staff, case: Case, text: str) -> None:
    """答复: the public reply the citizen reads (a second reply keeps the status)."""
    text = text_field(text, "答复内容")
    if S(case.status) == S.replied:
        lifecycle.record(s, case, _actor(staff), REPLY, text, public=True)
    else:
        _move(s, case, S.replied, staff, REPLY, text, public=True)
    tell(s, case, "reply", f"您反映的问题有了答复：{text}\n{outbox.RATING_ASK}")


def correct(s: Session, staff: Staff, case: Case, kind: str | None, domain: str | None) -> None:
    """Labels confirmed or corrected: training data for the next model (routing keeps them)."""
    try:
        correct_labels(s, case, taxonomy(), _actor(staff), kind or None, domain or None)
    except InvalidLabel:
        raise Refused("类别或领域无效") from None


def correct_unit(s: Session, staff: Staff, case: Case, unit_id: int | None) -> str | None:
    """The unit concerned, corrected. An assignee who comes from the new unit steps aside (回避):
    the case goes back to the group undecided. Returns that warning, if any."""
    unit = s.get(Unit, unit_id) if unit_id else None
    if unit is None:
        raise Refused("请选择被反映单位")
    before = case.unit.path if case.unit else "未确定"
    case.unit_id = unit.id
    note = f"被反映单位：{before} → {unit.path}"
    warning = None
    member = case.assignee
    if member is not None and member.home_unit_id and related_units(s, unit.id, member.home_unit_id):
        case.assignee_id = None
        warning = f"{member.name}来自被反映单位，须回避，已取消分派"
        note += f"；{warning}"
    lifecycle.record(s, case, _actor(staff), "unit_corrected", note)
    return warning


def merge(s: Session, staff: Staff, case: Case, main_no: str) -> Case:
    """合并: `case` is a duplicate of the main case (one the member can see); the main case's
    public replies reach this case's citizen too."""
    main = s.scalar(visible_cases(staff).where(Case.tracking_no == (main_no or "").strip().upper()))
    if main is None:
        raise Refused("没有找到要合并到的案件")
    seen = {case.id}
    while main.merged_into_id is not None:  # merge into the case that carries on
        if main.id in seen:
            break
        seen.add(main.id)
        main = s.get(Case, main.merged_into_id)
    if main.id in seen:
        raise Refused("不能合并到本案")
    case.merged_into_id = main.id
    _move(s, case, S.merged, staff, "merged", f"与受理编号{main.tracking_no}的反映合并办理", public=True)
    tell(s, case, "status", "您反映的问题已与同类反映合并办理，答复将一并告知。")
    lifecycle.record(s, main, _actor(staff), "merged_in", f"已合并受理编号{case.tracking_no}的反映")
    return main


def default_due(s: Session, case: Case) -> date:
    """The round's handover days (交办期限) from today."""
    days = None
    if case.round_id is not None:
        days = s.scalar(sa.select(Round.handover_days).where(Round.id == case.round_id))
    return clock.today() + timedelta(days=days or DEFAULT_HANDOVER_DAYS)


def handover_text(case: Case, vault: IdentityVault) -> str:
    """What the member checks and edits before handing over: the text, redacted."""
    return redact(case.text, case, vault)


def hand_over(s: Session, staff: Staff, case: Case, vault: IdentityVault, unit_id: int | None, due_on: str,
              text: str) -> Handover:
    """交办: to a unit, with a due date, the text as the member checked it. The text is redacted
    once more as it goes (a phone number typed back in never reaches the unit); the case keeps
    its original."""
    unit = s.get(Unit, unit_id) if unit_id else None
    if unit is None:
        raise Refused("请选择承办单位")
    try:
        due = date.fromisoformat(due_on) if due_on else default_due(s, case)
    except ValueError:
        raise Refused("办理期限格式不正确") from None
    if due < clock.today():
        raise Refused("办理期限不能早于今天")
    handed = redact(text_field(text, "交办内容"), case, vault)
    note = f"已交办{unit.name}整改，办理期限{due:%Y年%m月%d日}"
    _move(s, case, S.handed_over, staff, "handed_over", note, public=True)
    tell(s, case, "status", f"您反映的问题有新进展：{note}。")
    handover = Handover(case_id=case.id, unit_id=unit.id, due_on=due, staff_id=staff.id, text=handed)
    s.add(handover)
    return handover


def transfer(s: Session, staff: Staff, case: Case, remark: str | None) -> None:
    """移交: a clue goes to the discipline commission, which records its outcome."""
    if case.kind != "clue":
        raise Refused("只有问题线索可以移交纪委监委，请先将类别改为问题线索")
    commission = s.scalar(sa.select(Office.commission_name).limit(1)) or "纪委监委"
    _move(s, case, S.transferred, staff, "transferred", f"问题线索已移交{commission}依规依纪处置", public=True)
    tell(s, case, "status", f"您反映的问题线索已移交{commission}依规依纪处置。")
    _internal(s, case, staff, text_field(remark, "备注", required=False))


def refer(s: Session, staff: Staff, case: Case, channel: str, reason: str) -> None:
    """转办: to another department or channel, named for the citizen."""
    channel = text_field(channel, "转办去向")
    reason = text_field(reason, "转办说明", required=False)
    note = f"已转办{channel}" + (f"：{reason}" if reason else "")
    _move(s, case, S.referred, staff, "referred", note, public=True)
    tell(s, case, "status", f"您反映的问题有新进展：{note}。")


def verify(s: Session, staff: Staff, case: Case, remark: str | None) -> None:
    """自行核查: the group looks into it during the round."""
    _move(s, case, S.verifying, staff, "verifying", "巡察组正在核查", public=True)
    _internal(s, case, staff, text_field(remark, "备注", required=False))


def file(s: Session, staff: Staff, case: Case, remark: str | None) -> None:
    """存档备查: kept as material for the round's report."""
    _move(s, case, S.filed, staff, "filed", "已存档备查，作为巡察工作参考", public=True)
    _internal(s, case, staff, text_field(remark, "备注", required=False))


def reject(s: Session, staff: Staff, case: Case, reason: str, out_of_scope: bool) -> None:
    """不予受理: the reason is public, the citizen reads it. Out of scope (another channel's
    matter) is also a label correction, so the router learns it."""
    reason = text_field(reason, "不予受理的理由（群众可见）")
    if out_of_scope:
        correct(s, staff, case, "out_of_scope", None)
    _move(s, case, S.rejected, staff, "rejected", reason, public=True)
    tell(s, case, "status", f"您反映的问题不予受理，理由：{reason}")


def last_public_reply(s: Session, case: Case) -> CaseEvent | None:
    return s.scalar(sa.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.public.is_(True),
                                               CaseEvent.action == REPLY).order_by(CaseEvent.id.desc()).limit(1))
