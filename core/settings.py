"""Typed settings, parsed once from the environment (and a `.env` file).

In development the secrets are generated once per instance folder and kept in
`instance/dev-secrets.json`, so a fresh clone runs with no set-up and reporter identities stay
readable across restarts. `testing` (the test suite, and the RQ worker processes it starts)
requires every secret but nothing more. Any other APP_ENV (production, staging, a typo) is a
deployment: it refuses to start, in one line naming every problem, without safe (AES) mode,
with a short or weak secret, or without PostgreSQL and Redis.
"""
from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

SECRETS = ("SECRET_KEY", "IDENTITY_KEY", "WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_SECRET")
# The environments that are not a deployment; every other APP_ENV gets the deployment rules.
NOT_DEPLOYED = ("development", "testing")
MIN_KEY_LENGTH = 32  # SECRET_KEY, IDENTITY_KEY
MIN_DISTINCT_CHARS = 8  # fewer in 32+ characters is a pattern ("s" * 32, "changeme" * 4), not randomness
# WeChat's own formats: the token is ours to choose (3-32 letters and digits: we take 32),
# the AppSecret and AppID are what the 公众平台 shows (基本配置).
WECHAT_TOKEN_FORMAT = re.compile(r"[A-Za-z0-9]{32}")
WECHAT_SECRET_FORMAT = re.compile(r"[0-9a-fA-F]{32}")
WECHAT_APPID_FORMAT = re.compile(r"wx[0-9a-fA-F]{16}")
WECHAT_AES_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{43}")
# WeChat's published sample EncodingAESKey (WECHAT.md): every SDK's tests know it.
SAMPLE_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEV_TEMPLATE_ID = "mashang-dev-case-update"
MAKE_KEY = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
MAKE_TOKEN = 'python3 -c "import secrets; print(secrets.token_hex(16))"'


class ConfigError(RuntimeError):
    """The environment does not describe a runnable deployment."""


