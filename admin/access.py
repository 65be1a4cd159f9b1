"""Who may see and do what with a case: the desk's one authorization, as one table of rules.

Each role has a scope (the cases it can know of, as a SQL condition on `Case`), and each rule of
`RULES` names the roles that may take an action, the statuses it needs (for some) and the roles
that may take it on part of their scope only. Pages and forms that are about no one case (the
audit log, statistics, staff entry, reply templates, the commission's reconciliation) are rules
of the same table, with `case=False`. One function decides, `condition`: a SQL condition on
`Case` for an action about a case (`visible_cases` filters a list with it before anything is
loaded, `may` / `permissions` ask the database about one case, so a list, a page, a file and a
bulk action can never disagree), and `may_do` for an action about no case. A case outside
one's scope is a 404, the same answer as a case that does not exist (`find_case`).

The reporter's identity is shown by one action only, `reveal` (the office, or the leader of
the case's own group), taken as an audited act with its reason (`admin.reveal`). The JSON API's
integrations are office-level (`api_cases`).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased, object_session

from core.lifecycle import TRANSITIONS, UNDISPOSED
from core.models import Case, CaseEvent, Handover, Staff, Unit, group_units
from core.models.case import CaseStatus as S
from core.models.org import GROUP_ROLES, Role

Condition = sa.ColumnElement[bool]

GROUP = frozenset(GROUP_ROLES.values())
OFFICE = frozenset({Role.office_admin})
UNIT = frozenset({Role.unit_liaison})
COMMISSION = frozenset({Role.commission_liaison})
AUDITOR = frozenset({Role.auditor})
# A unit sees what was handed to it while the handover runs its course (交办 → 答复 → 办结),
# not a case that became a clue (移交) or went elsewhere after it.
AFTER_HANDOVER = frozenset({S.handed_over, S.verifying, S.replied, S.closed, S.rated})


def _everything(_staff: Staff) -> Condition:
    return sa.true()


def _own_group(staff: Staff) -> Condition:
    """Its group's cases, and cases given to this member (the office queue's included)."""
    given = Case.assignee_id == staff.id
    return sa.or_(Case.group_id == staff.group_id, given) if staff.group_id is not None else given


def _handed_to_unit(staff: Staff) -> Condition:
    if staff.unit_id is None:
        return sa.false()
    handed = sa.exists().where(Handover.case_id == Case.id, Handover.unit_id == staff.unit_id)
    return sa.and_(Case.status.in_([s.value for s in AFTER_HANDOVER]), handed)


def _transferred(_staff: Staff) -> Condition:
    """Clues transferred to the commission (移交): the case was moved to `transferred` once."""
    return sa.exists().where(CaseEvent.case_id == Case.id, CaseEvent.to_status == S.transferred.value,
                             sa.or_(CaseEvent.from_status.is_(None), CaseEvent.from_status != S.transferred.value))


def _nothing(_staff: Staff) -> Condition:
    return sa.false()


# What each role can know of. The auditor reads the audit log and statistics, never a case.
SCOPES: dict[Role, Callable[[Staff], Condition]] = {
    Role.office_admin: _everything,
    **{role: _own_group for role in GROUP},
    Role.unit_liaison: _handed_to_unit,
    Role.commission_liaison: _transferred,
    Role.auditor: _nothing,
}


def _leads_its_group(staff: Staff) -> Condition:
    """The case is the group's own (a case given to the leader from elsewhere is not)."""
    return Case.group_id == staff.group_id if staff.group_id is not None else sa.false()


def _into(*targets: S) -> frozenset[S]:
    """The statuses from which the lifecycle allows a move to one of `targets`."""
    return frozenset(frm for frm, tos in TRANSITIONS.items() if tos & set(targets))


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]  # who may, within the role's scope always
    states: frozenset[S] | None = None  # the statuses it needs; None: any
    # roles that may take it on part of their scope only: role → the narrower condition
    narrowed: Mapping[Role, Callable[[Staff], Condition]] = field(default_factory=dict)
    case: bool = True  # False: a page or form about no one case (no scope, no status)


