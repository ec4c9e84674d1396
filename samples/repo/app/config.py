"""Settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


class ConfigError(Exception):
    """A required setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    secret_key: bytes  # signs session tokens; rotating it logs everyone out
    database_path: str
    session_ttl: int  # seconds a session token stays valid
    pbkdf2_iterations: int  # OWASP 2023 guidance for PBKDF2-HMAC-SHA256 is 600,000

    @property
    def debug(self) -> bool:
        return os.environ.get("NOTEKEEPER_DEBUG") == "1"


def _int_setting(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def load_settings() -> Settings:
    """Build the settings from NOTEKEEPER_* environment variables."""
    secret = os.environ.get("NOTEKEEPER_SECRET")
    if not secret or len(secret) < 32:
        raise ConfigError("NOTEKEEPER_SECRET must be set to at least 32 characters")
    return Settings(
        secret_key=secret.encode(),
        database_path=os.environ.get("NOTEKEEPER_DB", "notekeeper.sqlite3"),
        session_ttl=_int_setting("NOTEKEEPER_SESSION_TTL", 3600, minimum=60),
        pbkdf2_iterations=_int_setting("NOTEKEEPER_PBKDF2_ITERATIONS", 600_000, minimum=100_000),
    )
