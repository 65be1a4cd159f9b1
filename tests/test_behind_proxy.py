"""Behind nginx (`TRUSTED_PROXIES=1`): the client's address is the forwarded one, so a
per-address limit counts villagers, not the proxy."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.models import Case
from core.settings import Settings
from tests.mobile import report

TEXT = "村里的路灯坏了三个月没人修"


@pytest.fixture
def settings(test_env, tmp_path):
    return Settings.from_env({**test_env, "TRUSTED_PROXIES": "1"}, instance_path=tmp_path, testing=True,
                             job_retry_intervals=(0, 0))


def test_villagers_behind_the_proxy_have_a_limit_each(app, db):
    first, second = app.test_client(), app.test_client()
    first.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    second.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.20"
    for _ in range(10):
        assert report(first, text=TEXT).status_code == 200
    assert report(first, text=TEXT).status_code == 429  # the first villager's hour is used up
    assert report(second, text=TEXT).status_code == 200  # the proxy's own address would be too
    assert db.scalar(sa.select(sa.func.count()).select_from(Case)) == 11
