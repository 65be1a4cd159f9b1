"""The pass on the real services cannot go green by skipping them (tests/services.py), and CI
prints why each skipped test skipped."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

INNER = '''
import pytest

@pytest.mark.needs_redis
def test_marked_redis():
    pytest.skip("Redis is not reachable")

def test_unmarked_but_about_redis():
    pytest.skip("needs REDIS_URL: in-process jobs have no queue to lose")

@pytest.mark.needs_postgres
def test_marked_postgres():
    pass

def test_about_something_else():
    pytest.skip("the labelled complaints file is absent")
'''


def inner_run(tmp_path: Path, **env: str) -> str:
    """A pytest session over INNER with the plugin, in the given environment."""
    (tmp_path / "test_inner.py").write_text(INNER, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if k not in ("TEST_REDIS_URL", "TEST_DATABASE_URL", "PYTEST_ADDOPTS")}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfEs", "-p", "tests.services", "-p", "no:cacheprovider",
                             "-c", str(tmp_path / "pytest.ini"), str(tmp_path / "test_inner.py")],
                            cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60)
    return result.stdout + result.stderr


def test_without_the_services_their_tests_skip_with_the_reason(tmp_path):
    out = inner_run(tmp_path)
    assert "4 skipped" in out, out
    assert "test_inner.py:4: needs TEST_REDIS_URL" in out and "test_inner.py:11: needs TEST_DATABASE_URL" in out, out
    assert "in-process jobs have no queue to lose" in out and "is absent" in out, out


def test_in_the_pass_with_redis_a_redis_test_that_skips_fails(tmp_path):
    out = inner_run(tmp_path, TEST_REDIS_URL="redis://127.0.0.1:6390")
    assert re.search(r"2 failed, 2 skipped", out), out
    assert "FAILED" in out and "skipped although TEST_REDIS_URL is set" in out, out
    assert "test_marked_redis" in out and "test_unmarked_but_about_redis" in out


def test_in_the_pass_with_postgres_a_postgres_test_must_run(tmp_path):
    out = inner_run(tmp_path, TEST_DATABASE_URL="postgresql://postgres@127.0.0.1:5432/test")
    assert re.search(r"1 passed, 3 skipped", out), out  # the marked test ran; Redis ones skip without it


def test_ci_prints_skip_reasons():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r'PYTEST_ADDOPTS="[^"]*-r\w*s', ci), ci


@pytest.mark.needs_redis
def test_redis_tests_use_the_server_of_TEST_REDIS_URL(redis_db, app):
    """Never another Redis (say the machine's shared 6379): the fixtures' clients and the app's
    jobs talk to the server TEST_REDIS_URL names."""
    from redis import Redis

    named = Redis.from_url(os.environ["TEST_REDIS_URL"], socket_connect_timeout=1)
    server = named.info("server")["run_id"]
    named.close()
    assert redis_db.info("server")["run_id"] == server
    assert app.extensions["jobs"].redis.info("server")["run_id"] == server
