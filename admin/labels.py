"""Chinese words the desk shows for codes: roles, channels, kinds and domains, statuses."""
from __future__ import annotations

from functools import lru_cache

from core.models.org import Role
from intake.cases import CHANNELS
from intake.progress import STATUS_LABELS
from routing.taxonomy import load_taxonomy

ROLE_NAMES = {
    Role.office_admin: "巡察办管理员", Role.auditor: "审计员", Role.group_leader: "组长",
    Role.group_deputy: "副组长", Role.group_member: "组员", Role.group_liaison: "巡察组联络员",
    Role.group_office: "巡察办派员", Role.unit_liaison: "被巡察单位联络员", Role.commission_liaison: "纪委监委联络员",
}
CHANNEL_NAMES = {"wechat": "微信", "h5": "手机网页", "meeting": "屋场恳谈会", "letter": "来信", "phone": "来电",
                 "visit": "来访"}
assert set(CHANNEL_NAMES) == set(CHANNELS)
STATUS_NAMES = {status.value: name for status, name in STATUS_LABELS.items()}
ANONYMITY_NAMES = {"default": "一般（不显示身份）", "named": "实名（身份不显示）", "anonymous": "匿名"}


@lru_cache(maxsize=1)
def _taxonomy():
    return load_taxonomy()


def taxonomy():
    """The taxonomy the desk labels with (the router's file)."""
    return _taxonomy()


def kinds() -> dict[str, str]:
    return _taxonomy().kinds


def domains() -> dict[str, str]:
    return _taxonomy().domains


def role_name(role: str) -> str:
    return ROLE_NAMES[Role(role)]
