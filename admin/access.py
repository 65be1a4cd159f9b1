"""Who may see and do what with a case: the desk's one authorization, as a table of rules.

Each role has a scope (the cases it can know of, as a SQL condition on `Case`), and each action
lists the roles that may take it and, for some, the statuses it needs. Everything is decided
in SQL from these two tables: `visible_cases` filters a list before anything is loaded, and
`may` / `permissions` ask the database the same condition about one case, so a list, a page,
a file and a bulk action can never disagree. A case outside one's scope is a 404, the same
answer as a case that does not exist (`case_or_404` in the views).

The reporter's identity is shown by one action only, `reveal` (the office, or the leader of
the case's own group), taken as an audited act with its reason (`admin.reveal`). Pages that are
about no case (the audit log, statistics) and the JSON API's integrations have their rules here
too (`DESK`, `api_cases`).
"""
from __future__ import annotations

from collections.abc import Callable

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

SEE = "see"
# action → (roles that may, statuses it needs or None for any). Within the role's scope always.
ACTIONS: dict[str, tuple[frozenset[Role], frozenset[S] | None]] = {
    SEE: (OFFICE | GROUP | UNIT | COMMISSION, None),
    "read_text": (OFFICE | GROUP | COMMISSION, None),  # the text as the citizen wrote it
    "read_redacted": (UNIT, None),  # phones, ID numbers and the reporter's name taken out
    "internal_events": (OFFICE | GROUP | COMMISSION, None),  # notes and moves citizens never see
    "labels": (OFFICE | GROUP | COMMISSION, None),  # the machine's labels, evidence, model version
    "cluster": (OFFICE | GROUP, None),
    "image": (OFFICE | GROUP | COMMISSION | UNIT, None),  # stored without EXIF
    "voice": (OFFICE | GROUP | COMMISSION, None),  # a voice is the reporter's: never to a unit
    "location": (OFFICE | GROUP | COMMISSION, None),  # where the reporter stood: never to a unit
    "assign": (OFFICE | GROUP, frozenset(UNDISPOSED)),
    # The reporter's openid, name and phone, shown once, audited with a reason (admin.reveal).
    "reveal": (OFFICE | {Role.group_leader}, None),
}


def _into(*targets: S) -> frozenset[S]:
    """The statuses from which the lifecycle allows a move to one of `targets`."""
    return frozenset(frm for frm, tos in TRANSITIONS.items() if tos & set(targets))


# The group's work on a case (the office may do it all), each a lifecycle move or record. The
# statuses are the lifecycle's: an action is offered only where its move is allowed.
ACTIONS.update({
    "accept": (OFFICE | GROUP, frozenset(UNDISPOSED)),  # 受理确认 (public)
    "note": (OFFICE | GROUP, None),  # 内部备注: staff only, any time
    # 答复 (public): where the lifecycle reaches `replied`, and again on a case already replied.
    "reply": (OFFICE | GROUP, _into(S.replied) | {S.replied}),
    "correct_labels": (OFFICE | GROUP, frozenset(set(S) - {S.merged})),  # kept as training data
    "correct_unit": (OFFICE | GROUP, frozenset(UNDISPOSED)),  # before anything is handed on
    "merge": (OFFICE | GROUP, _into(S.merged)),
    "hand_over": (OFFICE | GROUP, _into(S.handed_over)),  # 交办, text redacted and checked
    "transfer": (OFFICE | GROUP, _into(S.transferred)),  # 移交 a clue to the commission
    "refer": (OFFICE | GROUP, _into(S.referred)),  # 转办, naming the channel
    "verify": (OFFICE | GROUP, _into(S.verifying)),  # 自行核查
    "file": (OFFICE | GROUP, _into(S.filed)),  # 存档备查
    "reject": (OFFICE | GROUP, _into(S.rejected)),  # 不予受理 / out of scope, the reason public
    # The unit's proposed reply, decided by the group: approved it is the public reply.
    "decide_proposal": (OFFICE | GROUP, frozenset({S.handed_over})),
})

# A unit's liaison on what was handed to it: progress with evidence, a proposed reply.
ACTIONS.update({
    "report_progress": (UNIT, frozenset({S.handed_over})),
    "propose_reply": (UNIT, frozenset({S.handed_over})),
    "evidence": (OFFICE | GROUP | UNIT, None),  # the unit's reports and their files
})

# The messages to the case's citizens (intake.outbox): their state and the retry of a failed
# one; never the recipient's identity.
ACTIONS.update({
    "outbox": (OFFICE | GROUP, None),
})

# The commission's liaison on transferred clues (its scope): the outcome (对账销号).
ACTIONS.update({
    "outcome": (COMMISSION, None),
    "read_outcome": (OFFICE | GROUP | COMMISSION, None),
})

