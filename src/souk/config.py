"""Settings from environment variables with the prefix ``SOUK_``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOUK_", extra="ignore")

    data_dir: Path = Path("./souk-data")
    database_url: str | None = None
    secret_key: str | None = None
    # "default" in production; "cheapest" in tests (the hash is still argon2id).
    password_hash_profile: Literal["default", "cheapest"] = "default"
    site_name: str = "Souk"
    # fallback when the visitor's Accept-Language names no locale Babel knows ("US$12.50", "€9.99")
    default_locale: str = "en_001"
    max_upload_bytes: int = 5 * 1024 * 1024
    max_image_pixels: int = 40_000_000
    # whole request bodies (several files in one form) are refused above this
    max_request_bytes: int = 25 * 1024 * 1024
    # how long a process keeps the storefront pages anonymous visitors see (souk.web.page_cache); 0: off
    page_cache_seconds: float = Field(default=2.0, ge=0, le=300)
    session_days: int = 14
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_failure_window_seconds: int = 900
    # where the failed-login counts live when several processes serve the site: Redis when set, else the
    # database (both are shared by every process)
    redis_url: str | None = None
    redis_key_prefix: str = "souk:"
    # password reset links (sent by email) stop working after this many minutes
    password_reset_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # "forgot password" requests allowed per email and per IP address within an hour (429 beyond)
    password_reset_max_per_hour: int = Field(default=5, ge=1)
    password_reset_max_per_ip_hour: int = Field(default=20, ge=1)
    # outgoing email: SMTP when set (smtp://user:password@host:587, smtps://... for TLS; STARTTLS is used when
    # the server offers it), else every message is written as an .eml file under <data dir>/outbox
    smtp_url: str | None = None
    # the site's public address, used in links sent by email (never taken from the request's Host header)
    base_url: str = "http://localhost:8000"
    mail_from: str = "Souk <no-reply@localhost>"
    db_pool_size: int = 8
    # SQLite only: PRAGMA synchronous. FULL syncs the write-ahead log at every commit, so a committed order
    # survives a power cut; NORMAL syncs only at checkpoints (faster; a power cut may lose the last commits,
    # never corrupt the file)
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "FULL"
    debug_sql: bool = False
    # the background worker (jobs and timers, ``souk.worker``); ``souk serve`` runs it inside the web process
    # unless this is off (then run ``souk worker`` beside it)
    worker_in_process: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # jobs one worker runs at a time: a job mostly waits on the database, so several overlap well (8: under
    # full checkout load the embedded worker keeps up with the web; 2 paid a fifth of the orders, docs/performance.md)
    worker_concurrency: int = Field(default=8, ge=1, le=64)
    # a claimed job not finished within this time is taken back (its worker died) and a handler running longer
    # is stopped and retried
    worker_lease_seconds: int = Field(default=300, ge=5)
    # answers stored for Idempotency-Key headers are kept this long (at least a day)
    idempotency_key_hours: int = Field(default=24, ge=24)

    # money: the payment and payout providers ("simulated" is built in: test cards, signed webhooks);
    # the payment webhook signing secret defaults to one derived from the secret key
    payment_provider: Literal["simulated"] = "simulated"
    payment_webhook_secret: str | None = None
    # (the smallest payout is the trade policy's ``min_payout``: SOUK_POLICY_<MODEL>_MIN_PAYOUT)
    payout_provider: Literal["simulated"] = "simulated"
    # carriers sign their tracking webhooks (POST /api/v1/webhooks/carriers) with this secret; by default one
    # derived from the secret key
    carrier_webhook_secret: str | None = None

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("redis_url", "smtp_url")
    @classmethod
    def _url_scheme(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        schemes = {
            "redis_url": ("redis://", "rediss://", "unix://"),
            "smtp_url": ("smtp://", "smtps://"),
        }[str(info.field_name)]
        if not value.startswith(schemes):
            raise ValueError(f"must start with {' or '.join(schemes)}")
        return value

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'souk.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The secret key: from SOUK_SECRET_KEY, else generated once into the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key

    @cached_property
    def resolved_payment_webhook_secret(self) -> str:
        """The key payment webhooks are signed with: SOUK_PAYMENT_WEBHOOK_SECRET, else derived from the secret
        key (so every process of one marketplace agrees without more configuration)."""
        if self.payment_webhook_secret:
            return self.payment_webhook_secret
        return hmac.new(self.resolved_secret_key.encode(), b"payment-webhooks", hashlib.sha256).hexdigest()

    @cached_property
    def resolved_carrier_webhook_secret(self) -> str:
        """The key carrier tracking webhooks are signed with: SOUK_CARRIER_WEBHOOK_SECRET, else derived from the
        secret key."""
        if self.carrier_webhook_secret:
            return self.carrier_webhook_secret
        return hmac.new(self.resolved_secret_key.encode(), b"carrier-webhooks", hashlib.sha256).hexdigest()

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir.mkdir(parents=True, exist_ok=True)


def get_settings() -> Settings:
    return Settings()
