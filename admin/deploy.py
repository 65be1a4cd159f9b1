"""Load a deployment file (部署文件): office, round, unit tree, groups, staff and QR codes.

Idempotent: every record is matched by its natural key (office and round by name, unit by
path, group by round + code, staff by login, QR code by scene) and only changed fields are
written, so loading the same file twice changes nothing.

A round's dates are dates (2026-11-01), or for a demo or a rehearsal relative to the Beijing day
the file is loaded (`start: today-30`, `end: today+60`): loading it again on another day moves
the round.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin import round_rules
from core.db import utcnow
from core import clock
from core.models import Group, Office, QrCode, Round, Staff, StaffSession, Unit, UnitAlias
from core.models.org import GROUP_ROLES, Role

UNIT_KINDS = {"township", "village", "community", "department"}
STAFF_ROLES = GROUP_ROLES


class DeploymentError(ValueError):
    """The file does not describe a valid deployment; the message says where."""


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    outside: list[str] = field(default_factory=list)  # home units recorded outside `units`
    moved: list[str] = field(default_factory=list)  # QR codes taken over from another round
    placed: str | None = None  # the round's dates, when the file gives them relative to today

    def count(self, what: str, created: bool) -> None:
        target = self.created if created else self.updated
        target[what] = target.get(what, 0) + 1

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.outside or self.moved)

    def __str__(self) -> str:
        placed = f"\n{self.placed}" if self.placed else ""
        if not self.changed:
            return "nothing changed (already loaded)" + placed
        parts = [f"created {k}: {v}" for k, v in sorted(self.created.items())]
        parts += [f"updated {k}: {v}" for k, v in sorted(self.updated.items())]
        text = "; ".join(parts)
        if self.outside:
            text += "\nhome units not among the file's units, recorded (check the spelling): " + ", ".join(self.outside)
        if self.moved:
            # Two rounds' files listing one scene take it from each other at every load: say so.
            text += "\nqr codes moved here from another round (check that file): " + ", ".join(self.moved)
        return text + placed


def load_deployment(session: Session, data: dict[str, Any], today: date | None = None) -> LoadReport:
    """`today` (default: the Beijing date now) is what relative round dates count from."""
    if not isinstance(data, dict):
        raise DeploymentError("the file must be a mapping with office, round, units, groups, qrcodes")
    _check_unique(data)
    report = LoadReport()
    office_spec = _mapping(data.get("office"), "office")
    commission = _mapping(data.get("commission"), "commission")
    office = _upsert(session, report, Office, {"name": _req(data, "office", "name")},
                     {**{k: _str(office_spec.get(k)) for k in ("phone", "mailbox", "email")},
                      "commission_name": _str(commission.get("name")),
                      "identity_retention_days": _retention(office_spec)})
    session.flush()
    rnd = _mapping(data.get("round"), "round")
    today = today or clock.today()
    start, end = _date(rnd, "start", today), _date(rnd, "end", today)
    if end < start:
        raise DeploymentError(f"round: end {end} is before start {start}")
    if any(_relative(rnd.get(k)) for k in ("start", "end")):
        report.placed = f"round dates counted from today ({today}): {start} to {end}"
    try:
        reminders, cards = round_rules.parse_reminder_days(rnd.get("reminder_days")), \
            round_rules.parse_card_rules(rnd.get("cards"))
    except round_rules.RulesError as exc:
        raise DeploymentError(str(exc)) from None
    round_ = _upsert(session, report, Round, {"name": _req(data, "round", "name")}, {
        "office_id": office.id, "start": start, "end": end,
        "handover_days": _number(rnd.get("handover_days", 15), int, "round: handover_days"),
        "reminder_days": reminders, "card_rules": cards,
    })
    session.flush()
    for spec in _list(data.get("units"), "units"):
        _load_unit(session, report, spec, parent=None)
    session.flush()
    for g in _list(data.get("groups"), "groups"):
        _load_group(session, report, round_, g)
    if "groups" in data:  # a file without the section says nothing about staff
        _detach_unlisted_staff(session, report, round_, data)
    _load_accounts(session, report, office_spec, commission)
    _deactivate_unlisted(session, report, round_, data)
    _load_qrcodes(session, report, round_, data)
    session.flush()
    return report


def _load_unit(session: Session, report: LoadReport, spec: dict, parent: Unit | None) -> None:
    spec = _mapping(spec, "units")
    name = _str(spec.get("name"))
    if not name or "/" in name:
        raise DeploymentError(f"units: a unit needs a name without '/' ({spec!r})")
    kind = spec.get("kind") or ("village" if parent is not None else "township")
    if kind not in UNIT_KINDS:
        raise DeploymentError(f"units: {name}: kind must be one of {', '.join(sorted(UNIT_KINDS))}")
    path = f"{parent.path}/{name}" if parent else name
    unit = _upsert(session, report, Unit, {"path": path}, {
        "name": name, "kind": kind, "parent_id": parent.id if parent else None,
        "lat": _number(spec.get("lat"), float, f"units: {name}: lat"),
        "lng": _number(spec.get("lng"), float, f"units: {name}: lng"),
    })
    session.flush()
    have = {a.alias for a in unit.aliases}
    for alias in _list(spec.get("aliases"), f"units: {name}: aliases"):
        alias = str(alias).strip()
        if len(alias) < 2:  # one character (青) would name a unit in half of all reports
            raise DeploymentError(f"units: {name}: alias {alias!r} is too short (two characters at least)")
        if alias not in have:
            unit.aliases.append(UnitAlias(alias=alias))
            have.add(alias)
            report.count("unit aliases", created=True)
    for person in _list(spec.get("liaisons"), f"units: {name}: liaisons"):
        _account(session, report, person, Role.unit_liaison, f"units: {name}: liaisons", unit_id=unit.id)
    for child in _list(spec.get("children"), f"units: {name}: children"):
        _load_unit(session, report, child, parent=unit)


def _load_group(session: Session, report: LoadReport, round_: Round, spec: dict) -> None:
    spec = _mapping(spec, "groups")
    code = _str(spec.get("code"))
    if not code or not spec.get("name"):
        raise DeploymentError(f"groups: every group needs a code and a name ({spec!r})")
    group = _upsert(session, report, Group, {"round_id": round_.id, "code": code},
                    {"name": str(spec["name"]), **{k: _str(spec.get(k)) for k in ("phone", "mailbox", "email")}})
    session.flush()
    units = [_unit_by_path(session, p, f"groups: {code}") for p in _list(spec.get("units"), f"groups: {code}: units")]
    before = {u.id for u in group.units}
    if before != {u.id for u in units}:
        group.units = units
        report.count("group units", created=not before)
    for member in _list(spec.get("staff"), f"groups: {code}: staff"):
        member = _mapping(member, f"groups: {code}: staff")
        login = _str(member.get("login"))
        role = member.get("role", "member")
        if not login or not member.get("name") or role not in STAFF_ROLES:
            raise DeploymentError(f"groups: {code}: staff need login, name and a role in {sorted(STAFF_ROLES)}")
        home = None
        if member.get("home_unit") is not None:
            path = member["home_unit"]
            if not isinstance(path, str) or not path.strip() or path.strip("/") != path:
                raise DeploymentError(f"staff {login}: home_unit must be a unit path like 柳溪镇/石门村, not {path!r}")
            home = session.scalar(sa.select(Unit).where(Unit.path == path))
            if home is None:
                # Allowed (a home may lie outside the round's units), but shown: a typo here would
                # silently defeat the conflict-of-interest rule.
                home = _unit_by_path(session, path, f"staff {login}", create=True)
                report.outside.append(f"{login}: {path}")
        _upsert(session, report, Staff, {"login": login}, {
            "name": str(member["name"]), "role": GROUP_ROLES[role].value, "group_id": group.id,
            "home_unit_id": home.id if home else None, "unit_id": None, "active": True,
        })
    session.flush()


def _detach_unlisted_staff(session: Session, report: LoadReport, round_: Round, data: dict) -> None:
    """A member the file no longer lists in this round's groups leaves the group (no new cases,
    no group work); the staff record and its history stay."""
    listed = {str(m.get("login")) for g in data.get("groups") or [] for m in g.get("staff") or []}
    groups = sa.select(Group.id).where(Group.round_id == round_.id)
    for member in session.scalars(sa.select(Staff).where(Staff.group_id.in_(groups))):
        if member.login not in listed:
            member.group_id = None
            report.count("staff removed from their group", created=False)
    session.flush()


def _load_accounts(session: Session, report: LoadReport, office: dict, commission: dict) -> None:
    """The office's admins and auditors and the commission's liaisons (unit liaisons come with
    their unit)."""
    for key, role in (("admins", Role.office_admin), ("auditors", Role.auditor)):
        for person in _list(office.get(key), f"office: {key}"):
            _account(session, report, person, role, f"office: {key}")
    for person in _list(commission.get("liaisons"), "commission: liaisons"):
        _account(session, report, person, Role.commission_liaison, "commission: liaisons")
    session.flush()


def _account(session: Session, report: LoadReport, person: Any, role: Role, where: str,
             unit_id: int | None = None) -> None:
    person = _mapping(person, where)
    login, name = _str(person.get("login")), person.get("name")
    if not login or not name:
        raise DeploymentError(f"{where}: every account needs a login and a name ({person!r})")
    _upsert(session, report, Staff, {"login": login}, {
        "name": str(name), "role": role.value, "group_id": None, "home_unit_id": None, "unit_id": unit_id,
        "active": True,
    })


def _listed_logins(data: dict) -> dict[str, set[str]]:
    """Every login the file lists, by the section that speaks for it."""
    def logins(people) -> set[str]:
        people = people if isinstance(people, list) else []
        return {str(p.get("login")) for p in people if isinstance(p, dict)}

    def unit_logins(units) -> set[str]:
        found = set()
        for u in units if isinstance(units, list) else []:
            if isinstance(u, dict) and isinstance(u.get("children") or [], list):
                found |= logins(u.get("liaisons") if isinstance(u.get("liaisons"), list) else []) \
                    | unit_logins(u.get("children"))
        return found

    office, commission = data.get("office"), data.get("commission")
    office = office if isinstance(office, dict) else {}
    commission = commission if isinstance(commission, dict) else {}
    return {
        Role.office_admin.value: logins(office.get("admins")),
        Role.auditor.value: logins(office.get("auditors")),
        Role.commission_liaison.value: logins(commission.get("liaisons")),
        Role.unit_liaison.value: unit_logins(data.get("units")),
        "groups": {str(m.get("login")) for g in data.get("groups") or [] if isinstance(g, dict)
                   for m in g.get("staff") or [] if isinstance(m, dict)},
    }


def _deactivate_unlisted(session: Session, report: LoadReport, round_: Round, data: dict) -> None:
    """An account of a kind the file lists, which the file no longer lists, loses access at once:
    inactive, its desk sessions deleted. The record stays (its history names it); listing the
    login again brings it back (with its password). Group staff go when they belong to no group
    any more: another round's groups keep theirs."""
    listed = _listed_logins(data)
    everyone = set().union(*listed.values())
    office = _mapping(data.get("office"), "office")
    sections = {Role.office_admin.value: "admins" in office,
                Role.auditor.value: "auditors" in office,
                Role.commission_liaison.value: "commission" in data,
                Role.unit_liaison.value: "units" in data}
    for member in session.scalars(sa.select(Staff).where(Staff.active.is_(True))):
        if member.login in everyone:
            continue
        if member.role in sections:
            drop = sections[member.role]
        else:  # group staff: out of every group (this load took them out of this round's)
            drop = "groups" in data and member.group_id is None
        if drop:
            member.active = False
            session.execute(sa.delete(StaffSession).where(StaffSession.staff_id == member.id))
            report.count("accounts deactivated", created=False)
    session.flush()


