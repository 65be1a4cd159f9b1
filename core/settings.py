"""Typed settings, parsed once from the environment (and a `.env` file).

Outside development a missing secret stops start-up with a clear message; in development
the secrets are generated once per instance folder and kept in `instance/dev-secrets.json`,
so a fresh clone runs with no set-up and reporter identities stay readable across restarts.
"""
from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

SECRETS = ("SECRET_KEY", "IDENTITY_KEY", "WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_SECRET")


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
        if missing:
            if app_env != "development":
                raise ConfigError(
                    f"APP_ENV={app_env}: set {', '.join(missing)} in the environment or .env "
                    "(only development generates secrets by itself)")
            values.update({k: v for k, v in _dev_secrets(instance).items() if not values.get(k)})
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
        if env.get("PUSH_MAX_AGE"):
            kwargs["push_max_age"] = int(env["PUSH_MAX_AGE"])
        kwargs.update(overrides)
        if kwargs["wechat_aes_key"] and len(kwargs["wechat_aes_key"]) != 43:
            raise ConfigError("WECHAT_AES_KEY (EncodingAESKey) must be 43 characters long")
        return cls(**kwargs)


def _dev_secrets(instance: Path) -> dict[str, str]:
    """Secrets made once per instance folder for development. Random, the webhook token too: a
    server started without APP_ENV by mistake must not accept pushes signed with a known token.
    Several processes may start at once (gunicorn workers, the cron, a CLI): the file is
    written privately and linked into place atomically, so all of them read the winner's keys."""
    path = instance / "dev-secrets.json"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
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
