"""The office's set-up for a round: rounds, groups, inspected units, staff, QR posters."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, one_of

group_units = sa.Table(
    "group_units", Base.metadata,
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("unit_id", sa.ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
)


class Office(Base):
    """巡察办: one per deployment; its public contact closes every greeting without a group."""
    __tablename__ = "offices"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    mailbox: Mapped[str | None] = mapped_column(sa.String(100))
    email: Mapped[str | None] = mapped_column(sa.String(100))
    commission_name: Mapped[str | None] = mapped_column(sa.String(100))  # 纪委监委, receives clues
    # 保存期限: a finished case's reporter identity is purged this many days after it closed.
    identity_retention_days: Mapped[int] = mapped_column(default=180, server_default="180")


class Round(Base):
    """巡察轮次."""
    __tablename__ = "rounds"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(sa.ForeignKey("offices.id"))
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    start: Mapped[date]
    end: Mapped[date]
    handover_days: Mapped[int] = mapped_column(default=15)
    # Deadlines and warnings (the deployment file's round settings; None: the defaults of
    # `admin.deploy`): the days before a handover's due date its unit is reminded, and the
    # thresholds of the yellow and red cards.
    reminder_days: Mapped[list | None] = mapped_column(sa.JSON)
    card_rules: Mapped[dict | None] = mapped_column(sa.JSON)
    office: Mapped[Office] = relationship()
    groups: Mapped[list["Group"]] = relationship(back_populates="round")

    def runs_on(self, day: date) -> bool:
        return self.start <= day <= self.end


class Unit(Base):
    """被巡察单位: a tree (township → village); `path` joins names with "/"."""
    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    name: Mapped[str] = mapped_column(sa.String(100))
    path: Mapped[str] = mapped_column(sa.String(300), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # township | village | community | department
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    parent: Mapped["Unit | None"] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list["Unit"]] = relationship(back_populates="parent")
    aliases: Mapped[list["UnitAlias"]] = relationship(cascade="all, delete-orphan", back_populates="unit")


class UnitAlias(Base):
    __tablename__ = "unit_aliases"
    __table_args__ = (sa.UniqueConstraint("unit_id", "alias"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("units.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(sa.String(100), index=True)
    unit: Mapped[Unit] = relationship(back_populates="aliases")


class Group(Base):
    """巡察组, with its public contact."""
    __tablename__ = "groups"
    __table_args__ = (sa.UniqueConstraint("round_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("rounds.id"))
    code: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(100))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    mailbox: Mapped[str | None] = mapped_column(sa.String(100))
    email: Mapped[str | None] = mapped_column(sa.String(100))
    round: Mapped[Round] = relationship(back_populates="groups")
    units: Mapped[list[Unit]] = relationship(secondary=group_units)
    staff: Mapped[list["Staff"]] = relationship(back_populates="group")


class Role(str, enum.Enum):
    """What a staff account is. Three kinds of liaison must not be confused: the inspection
    group's own 联络员 (`group_liaison`, a member of the group who triages), a unit's liaison
    (`unit_liaison`, 被巡察单位联络员: sees only what is handed to the unit, never who reported it)
    and the discipline commission's liaison (`commission_liaison`, 纪委监委联络员: transferred clues).
    """
    group_leader = "group_leader"  # 组长
    group_deputy = "group_deputy"  # 副组长
    group_member = "group_member"  # 组员
    group_liaison = "group_liaison"  # 巡察组联络员
    group_office = "group_office"  # 巡察办派员: office staff working with a group
    office_admin = "office_admin"  # 巡察办
    auditor = "auditor"
    unit_liaison = "unit_liaison"
    commission_liaison = "commission_liaison"


# A group's staff in the deployment file (`role:`) and what each becomes.
GROUP_ROLES = {"leader": Role.group_leader, "deputy": Role.group_deputy, "member": Role.group_member,
               "liaison": Role.group_liaison, "office": Role.group_office}


class Staff(Base):
    """A staff account: a group member (组长/副组长/联络员) or one of the office's and others' roles
    (`Role`); a group member never handles a case about `home_unit`. A unit liaison speaks for
    `unit`. An account the deployment file no longer lists is not `active`: it cannot log in and
    its sessions end (the record stays, its events keep naming it)."""
    __tablename__ = "staff"
    __table_args__ = (sa.CheckConstraint(one_of("role", Role), name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    role: Mapped[str] = mapped_column(sa.String(20))  # a Role
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("groups.id"))
    home_unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))  # unit liaisons only
    password_hash: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    group: Mapped[Group | None] = relationship(back_populates="staff")
    home_unit: Mapped[Unit | None] = relationship(foreign_keys=[home_unit_id])
    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])


class StaffSession(Base):
    """A logged-in desk session (server side, so logout and deactivation end it at once): the
    cookie carries a random token, the table only its sha256. `seen_at` drives the idle timeout."""
    __tablename__ = "staff_sessions"
    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime]


class QrCode(Base):
    """二维码投放: a poster's WeChat scene string, bound to a round, usually a group and a unit.
    A code the round's deployment file no longer lists is retired (停用): scans greet as the
    office and routing ignores its group and unit; listing it again brings it back."""
    __tablename__ = "qr_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    scene: Mapped[str] = mapped_column(sa.String(64), unique=True)
    round_id: Mapped[int] = mapped_column(sa.ForeignKey("rounds.id"))
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("groups.id"))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"))
    retired_at: Mapped[datetime | None]
    round: Mapped[Round] = relationship()
    group: Mapped[Group | None] = relationship()
    unit: Mapped[Unit | None] = relationship()

    def state(self, day: date) -> str:
        return poster_state(self.retired_at, self.round.start, self.round.end, day)

    def live_on(self, day: date) -> bool:
        """In use and its round running: its group takes what is reported through it."""
        return self.state(day) == "live"


def poster_state(retired_at: datetime | None, start: date, end: date, day: date) -> str:
    """A poster on `day`: "retired" (the office took it out of the deployment), "ahead" (its
    round has not begun), "over" (its round has ended) or "live". Only a live poster's group takes
    reports; the greeting, submission and routing all read it from here."""
    if retired_at is not None:
        return "retired"
    if day < start:
        return "ahead"
    return "over" if day > end else "live"
