"""A case's life (办理流程): its statuses, the moves between them as data, and the one function
that moves a case and writes the immutable `CaseEvent`.

Every status change in the product goes through `move` (a new case through `open_case`); events
that change nothing (a note, a label correction, a reply to a case already replied) go through
`record`. Which statuses exist is enforced by the database too (a CHECK constraint on
`cases.status`, migration 0003), so a typo cannot store a status nobody handles.

```
received ─► assigned ─► handed_over | transferred | referred | verifying | filed
   │            │              │
   │            └► rejected    └► replied ─► closed ─► rated ─► reopened ─► ...
   └► merged (duplicate of another case)
```
Who may make a move (a group member, the office, a unit liaison...) is not decided here but by
the desk's authorization; this module only knows which moves the lifecycle allows.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.db import utcnow
from core.models.case import Case, CaseEvent, CaseStatus as S

# The lifecycle, as data: from each status, the statuses a case may move to.
_DISPOSALS = {S.handed_over, S.transferred, S.referred, S.verifying, S.filed}
TRANSITIONS: dict[S, frozenset[S]] = {
    # New cases wait for routing or the office's triage (分办).
    S.received: frozenset({S.assigned, S.rejected, S.merged, *_DISPOSALS}),
    # A group has it: it disposes of it, rejects it, merges it, or gives it back to the office.
    S.assigned: frozenset({S.received, S.rejected, S.merged, *_DISPOSALS}),
    # A unit rectifies (交办): the group replies, verifies the rectification, or finds a clue.
    S.handed_over: frozenset({S.replied, S.verifying, S.transferred}),
    S.transferred: frozenset({S.replied, S.closed}),  # the commission takes it over (移交)
    S.referred: frozenset({S.replied, S.closed}),  # another department (转办)
    S.verifying: frozenset({S.replied, S.rejected, *(_DISPOSALS - {S.verifying})}),
    S.filed: frozenset({S.replied, S.closed}),
    S.rejected: frozenset({S.closed, S.reopened}),  # the citizen reads the reason; a mistake reopens
    S.replied: frozenset({S.closed, S.rated, S.reopened}),
    S.closed: frozenset({S.rated, S.reopened}),
    S.rated: frozenset({S.reopened}),  # 不满意 reopens; a second one escalates to the office
    S.reopened: frozenset({S.assigned, S.received, S.rejected, S.merged, S.replied, *_DISPOSALS}),
    S.merged: frozenset(),  # the main case carries on; its replies reach this case's citizen
}
# Waiting for a group's decision (their number balances new assignments).
UNDISPOSED = frozenset({S.received, S.assigned, S.reopened})
# Nothing more happens unless someone reopens it.
FINISHED = frozenset({S.closed, S.rated, S.merged})


class TransitionError(ValueError):
    """A move the lifecycle does not allow (e.g. replying to a merged case)."""


@dataclass(frozen=True)
class Actor:
    """Who made an event: the citizen, the system (routing, sweeps) or a staff member."""
    kind: str  # citizen | system | staff
    staff_id: int | None = None

    @classmethod
    def staff(cls, staff_id: int) -> Actor:
        return cls("staff", staff_id)


OPENED = "submitted"  # the action of a case's first event
CITIZEN = Actor("citizen")
SYSTEM = Actor("system")


def allowed(frm: str | S, to: str | S) -> bool:
    return S(to) in TRANSITIONS[S(frm)]


def open_case(s: Session, case: Case, actor: Actor, note: str | None = None) -> CaseEvent:
    """The first event of a new (flushed) case: it is received (受理), publicly."""
    case.status = S.received.value
    return _event(s, case, actor, OPENED, None, S.received.value, note, public=True)


def move(s: Session, case: Case, to: str | S, actor: Actor, action: str, note: str | None = None,
         public: bool = False) -> CaseEvent:
    """Move `case` to status `to` and write the event; refuses a move the lifecycle does not allow."""
    frm, to = S(case.status), S(to)
    if to not in TRANSITIONS[frm]:
        raise TransitionError(f"a case {frm.value} cannot become {to.value} ({action})")
    case.status = to.value
    case.updated_at = utcnow()
    return _event(s, case, actor, action, frm.value, to.value, note, public)


def record(s: Session, case: Case, actor: Actor, action: str, note: str | None = None,
           public: bool = False) -> CaseEvent:
    """An event that leaves the status as it is (a note, a label correction, a second reply)."""
    return _event(s, case, actor, action, case.status, case.status, note, public)


def _event(s: Session, case: Case, actor: Actor, action: str, frm: str | None, to: str, note: str | None,
           public: bool) -> CaseEvent:
    event = CaseEvent(case_id=case.id, actor=actor.kind, staff_id=actor.staff_id, action=action,
                      from_status=frm, to_status=to, note=note, public=public)
    s.add(event)
    return event
