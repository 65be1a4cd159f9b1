"""Helpers for the desk's tests: demo accounts with a password, logging in through the real
form, and cases in a chosen state (made as the product makes them, then placed)."""
from __future__ import annotations

import re
from datetime import date, timedelta

import sqlalchemy as sa

from admin.accounts import set_password
from core import lifecycle
from core.models import Case, Group, Handover, Staff, Unit
from core.models.case import CaseStatus as S

PASSWORD = "desk-password-2026"
LOGINS = ("lizhuren", "audit", "jw", "baisha", "zhang", "li", "wang")
_numbers = iter(range(1, 10**6))


def with_passwords(db, *logins: str) -> None:
    for login in logins or LOGINS:
        set_password(db, login, PASSWORD)
    db.commit()


def csrf(client) -> str:
    client.get("/admin/login")
    with client.session_transaction() as sess:
        return sess["csrf"]


def login(client, login: str, password: str = PASSWORD):
    return client.post("/admin/login", data={"login": login, "password": password, "csrf_token": csrf(client)})


def post(client, url: str, data: dict):
    with client.session_transaction() as sess:
        token = sess.get("csrf", "")
    return client.post(url, data={**data, "csrf_token": token})


def staff(db, login: str) -> Staff:
    return db.scalar(sa.select(Staff).where(Staff.login == login))


def make_case(db, text: str, unit: str | None = "青石镇/白沙村", group: str | None = "G1",
              status: S = S.assigned, handed_to: str | None = None, transferred: bool = False,
              vault=None, name: str | None = None, phone: str | None = None, **values) -> Case:
    case = Case(channel="wechat", text=text, summary=text[:120], anonymity="named" if name else "default",
                unit_id=_unit(db, unit), group_id=_group(db, group), **values)
    if name:
        case.contact_name_enc, case.contact_phone_enc = vault.encrypt(name), vault.encrypt(phone)
    db.add(case)
    db.flush()
    case.tracking_no = f"XC261201{next(_numbers):06d}"
    lifecycle.open_case(db, case, lifecycle.CITIZEN, "通过微信公众号提交")
    if transferred:
        lifecycle.move(db, case, S.transferred, lifecycle.SYSTEM, "transfer", "移交纪委监委")
    if handed_to:
        db.add(Handover(case_id=case.id, unit_id=_unit(db, handed_to), due_on=date.today() + timedelta(days=15)))
    case.status = status.value
    db.commit()
    return case


def _unit(db, path):
    return db.scalar(sa.select(Unit.id).where(Unit.path == path)) if path else None


def _group(db, code):
    return db.scalar(sa.select(Group.id).where(Group.code == code)) if code else None


def tracking_numbers(html: str) -> list[str]:
    return re.findall(r">(XC\d{12})<", html)
