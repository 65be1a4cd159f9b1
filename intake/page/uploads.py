"""What the mobile form accepts (no Flask here): photos checked by their bytes, not by what the
browser says they are, kept under a size limit and stored without their metadata
(`intake.imagemeta`, as the chat's photos are); a location; the three ways to report."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.db import utcnow
from core.models import Attachment
from intake import media
from intake.imagemeta import JPEG_MAGIC, PNG_SIGNATURE, strip_metadata

MAX_PHOTOS = 4
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_TEXT = 2000
MAX_PLACE = 100
PHONE = re.compile(r"^(1\d{10}|0\d{2,3}-?\d{7,8})$")  # as the chat's 实名 takes it
WAYS = ("default", "named", "anonymous")


class BadForm(ValueError):
    """The form cannot be taken as it is; `str()` says why, for the citizen."""


def photo_type(content: bytes) -> str:
    """The photo's type by its first bytes: JPEG or PNG, nothing else."""
    if content.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if content.startswith(PNG_SIGNATURE):
        return "image/png"
    raise BadForm("只能上传 JPG 或 PNG 格式的照片。")


def photos(media_dir: Path, contents: list[bytes]) -> list[Attachment]:
    """The checked photos, cleaned of their metadata and stored (all checked before any is
    stored): the case's image attachments."""
    if len(contents) > MAX_PHOTOS:
        raise BadForm(f"最多上传{MAX_PHOTOS}张照片。")
    checked = []
    for content in contents:
        if len(content) > MAX_PHOTO_BYTES:
            raise BadForm("每张照片不能超过10MB。")
        checked.append((content, photo_type(content)))
    out = []
    for content, ctype in checked:
        cleaned = strip_metadata(content).content
        path, digest = media.store(media_dir, cleaned, ctype)
        out.append(Attachment(kind="image", status="stored", content_type=ctype, storage_path=path, sha256=digest,
                              size=len(cleaned), stored_at=utcnow(), attempts=0))
    return out


def location(lat: str, lng: str, place: str) -> Attachment | None:
    """The shared location (optional): coordinates from the phone's geolocation, and/or a place."""
    lat, lng, place = (lat or "").strip(), (lng or "").strip(), (place or "").strip()[:MAX_PLACE]
    if not (lat or lng or place):
        return None
    la = lo = None
    if lat or lng:
        try:
            la, lo = float(lat), float(lng)
        except ValueError:
            raise BadForm("位置坐标无效，请重新获取位置或只填写地点。") from None
        if not (-90 <= la <= 90 and -180 <= lo <= 180):
            raise BadForm("位置坐标无效，请重新获取位置或只填写地点。")
    return Attachment(kind="location", status="stored", lat=la, lng=lo, label=place or None, stored_at=utcnow(),
                      attempts=0)


@dataclass(frozen=True)
class Way:
    """How the citizen reports: 默认, 实名 (name and phone), 匿名."""
    anonymity: str
    name: str | None = None
    phone: str | None = None


def way(choice: str, name: str, phone: str) -> Way:
    choice = choice if choice in WAYS else "default"
    if choice != "named":
        return Way(choice)
    name, phone = (name or "").strip(), re.sub(r"\s", "", phone or "")
    if not 1 <= len(name) <= 20:
        raise BadForm("实名反映请填写姓名（20字以内）。")
    if not PHONE.match(phone):
        raise BadForm("实名反映请填写正确的手机号或固定电话。")
    return Way("named", name, phone)


def text(value: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_TEXT:
        raise BadForm(f"反映内容请控制在{MAX_TEXT}字以内。")
    return value