def _load_qrcodes(session: Session, report: LoadReport, round_: Round, data: dict) -> None:
    """The round's posters, matched by scene; those the file's list leaves out are retired."""
    scenes = set()
    for q in _list(data.get("qrcodes"), "qrcodes"):
        q = _mapping(q, "qrcodes")
        scene = _str(q.get("scene"))
        if not scene:
            raise DeploymentError(f"qrcodes: every entry needs a scene ({q!r})")
        if scene in scenes:
            raise DeploymentError(f"qrcodes: scene {scene} is listed twice")
        scenes.add(scene)
        group = None
        if q.get("group"):
            group = session.scalar(sa.select(Group).where(Group.round_id == round_.id, Group.code == str(q["group"])))
            if group is None:
                raise DeploymentError(f"qrcodes: {scene}: no group {q['group']!r} in this round")
        unit = _unit_by_path(session, q["unit"], f"qrcodes: {scene}") if q.get("unit") else None
        other = session.scalar(sa.select(Round.name).join(QrCode, QrCode.round_id == Round.id).where(
            QrCode.scene == scene, QrCode.round_id != round_.id))
        if other is not None:
            report.moved.append(f"{scene} (from {other})")
        _upsert(session, report, QrCode, {"scene": scene}, {
            "round_id": round_.id,
            "group_id": group.id if group else None,
            "unit_id": unit.id if unit else None,
            "retired_at": None,  # listed again: back in use
        })
    if "qrcodes" in data:  # a file without the section says nothing about posters
        _retire_unlisted_codes(session, report, round_, scenes)


