"""Configuration: a deployment (any APP_ENV but development and testing) needs safe mode, strong
secrets, PostgreSQL and Redis; testing needs every secret; development generates its own once."""
from __future__ import annotations

import secrets
import string
from pathlib import Path

import pytest

from core.identity import IdentityVault
from core.settings import ConfigError, Settings

MAKE_KEY = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
MAKE_TOKEN = 'python3 -c "import secrets; print(secrets.token_hex(16))"'


def production_env(**changes: str | None) -> dict[str, str]:
    """A valid production environment (values as the README's commands and WeChat make them),
    with `changes` applied (None: unset)."""
    env = {"APP_ENV": "production", "SECRET_KEY": secrets.token_urlsafe(32), "IDENTITY_KEY": secrets.token_urlsafe(32),
           "WECHAT_TOKEN": secrets.token_hex(16), "WECHAT_APPID": "wx" + secrets.token_hex(8),
           "WECHAT_SECRET": secrets.token_hex(16),
           "WECHAT_AES_KEY": "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43)),
           "DATABASE_URL": "postgresql://mashang@db.internal/mashang", "REDIS_URL": "redis://redis.internal:6379/0",
           "PUBLIC_URL": "https://xuncha.example.gov.cn", "WECHAT_TEMPLATE_ID": "Jq0aXvB7" + secrets.token_hex(8)}
    env.update(changes)
    return {k: v for k, v in env.items() if v is not None}


def test_a_valid_production_environment_starts(tmp_path):
    env = production_env()
    s = Settings.from_env(env, instance_path=tmp_path)
    assert (s.env, s.wechat_aes_key, s.redis_url) == ("production", env["WECHAT_AES_KEY"], env["REDIS_URL"])
    assert s.database_url == "postgresql+psycopg://mashang@db.internal/mashang"
    assert not (tmp_path / "dev-secrets.json").exists()  # nothing generated outside development
    # An upper-case AppSecret as the console may show it, a passphrase-like key: fine.
    Settings.from_env(production_env(WECHAT_SECRET=secrets.token_hex(16).upper(),
                                     SECRET_KEY="correct horse battery staple 7 villages"), instance_path=tmp_path)