@dataclass(frozen=True)
class Settings:
    env: str
    instance_path: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    identity_key: str
    wechat_token: str
    wechat_appid: str
    wechat_secret: str
    wechat_aes_key: str | None = None
    wechat_api_base: str | None = None
    # Pushes older (or newer) than this many seconds are refused as replays.
    push_max_age: int = 300
    # WeChat pushes are small; anything bigger than this is refused with 413.
    max_push_bytes: int = 32 * 1024
    media_dir: Path = field(default=Path("instance/media"))
    # In-process jobs: seconds between retries (RQ gets the same list).
    job_retry_intervals: tuple[int, ...] = (10, 60, 300)
    # An untouched draft counts as abandoned after this many hours (it resumes if the citizen
    # writes again), and is forgotten (deleted, with its media) after this many days.
    draft_abandon_hours: int = 72
    draft_forget_days: int = 14
    # Remind the citizen of an unsubmitted draft after this many quiet hours (inside 48 h).
    draft_remind_hours: int = 20
    # The product's public address (https://… once deployed): template messages link the mobile
    # page under it (intake.outbox).
    public_url: str = "http://127.0.0.1:5000"
    # The template message (模板消息) the outbox sends outside the 48-hour window: the account's
    # own id from 公众平台 (模板消息); the fake WeChat API accepts the development default.
    wechat_template_id: str = DEV_TEMPLATE_ID
    # Outbox delivery: a claim or an attempt older than this lost its worker; a template message
    # left in flight by a dead worker is resent if no receipt (TEMPLATESENDJOBFINISH) came in
    # this long after it; give up after this many attempts (the desk can retry).
    outbox_lease_seconds: int = 120
    outbox_receipt_seconds: int = 600
    outbox_max_attempts: int = 8
    # Reverse proxies (nginx) in front of the product, each adding X-Forwarded-For and -Proto:
    # the client's address (per-address limits, the audit log) is read through that many.
    trusted_proxies: int = 0
    testing: bool = False

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, instance_path: str | Path = "instance",
                 **overrides) -> "Settings":
        env: dict[str, str] = {}
        env_file = Path(".env")
        if environ is None:
            if env_file.exists():
                env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
            env.update(os.environ)
        else:
            env.update(environ)
        instance = Path(env.get("INSTANCE_PATH") or instance_path).resolve()
        app_env = env.get("APP_ENV", "development")
        values = {k: env.get(k) or None for k in SECRETS}
        missing = [k for k, v in values.items() if not v]
        if missing and app_env == "development":
            values.update({k: v for k, v in _dev_secrets(instance).items() if not values.get(k)})
            missing = []
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'mashang.db'}"
        if database_url.startswith("postgres://"):
            database_url = "postgresql://" + database_url[len("postgres://"):]
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        kwargs = dict(
            env=app_env,
            instance_path=instance,
            database_url=database_url,
            redis_url=env.get("REDIS_URL") or None,
            secret_key=values["SECRET_KEY"],
            identity_key=values["IDENTITY_KEY"],
            wechat_token=values["WECHAT_TOKEN"],
            wechat_appid=values["WECHAT_APPID"],
            wechat_secret=values["WECHAT_SECRET"],
            wechat_aes_key=env.get("WECHAT_AES_KEY") or None,
            wechat_api_base=env.get("WECHAT_API_BASE") or None,
            media_dir=Path(env.get("MEDIA_DIR") or instance / "media"),
        )
        if env.get("JOB_RETRY_INTERVALS"):
            kwargs["job_retry_intervals"] = tuple(int(x) for x in env["JOB_RETRY_INTERVALS"].split(","))
        if env.get("PUBLIC_URL"):
            kwargs["public_url"] = env["PUBLIC_URL"].rstrip("/")
        if env.get("WECHAT_TEMPLATE_ID"):
            kwargs["wechat_template_id"] = env["WECHAT_TEMPLATE_ID"]
        for name in ("outbox_lease_seconds", "outbox_receipt_seconds", "outbox_max_attempts"):
            if env.get(name.upper()):
                kwargs[name] = int(env[name.upper()])
        if env.get("TRUSTED_PROXIES"):
            kwargs["trusted_proxies"] = int(env["TRUSTED_PROXIES"])
        if env.get("PUSH_MAX_AGE"):
            kwargs["push_max_age"] = int(env["PUSH_MAX_AGE"])
        kwargs.update(overrides)
        problems = [f"set {', '.join(missing)} in the environment or .env "
                    "(only development generates secrets by itself)"] if missing else []
        if app_env not in NOT_DEPLOYED:
            problems += deployment_problems(kwargs)
        if problems:
            raise ConfigError(f"APP_ENV={app_env}: " + "; ".join(problems) + _how_to_make(problems))
        if kwargs["wechat_aes_key"] and len(kwargs["wechat_aes_key"]) != 43:
            raise ConfigError("WECHAT_AES_KEY (EncodingAESKey) must be 43 characters long")
        return cls(**kwargs)


