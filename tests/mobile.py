"""Helpers for the mobile page's tests: its CSRF token, a report through the real form."""
from __future__ import annotations

import io
import re

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 12; HuaPhone) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Chrome/107.0 Mobile Safari/537.36 MicroMessenger/8.0.47.2560(0x28002F35) NetType/WIFI Language/zh_CN")


def page_csrf(client, path: str = "/r/status") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def report(client, path: str = "/r/G1-baisha", photos: list[tuple[bytes, str]] = (), **fields):
    """POST the report form; `photos` as (bytes, filename)."""
    data = {"csrf_token": page_csrf(client, path), "text": "", "way": "default", **fields}
    data["photos"] = [(io.BytesIO(content), name) for content, name in photos]
    return client.post(path, data=data, content_type="multipart/form-data")


def codes(html: str) -> tuple[str, str | None]:
    number = re.search(r'id="tracking-no">(XC\d+)<', html).group(1)
    code = re.search(r'id="query-code">([0-9A-Z]+)<', html)
    return number, code.group(1) if code else None