@pytest.mark.parametrize("changes, problem", [
    ({"WECHAT_AES_KEY": None}, "WECHAT_AES_KEY is unset (plain mode)"),
    ({"WECHAT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}, "WECHAT_AES_KEY is WeChat's published sample key"),
    ({"WECHAT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDE+/"}, "WECHAT_AES_KEY is not an EncodingAESKey"),
    ({"SECRET_KEY": "x"}, "SECRET_KEY is shorter than 32 characters"),
    ({"SECRET_KEY": secrets.token_urlsafe(20)[:31]}, "SECRET_KEY is shorter than 32 characters"),
    ({"SECRET_KEY": "s" * 32}, "SECRET_KEY is weak (fewer than 8 different characters)"),
    ({"IDENTITY_KEY": "changeme" * 4}, "IDENTITY_KEY is weak"),
    ({"IDENTITY_KEY": "identity-key-for-tests"}, "IDENTITY_KEY is shorter than 32 characters"),
    ({"SECRET_KEY": "Same-secret-used-twice-0123456789", "IDENTITY_KEY": "Same-secret-used-twice-0123456789"},
     "IDENTITY_KEY is the same as SECRET_KEY"),
    ({"WECHAT_TOKEN": "spamtest"}, "WECHAT_TOKEN is not 32 letters and digits"),
    ({"WECHAT_TOKEN": "_" + secrets.token_hex(16)[1:]}, "WECHAT_TOKEN is not 32 letters and digits"),
    ({"WECHAT_TOKEN": "ab" * 16}, "WECHAT_TOKEN is weak"),
    ({"WECHAT_SECRET": "testsecret"}, "WECHAT_SECRET is not the account's AppSecret (32 hex characters"),
    ({"WECHAT_SECRET": "0" * 32}, "WECHAT_SECRET is not the account's AppSecret"),
    ({"WECHAT_APPID": "wxtestappid00001"}, "WECHAT_APPID is not the account's AppID (wx and 16 hex characters"),
    ({"WECHAT_APPID": "wx123"}, "WECHAT_APPID is not the account's AppID"),
    ({"DATABASE_URL": None}, "DATABASE_URL is not PostgreSQL (SQLite is for development)"),
    ({"DATABASE_URL": "sqlite:////srv/mashang/instance/mashang.db"}, "DATABASE_URL is not PostgreSQL"),
    ({"REDIS_URL": None}, "REDIS_URL is unset"),
    ({"APP_ENV": "staging", "REDIS_URL": None}, "APP_ENV=staging: REDIS_URL is unset"),  # any env but dev/testing
    ({"PUBLIC_URL": None}, "PUBLIC_URL is not the product's https:// address"),
    ({"PUBLIC_URL": "http://xuncha.example.gov.cn"}, "PUBLIC_URL is not the product's https:// address"),
    ({"WECHAT_TEMPLATE_ID": None}, "WECHAT_TEMPLATE_ID is unset"),
])
def test_production_refuses(tmp_path, changes, problem):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(production_env(**changes), instance_path=tmp_path)
    message = str(err.value)
    listed = message.split(" — make ")[0]
    assert problem in listed and "; " not in listed and "\n" not in message  # that problem, nothing else
    if "SECRET_KEY" in problem or "IDENTITY_KEY" in problem:
        assert f" — make SECRET_KEY and IDENTITY_KEY with {MAKE_KEY}" in message
    if "IDENTITY_KEY is" in problem:  # replacing a key in use loses what it encrypted: said at once
        assert message.endswith("(a new IDENTITY_KEY cannot read identities stored under the old one)")
    if "WECHAT_TOKEN" in problem:
        assert message.endswith(f" — make WECHAT_TOKEN with {MAKE_TOKEN} (the same token goes into 基本配置)")


def test_production_names_every_problem_in_one_message(tmp_path):
    env = production_env(WECHAT_AES_KEY=None, SECRET_KEY="x", WECHAT_TOKEN="testtoken", DATABASE_URL=None,
                         REDIS_URL=None, WECHAT_APPID=None)
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env, instance_path=tmp_path)
    assert str(err.value) == (
        "APP_ENV=production: set WECHAT_APPID in the environment or .env (only development generates secrets by "
        "itself); WECHAT_AES_KEY is unset (plain mode): set the account's EncodingAESKey and choose safe mode "
        "(安全模式) in 基本配置; SECRET_KEY is shorter than 32 characters; WECHAT_TOKEN is not 32 letters and digits; "
        "DATABASE_URL is not PostgreSQL (SQLite is for development); REDIS_URL is unset (jobs would run inside the "
        f"web process) — make SECRET_KEY and IDENTITY_KEY with {MAKE_KEY}; WECHAT_TOKEN with {MAKE_TOKEN} "
        "(the same token goes into 基本配置)")


def test_testing_needs_every_secret_and_nothing_more(tmp_path):
    """APP_ENV=testing is the suite's (its RQ worker processes start from the environment alone):
    test secrets, plain mode, SQLite and in-process jobs are allowed, a missing secret is not."""
    env = {"APP_ENV": "testing", "SECRET_KEY": "s" * 32, "IDENTITY_KEY": "k", "WECHAT_TOKEN": "testtoken",
           "WECHAT_APPID": "wxtestappid00001", "WECHAT_SECRET": "testsecret"}
    s = Settings.from_env(env, instance_path=tmp_path)
    assert s.database_url.startswith("sqlite:///") and s.redis_url is None and s.wechat_aes_key is None
    with pytest.raises(ConfigError, match=r"^APP_ENV=testing: set WECHAT_SECRET in the environment"):
        Settings.from_env({**env, "WECHAT_SECRET": ""}, instance_path=tmp_path)
    assert not (tmp_path / "dev-secrets.json").exists()


def test_wsgi_start_up_fails_outside_development_without_secrets(tmp_path):
    import subprocess
    import sys

    env = {"APP_ENV": "production", "PATH": "/usr/bin:/bin", "INSTANCE_PATH": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", "import wsgi"], env=env, capture_output=True, text=True,
                       cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert r.returncode != 0
    assert r.stderr.strip().splitlines() == [
        "码上巡察 cannot start: APP_ENV=production: set SECRET_KEY, IDENTITY_KEY, WECHAT_TOKEN, WECHAT_APPID, "
        "WECHAT_SECRET in the environment or .env (only development generates secrets by itself); "
        "WECHAT_AES_KEY is unset (plain mode): set the account's EncodingAESKey and choose safe mode (安全模式) in "
        "基本配置; DATABASE_URL is not PostgreSQL (SQLite is for development); REDIS_URL is unset (jobs would run "
        "inside the web process); PUBLIC_URL is not the product's https:// address (template messages link the "
        "mobile page); WECHAT_TEMPLATE_ID is unset (the account's template for case updates, 模板消息) — make "
        f"SECRET_KEY and IDENTITY_KEY with {MAKE_KEY}; WECHAT_TOKEN with "
        f"{MAKE_TOKEN} (the same token goes into 基本配置)"]


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


def test_keyed_hashes_are_those_already_stored():
    """The blind index, the dedupe key and the submitted-piece tag are HMAC-SHA256 under keys
    derived from IDENTITY_KEY; how they are computed may change, their values may not (rows
    written before are looked up by them)."""
    import hashlib
    import hmac

    root = hashlib.sha256(b"k1").digest()

    def reference(label: bytes, value: str) -> str:
        return hmac.new(hmac.digest(root, label, "sha256"), value.encode(), hashlib.sha256).hexdigest()

    vault = IdentityVault("k1")
    for _ in range(2):  # a second use of the keyed state gives the same value
        assert vault.openid_hash("oOPENID123") == reference(b"blind-index", "oOPENID123")
        assert vault.push_key("oOPENID123", "msg", "42") == reference(b"event-dedupe", "oOPENID123|msg|42")[:48]
        assert vault.tag("piece") == reference(b"consumed-tags", "piece")
    assert vault.openid_hash("巡察") == reference(b"blind-index", "巡察")


def test_nonces_never_repeat_across_threads_and_forks():
    """Nonces come from a per-thread buffer of os.urandom: no two sealed values share one, in one
    thread, across threads, or in a child process forked with a half-used buffer."""
    import os
    import threading

    from core.identity import random_bytes

    vault = IdentityVault("k1")
    nonces = [vault.seal_bytes(b"x")[1:13] for _ in range(2000)]  # several 4 KiB buffers
    others: list[bytes] = []
    threads = [threading.Thread(target=lambda: others.extend(random_bytes(12) for _ in range(500))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first nonces, then out
        os.write(w, b"".join(random_bytes(12) for _ in range(10)))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(r, 120)
    os.close(r), os.close(w)
    nonces += others + [random_bytes(12) for _ in range(10)] + [child[i:i + 12] for i in range(0, 120, 12)]
    assert len(nonces) == 2000 + 2000 + 20 and all(len(n) == 12 for n in nonces)
    assert len(set(nonces)) == len(nonces)
    assert len(random_bytes(5000)) == 5000  # more than a buffer at once


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