# Work that is about no one case yet: who may open the page or form at all.
DESK_ACTIONS: dict[str, frozenset[Role]] = {
    "enter_case": OFFICE | GROUP,  # 录入 a meeting's, letter's, call's or visit's report
    "use_templates": OFFICE | GROUP,
    "edit_templates": OFFICE,  # 答复模板
    "reconciliation": OFFICE | COMMISSION,  # 对账销号: transferred clues without an outcome
    "outbox": OFFICE | GROUP,  # 消息发送: the office every message, a group its cases' (action "outbox")
    "outbox_no_case": OFFICE,  # messages about no case (a survey campaign's)
}


def _leads_its_group(staff: Staff) -> Condition:
    """The case is the group's own (a case given to the leader from elsewhere is not)."""
    return Case.group_id == staff.group_id if staff.group_id is not None else sa.false()


# Actions some roles may take on part of their scope only: action → role → the narrower condition.
NARROWED: dict[str, dict[Role, Callable[[Staff], Condition]]] = {
    "reveal": {Role.group_leader: _leads_its_group},  # 组长 of the case's group, not any group's
}

AUDITOR = frozenset({Role.auditor})
# Desk pages about no case: what → the roles that may open them.
DESK: dict[str, frozenset[Role]] = {
    "audit_log": OFFICE | AUDITOR,  # reveals with their reasons, logins, API tokens
    "statistics": OFFICE | AUDITOR,  # counts only, never a case's text
    # 红黄牌预警: each reader the cards of the units in its scope (`card_units`).
    "warnings": OFFICE | GROUP | UNIT,
    "campaigns": OFFICE,  # 满意度测评: start, follow and close survey campaigns
}


def card_units(staff: Staff) -> Condition:
    """The units whose cards `staff` may read (a condition on `Unit`): the office every unit, a
    group's staff the units its group inspects and those under them (a township brings its
    villages), a unit's liaison its own unit."""
    if not may_open(staff, "warnings"):
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


def may_open(staff: Staff, what: str) -> bool:
    """Whether `staff` may open the desk page `what` (a `DESK` entry)."""
    return staff.active and Role(staff.role) in DESK[what]


def api_cases() -> sa.Select:
    """`select(Case)` of what the JSON API's integrations (an office's token) may list: every
    case, office-level. What a case's answer holds is `admin.api`'s: never the text nor the
    reporter, the public timeline only."""
    return sa.select(Case).where(_everything(None))


def condition(staff: Staff, action: str = SEE) -> Condition:
    """The SQL condition on `Case` under which `staff` may take `action`."""
    roles, states = ACTIONS[action]
    role = Role(staff.role)
    if not staff.active or role not in roles:
        return sa.false()
    scope = SCOPES[role](staff)
    narrower = NARROWED.get(action, {}).get(role)
    if narrower is not None:
        scope = sa.and_(scope, narrower(staff))
    if states is None:
        return scope
    return sa.and_(scope, Case.status.in_([s.value for s in states]))


def visible_cases(staff: Staff, action: str = SEE) -> sa.Select:
    """`select(Case)` of the cases `staff` may take `action` on, filtered in SQL."""
    return sa.select(Case).where(condition(staff, action))


def permissions(s: Session, staff: Staff, case: Case) -> frozenset[str]:
    """Every action `staff` may take on `case`, asked in one statement."""
    columns = [sa.case((condition(staff, a), 1), else_=0).label(a) for a in ACTIONS]
    row = s.execute(sa.select(*columns).select_from(Case).where(Case.id == case.id)).one_or_none()
    return frozenset(a for a in ACTIONS if row is not None and getattr(row, a))


def may(staff: Staff, action: str, case: Case) -> bool:
    """Whether `staff` may take `action` on `case` (a stored case, in a session)."""
    s = object_session(case)
    if s is None:
        raise ValueError("may() needs a case loaded in a session")
    return bool(s.scalar(sa.select(sa.literal(1)).select_from(Case).where(Case.id == case.id,
                                                                             condition(staff, action))))


def may_do(staff: Staff, action: str) -> bool:
    """Whether `staff` may take a desk action that concerns no one case (`DESK_ACTIONS`)."""
    return staff.active and Role(staff.role) in DESK_ACTIONS[action]


def find_case(s: Session, staff: Staff, tracking_no: str) -> Case | None:
    """The case by tracking number if `staff` may see it; None whether it is out of scope or
    does not exist (the views answer 404 for both)."""
    return s.scalar(visible_cases(staff).where(Case.tracking_no == tracking_no.strip().upper()))
