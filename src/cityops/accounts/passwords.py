"""Password hashing with argon2id (argon2-cffi's ``PasswordHasher``).

The library defaults (RFC 9106 "low memory" profile: 3 passes, 64 MiB) cost about 50 ms per
hash or verification on one core. That is deliberate: it is what makes a stolen hash table
expensive to crack, and a sign-in is rare compared with the requests that follow it (those only
check a signed token). Do not lower the parameters for real users; bulk demo data hashes one
shared password once instead (see ``service.create_users_bulk``).
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from cityops.errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 256  # argon2 accepts any length; the cap keeps one request from burning CPU

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Return an argon2id hash of ``password`` (about 50 ms with the default parameters)."""
    return _hasher.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    # Computed once, lazily, so importing the module stays cheap.
    return _hasher.hash("cityops-dummy-password-for-constant-time")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Check ``password`` against ``password_hash``; never raises for a wrong password.

    With ``password_hash=None`` (unknown user) a dummy hash is verified instead, so the time a
    sign-in takes does not tell an attacker whether the user name exists.
    """
    target = password_hash or _dummy_hash()
    try:
        ok = _hasher.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with older parameters and should be replaced at sign-in."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def is_password_hash(value: str) -> bool:
    """True for an argon2 hash string: guards against storing a plain password by mistake."""
    return value.startswith("$argon2")


def check_password_policy(password: str) -> None:
    """Reject passwords that are too short or absurdly long, with a message saying what to fix."""
    if len(password) < MIN_LENGTH:
        raise Invalid(
            f"密码至少需要 {MIN_LENGTH} 个字符",
            f"The password needs at least {MIN_LENGTH} characters",
            code="weak_password",
            details={"field": "password", "min_length": MIN_LENGTH},
        )
    if len(password) > MAX_LENGTH:
        raise Invalid(
            f"密码不能超过 {MAX_LENGTH} 个字符",
            f"The password may have at most {MAX_LENGTH} characters",
            code="password_too_long",
            details={"field": "password", "max_length": MAX_LENGTH},
        )