SEE = "see"
RULES: dict[str, Rule] = {
    # Reading a case.
    SEE: Rule(OFFICE | GROUP | UNIT | COMMISSION),
    "read_text": Rule(OFFICE | GROUP | COMMISSION),  # the text as the citizen wrote it
    "read_redacted": Rule(UNIT),  # phones, ID numbers and the reporter's name taken out
    "internal_events": Rule(OFFICE | GROUP | COMMISSION),  # notes and moves citizens never see
    "labels": Rule(OFFICE | GROUP | COMMISSION),  # the machine's labels, evidence, model version
    "cluster": Rule(OFFICE | GROUP),
    "image": Rule(OFFICE | GROUP | COMMISSION | UNIT),  # stored without EXIF
    "voice": Rule(OFFICE | GROUP | COMMISSION),  # a voice is the reporter's: never to a unit
    "location": Rule(OFFICE | GROUP | COMMISSION),  # where the reporter stood: never to a unit
    "assign": Rule(OFFICE | GROUP, frozenset(UNDISPOSED)),
    # The reporter's openid, name and phone, shown once, audited with a reason (admin.reveal):
    # the office, or the 组长 of the case's own group (not a case given to him from elsewhere).
    "reveal": Rule(OFFICE | {Role.group_leader}, narrowed={Role.group_leader: _leads_its_group}),

    # The group's work on a case (the office may do it all), each a lifecycle move or record. The
    # statuses are the lifecycle's: an action is offered only where its move is allowed.
    "accept": Rule(OFFICE | GROUP, frozenset(UNDISPOSED)),  # 受理确认 (public)
    "note": Rule(OFFICE | GROUP),  # 内部备注: staff only, any time
    # 答复 (public): where the lifecycle reaches `replied`, and again on a case already replied.
    "reply": Rule(OFFICE | GROUP, _into(S.replied) | {S.replied}),
    "correct_labels": Rule(OFFICE | GROUP, frozenset(set(S) - {S.merged})),  # kept as training data
    "correct_unit": Rule(OFFICE | GROUP, frozenset(UNDISPOSED)),  # before anything is handed on
    "merge": Rule(OFFICE | GROUP, _into(S.merged)),
    "hand_over": Rule(OFFICE | GROUP, _into(S.handed_over)),  # 交办, text redacted and checked
    "transfer": Rule(OFFICE | GROUP, _into(S.transferred)),  # 移交 a clue to the commission
    "refer": Rule(OFFICE | GROUP, _into(S.referred)),  # 转办, naming the channel
    "verify": Rule(OFFICE | GROUP, _into(S.verifying)),  # 自行核查
    "file": Rule(OFFICE | GROUP, _into(S.filed)),  # 存档备查
    "reject": Rule(OFFICE | GROUP, _into(S.rejected)),  # 不予受理 / out of scope, the reason public
    # The unit's proposed reply, decided by the group: approved it is the public reply.
    "decide_proposal": Rule(OFFICE | GROUP, frozenset({S.handed_over})),

    # A unit's liaison on what was handed to it: progress with evidence, a proposed reply.
    "report_progress": Rule(UNIT, frozenset({S.handed_over})),
    "propose_reply": Rule(UNIT, frozenset({S.handed_over})),
    "evidence": Rule(OFFICE | GROUP | UNIT),  # the unit's reports and their files

    # The messages to the case's citizens (intake.outbox): their state and the retry of a failed
    # one; never the recipient's identity.
    "outbox": Rule(OFFICE | GROUP),

    # The commission's liaison on transferred clues (its scope): the outcome (对账销号).
    "outcome": Rule(COMMISSION),
    "read_outcome": Rule(OFFICE | GROUP | COMMISSION),

    # Pages and forms about no one case: who may open them at all.
    "enter_case": Rule(OFFICE | GROUP, case=False),  # 录入 a meeting's, letter's, call's or visit's report
    "use_templates": Rule(OFFICE | GROUP, case=False),
    "edit_templates": Rule(OFFICE, case=False),  # 答复模板
    "reconciliation": Rule(OFFICE | COMMISSION, case=False),  # 对账销号: transferred clues without an outcome
    "audit_log": Rule(OFFICE | AUDITOR, case=False),  # reveals with their reasons, logins, API tokens
    "statistics": Rule(OFFICE | AUDITOR, case=False),  # counts only, never a case's text
    # 红黄牌预警: each reader the cards of the units in its scope (`card_units`).
    "warnings": Rule(OFFICE | GROUP | UNIT, case=False),
    "campaigns": Rule(OFFICE, case=False),  # 满意度测评: start, follow and close survey campaigns
    # 消息发送: the office every message, a group its cases' (the case action "outbox").
    "outbox_page": Rule(OFFICE | GROUP, case=False),
    "outbox_no_case": Rule(OFFICE, case=False),  # messages about no case (a survey campaign's)
}
CASE_ACTIONS = tuple(a for a, rule in RULES.items() if rule.case)