def _retire_unlisted_codes(session: Session, report: LoadReport, round_: Round, scenes: set[str]) -> None:
    """A poster of this round the file no longer lists is retired (停用), not deleted: cases and
    conversations keep pointing at it, scans of it greet as the office, routing ignores it."""
    unlisted = sa.select(QrCode).where(QrCode.round_id == round_.id, QrCode.retired_at.is_(None),
                                       QrCode.scene.not_in(scenes))
    for code in session.scalars(unlisted):
        code.retired_at = utcnow()
        report.count("qr codes retired", created=False)


def _unit_by_path(session: Session, path: str, where: str, create: bool = False) -> Unit:
    """A unit by its path. A staff member's home unit may lie outside the round's units
    (that is the point of cross-inspection); `create` records it, kind inferred from depth."""
    unit = session.scalar(sa.select(Unit).where(Unit.path == str(path)))
    if unit is not None:
        return unit
    if not create:
        raise DeploymentError(f"{where}: no unit {path!r} in units")
    parent = None
    for depth, name in enumerate(str(path).split("/")):
        sub = f"{parent.path}/{name}" if parent else name
        unit = session.scalar(sa.select(Unit).where(Unit.path == sub))
        if unit is None:
            unit = Unit(name=name, path=sub, kind="township" if depth == 0 else "village", parent=parent)
            session.add(unit)
            session.flush()
        parent = unit
    return unit


