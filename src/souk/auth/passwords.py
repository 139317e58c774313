"""argon2id password hashing (argon2-cffi)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from souk.config import get_settings


@lru_cache(maxsize=2)
def _hasher(profile: str) -> PasswordHasher:
    if profile == "cheapest":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()  # argon2id, RFC 9106 low-memory profile


def hasher() -> PasswordHasher:
    return _hasher(get_settings().password_hash_profile)


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# verified against when the account does not exist, so timing does not reveal which emails are registered
_DUMMY: dict[str, str] = {}


def dummy_verify(password: str) -> None:
    profile = get_settings().password_hash_profile
    if profile not in _DUMMY:
        _DUMMY[profile] = hash_password("not-a-real-password")
    verify_password(_DUMMY[profile], password)