def _rule(action: str, about_a_case: bool) -> Rule:
    rule = RULES[action]
    if rule.case is not about_a_case:
        raise ValueError(f"{action!r} is {'' if rule.case else 'not '}about a case")
    return rule


def _allows(staff: Staff | None, rule: Rule) -> bool:
    """The rule's roles: an active account of one of them."""
    return staff is not None and staff.active and Role(staff.role) in rule.roles


def condition(staff: Staff, action: str = SEE) -> Condition:
    """The SQL condition on `Case` under which `staff` may take `action` on a case: the rule's
    roles, within the role's scope (narrowed for some roles), in the statuses it needs."""
    rule = _rule(action, about_a_case=True)
    if not _allows(staff, rule):
        return sa.false()
    role = Role(staff.role)
    scope = SCOPES[role](staff)
    narrower = rule.narrowed.get(role)
    if narrower is not None:
        scope = sa.and_(scope, narrower(staff))
    if rule.states is None:
        return scope
    return sa.and_(scope, Case.status.in_([s.value for s in rule.states]))


def may_do(staff: Staff, action: str) -> bool:
    """Whether `staff` may open a page or take an action that concerns no one case."""
    return _allows(staff, _rule(action, about_a_case=False))


def holds_no_case_of_group(staff: Staff, group_id: int) -> bool:
    """Whether `staff`'s scope can hold no case of the group `group_id`, known from the values
    alone (a filter answered at once, without a query that finds nothing slowly): a group
    member's scope is its group's cases and those given to it, and a group's case is only ever
    given to that group's members (`admin.assign`, routing). The office queue (no group) is not
    decided here: the office gives its cases to members of any group."""
    return staff is not None and Role(staff.role) in GROUP and group_id != staff.group_id


def card_units(staff: Staff) -> Condition:
    """The units whose cards `staff` may read (a condition on `Unit`): the office every unit, a
    group's staff the units its group inspects and those under them (a township brings its
    villages), a unit's liaison its own unit."""
    if not may_do(staff, "warnings"):
        return sa.false()
    role = Role(staff.role)
    if role in OFFICE:
        return sa.true()
    if role in UNIT:
        return Unit.id == staff.unit_id if staff.unit_id is not None else sa.false()
    if staff.group_id is None:
        return sa.false()
    inspected = aliased(Unit)
    return sa.exists().where(group_units.c.group_id == staff.group_id, group_units.c.unit_id == inspected.id,
                             sa.or_(Unit.path == inspected.path, Unit.path.startswith(inspected.path.concat("/"))))


def api_cases() -> sa.Select:
    """`select(Case)` of what the JSON API's integrations (an office's token) may list: every
    case, office-level. What a case's answer holds is `admin.api`'s: never the text nor the
    reporter, the public timeline only."""
    return sa.select(Case).where(_everything(None))


def visible_cases(staff: Staff, action: str = SEE) -> sa.Select:
    """`select(Case)` of the cases `staff` may take `action` on, filtered in SQL."""
    return sa.select(Case).where(condition(staff, action))


def permissions(s: Session, staff: Staff, case: Case) -> frozenset[str]:
    """Every action about a case `staff` may take on `case`, asked in one statement."""
    columns = [sa.case((condition(staff, a), 1), else_=0).label(a) for a in CASE_ACTIONS]
    row = s.execute(sa.select(*columns).select_from(Case).where(Case.id == case.id)).one_or_none()
    return frozenset(a for a in CASE_ACTIONS if row is not None and getattr(row, a))


def may(staff: Staff, action: str, case: Case) -> bool:
    """Whether `staff` may take `action` on `case` (a stored case, in a session)."""
    s = object_session(case)
    if s is None:
        raise ValueError("may() needs a case loaded in a session")
    return bool(s.scalar(sa.select(sa.literal(1)).select_from(Case).where(Case.id == case.id,
                                                                             condition(staff, action))))


def find_case(s: Session, staff: Staff, tracking_no: str) -> Case | None:
    """The case by tracking number if `staff` may see it; None whether it is out of scope or
    does not exist (the views answer 404 for both)."""
    return s.scalar(visible_cases(staff).where(Case.tracking_no == tracking_no.strip().upper()))
