"""Configuration: secrets required outside development; development generates its own once."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.identity import IdentityVault
from core.settings import ConfigError, Settings


def test_production_without_secrets_stops_with_a_clear_message(tmp_path):
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"APP_ENV": "production", "SECRET_KEY": "x"}, instance_path=tmp_path)
    assert "IDENTITY_KEY" in str(err.value) and "WECHAT_TOKEN" in str(err.value)


def test_wsgi_start_up_fails_outside_development_without_secrets(tmp_path):
    import subprocess
    import sys

    env = {"APP_ENV": "production", "PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True,
                       cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "码上巡察 cannot start: APP_ENV=production: set SECRET_KEY, IDENTITY_KEY, WECHAT_TOKEN, WECHAT_APPID, "
        "WECHAT_SECRET in the environment or .env (only development generates secrets by itself)"]


def test_development_secrets_are_generated_once_and_kept(tmp_path):
    a = Settings.from_env({}, instance_path=tmp_path)
    b = Settings.from_env({}, instance_path=tmp_path)
    assert a.identity_key == b.identity_key and len(a.identity_key) >= 32
    assert a.database_url.startswith("sqlite:///") and a.redis_url is None


def test_postgres_urls_use_psycopg3(tmp_path):
    s = Settings.from_env({"DATABASE_URL": "postgresql://u@h/db"}, instance_path=tmp_path)
    assert s.database_url == "postgresql+psycopg://u@h/db"


def test_bad_aes_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="43"):
        Settings.from_env({"WECHAT_AES_KEY": "short"}, instance_path=tmp_path)


def test_identity_is_encrypted_and_key_bound():
    vault = IdentityVault("k1")
    token = vault.encrypt("oOPENID123")
    assert b"oOPENID123" not in token and vault.decrypt(token) == "oOPENID123"
    assert vault.openid_hash("oOPENID123") == IdentityVault("k1").openid_hash("oOPENID123")
    assert vault.openid_hash("oOPENID123") != IdentityVault("k2").openid_hash("oOPENID123")
    with pytest.raises(ValueError, match="IDENTITY_KEY"):
        IdentityVault("k2").decrypt(token)


def test_processes_starting_together_share_one_set_of_dev_secrets(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from core.settings import Settings; "
            "s = Settings.from_env({'APP_ENV': 'development'}, instance_path=sys.argv[1]); "
            "print(s.identity_key, s.wechat_token)")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parent.parent) for _ in range(6)]
    seen = {p.communicate(timeout=30)[0].strip() for p in procs}
    assert len(seen) == 1 and all(p.returncode == 0 for p in procs)
    assert "mashang-dev-token" not in seen.pop()  # the webhook token is random, not a public constant
    secrets_file = tmp_path / "dev-secrets.json"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["dev-secrets.json"]  # no temporary files left


def test_commands_on_an_unmigrated_database_say_what_to_run(test_env, tmp_path):
    from product import create_app

    empty = tmp_path / "fresh"
    empty.mkdir()
    env = {k: v for k, v in test_env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["INSTANCE_PATH"] = str(empty)  # SQLite in a folder nobody migrated
    app = create_app(Settings.from_env(env, instance_path=empty, testing=True))
    runner = app.test_cli_runner()
    for args in (["routing", "eval", "routing/data/heldout.csv"], ["drafts", "list"], ["media", "status"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert "run `flask db upgrade`" in result.output and "Traceback" not in result.output
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["media", "status"]).exit_code == 0  # migrated: the command runs
    app.extensions["db"].dispose()
