"""A search's pages (admin/listing.py): the first cases of the page's order are read for the
query's text first, the word index answers when they hold less than a page; either way every
matching case comes once, in order, and nothing else."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from admin import listing
from admin.listing import Filters, inbox_page
from tests.desk import make_case, staff


@pytest.mark.parametrize("scan", [3, 7, 1000])
@pytest.mark.parametrize("sort", ["newest", "oldest", "priority"])
def test_search_pages_return_every_match_once(db, monkeypatch, scan, sort):
    monkeypatch.setattr(listing, "SEARCH_SCAN", scan)
    base = datetime(2026, 11, 20)
    texts = ["白沙村低保名单不公开", "路灯坏了", "低保户没拿到钱", "修路款被挪用", "低 保两个字分开"]
    made = [make_case(db, texts[i % len(texts)] + f"（{i}）", created_at=base + timedelta(hours=i // 2),
                      priority=i % 3) for i in range(31)]
    want = {c.tracking_no for c in made if "低保" in c.text}
    rare = {c.tracking_no for c in made if "挪用" in c.text}
    admin = staff(db, "lizhuren")
    for q, expected in (("低保", want), ("挪用", rare), ("没有这个词", set())):
        seen, cursor = [], None
        while True:
            page = inbox_page(db, admin, Filters(q=q, sort=sort), cursor, limit=4)
            seen += [c.tracking_no for c in page.cases]
            if not page.next:
                break
            cursor = page.next
        assert len(seen) == len(set(seen)) and set(seen) == expected, (q, scan, sort)