def deployment_problems(values: dict) -> list[str]:
    """What keeps `values` (Settings fields) from being a deployment, one phrase each: safe
    mode, secrets long and random enough, WeChat's own formats, PostgreSQL and Redis. Unset
    secrets (None) are reported by the caller, not judged here."""
    problems = []
    aes = values.get("wechat_aes_key")
    if not aes:
        problems.append("WECHAT_AES_KEY is unset (plain mode): set the account's EncodingAESKey "
                        "and choose safe mode (安全模式) in 基本配置")
    elif aes == SAMPLE_AES_KEY:
        problems.append("WECHAT_AES_KEY is WeChat's published sample key (generate the account's own in 基本配置)")
    elif not WECHAT_AES_KEY_FORMAT.fullmatch(aes):
        problems.append("WECHAT_AES_KEY is not an EncodingAESKey (43 letters and digits)")
    secret_key, identity_key = values.get("secret_key"), values.get("identity_key")
    for name, value in (("SECRET_KEY", secret_key), ("IDENTITY_KEY", identity_key)):
        if value is not None and len(value) < MIN_KEY_LENGTH:
            problems.append(f"{name} is shorter than {MIN_KEY_LENGTH} characters")
        elif value is not None and _weak(value):
            problems.append(f"{name} is weak (fewer than {MIN_DISTINCT_CHARS} different characters)")
    if secret_key is not None and secret_key == identity_key:
        problems.append("IDENTITY_KEY is the same as SECRET_KEY (use two different secrets)")
    token = values.get("wechat_token")
    if token is not None and not WECHAT_TOKEN_FORMAT.fullmatch(token):
        problems.append("WECHAT_TOKEN is not 32 letters and digits")
    elif token is not None and _weak(token):
        problems.append(f"WECHAT_TOKEN is weak (fewer than {MIN_DISTINCT_CHARS} different characters)")
    secret = values.get("wechat_secret")
    if secret is not None and (not WECHAT_SECRET_FORMAT.fullmatch(secret) or _weak(secret)):
        problems.append("WECHAT_SECRET is not the account's AppSecret (32 hex characters, 基本配置)")
    appid = values.get("wechat_appid")
    if appid is not None and not WECHAT_APPID_FORMAT.fullmatch(appid):
        problems.append("WECHAT_APPID is not the account's AppID (wx and 16 hex characters, 基本配置)")
    if not str(values.get("database_url") or "").startswith("postgresql"):
        problems.append("DATABASE_URL is not PostgreSQL (SQLite is for development)")
    if not values.get("redis_url"):
        problems.append("REDIS_URL is unset (jobs would run inside the web process)")
    if not str(values.get("public_url") or "").startswith("https://"):
        problems.append("PUBLIC_URL is not the product's https:// address (template messages link the mobile page)")
    if values.get("wechat_template_id") in (None, DEV_TEMPLATE_ID):
        problems.append("WECHAT_TEMPLATE_ID is unset (the account's template for case updates, 模板消息)")
    return problems


def _weak(value: str) -> bool:
    return len(set(value)) < MIN_DISTINCT_CHARS


def _how_to_make(problems: list[str]) -> str:
    """The commands that make the secrets `problems` asks for."""
    text = " ".join(problems)
    hints = []
    if "SECRET_KEY" in text or "IDENTITY_KEY" in text:
        hints.append(f"SECRET_KEY and IDENTITY_KEY with {MAKE_KEY}"
                     # a set key being refused may already protect stored identities
                     + (" (a new IDENTITY_KEY cannot read identities stored under the old one)"
                        if "IDENTITY_KEY is" in text else ""))
    if "WECHAT_TOKEN" in text:
        hints.append(f"WECHAT_TOKEN with {MAKE_TOKEN} (the same token goes into 基本配置)")
    return " — make " + "; ".join(hints) if hints else ""


def _dev_secrets(instance: Path) -> dict[str, str]:
    """Secrets made once per instance folder for development. Random, the webhook token too: a
    server started without APP_ENV by mistake must not accept pushes signed with a known token.
    Several processes may start at once (gunicorn workers, the cron, a CLI): the file is
    written privately and linked into place atomically, so all of them read the winner's keys."""
    path = instance / "dev-secrets.json"
    if not path.exists():
        instance.mkdir(mode=0o700, parents=True, exist_ok=True)
        values = {
            "SECRET_KEY": secrets.token_urlsafe(32),
            "IDENTITY_KEY": secrets.token_urlsafe(32),
            "WECHAT_TOKEN": secrets.token_urlsafe(16),
            "WECHAT_APPID": "wxdevmashang0001",
            "WECHAT_SECRET": secrets.token_hex(16),
        }
        tmp = instance / f".dev-secrets.{os.getpid()}.{secrets.token_hex(4)}"
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(json.dumps(values, indent=2))
        try:
            os.link(tmp, path)  # fails if another process linked its file first: theirs wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return json.loads(path.read_text())