def _upsert(session: Session, report: LoadReport, model, key: dict, values: dict):
    obj = session.scalar(sa.select(model).filter_by(**key))
    label = model.__tablename__.replace("_", " ")
    if obj is None:
        obj = model(**key, **values)
        session.add(obj)
        report.count(label, created=True)
        return obj
    changed = False
    for k, v in values.items():
        if getattr(obj, k) != v:
            setattr(obj, k, v)
            changed = True
    if changed:
        report.count(label, created=False)
    return obj


def _req(data: dict, section: str, key: str) -> str:
    value = _mapping(data.get(section), section).get(key)
    if not value:
        raise DeploymentError(f"{section}: {key} is required")
    return str(value)


_RELATIVE = re.compile(r"today\s*(?:([+-])\s*(\d{1,4}))?")


def _date(spec: dict, key: str, today: date) -> date:
    """A date (YAML reads 2026-11-01 as one), or `today`, `today+N`, `today-N` (N days)."""
    value = spec.get(key)
    if isinstance(value, date):
        return value
    if m := _relative(value):
        sign, days = m.groups()
        return today + timedelta(days=int(days or 0) * (-1 if sign == "-" else 1))
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DeploymentError(f"round: {key} must be a date like 2026-11-01, or days from the day of loading"
                              f" like today-30, not {value!r}") from None


def _relative(value: Any) -> re.Match | None:
    return None if isinstance(value, date) else _RELATIVE.fullmatch(str(value).strip())


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DeploymentError(f"{where}: expected a mapping (key: value), not {value!r}")
    return value


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise DeploymentError(f"{where}: expected a list ([a, b] or - items), not {value!r}")
    return value


def _retention(office: dict) -> int:
    """office: identity_retention_days (保存期限, days after a case closed; default 180)."""
    days = _number(office.get("identity_retention_days", 180), int, "office: identity_retention_days")
    if days < 1:
        raise DeploymentError("office: identity_retention_days must be 1 or more")
    return days


def _number(value: Any, kind: type, where: str):
    if value is None:
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise DeploymentError(f"{where} must be a number, not {value!r}") from None


def _check_unique(data: dict) -> None:
    """Within one file: a group code once, a login in one group (and in one role), a unit
    inspected by one group."""
    roles: dict[str, str] = {}
    for role, logins_ in _listed_logins(data).items():
        for login in logins_:
            if login in roles:
                raise DeploymentError(f"login {login} is listed as {roles[login]} and as {role}")
            roles[login] = role
    codes, logins, inspected = set(), {}, {}
    for g in data.get("groups") or []:
        if not isinstance(g, dict):
            continue  # reported where groups are loaded
        code = str(g.get("code"))
        if code in codes:
            raise DeploymentError(f"groups: code {code} is used twice")
        codes.add(code)
        for member in g.get("staff") or []:
            login = str(member.get("login")) if isinstance(member, dict) else None
            if login in logins:
                raise DeploymentError(f"staff {login} is listed in groups {logins[login]} and {code}")
            logins[login] = code
        units = g.get("units")
        for path in units if isinstance(units, list) else []:
            if str(path) in inspected:
                raise DeploymentError(f"unit {path} is inspected by groups {inspected[str(path)]} and {code}")
            inspected[str(path)] = code


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
