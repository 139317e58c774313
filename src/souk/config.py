"""Settings from environment variables with the prefix ``SOUK_``."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

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
    session_days: int = 14
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_failure_window_seconds: int = 900
    db_pool_size: int = 8
    debug_sql: bool = False

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

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.uploads_dir.mkdir(parents=True, exist_ok=True)


def get_settings() -> Settings:
    return Settings()
