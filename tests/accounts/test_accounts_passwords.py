"""Password hashing: argon2 round trip, no timing hint for unknown users, the length policy."""

from __future__ import annotations

import time

import pytest

from cityops.accounts import passwords
from cityops.errors import Invalid


def test_hash_and_verify() -> None:
    hashed = passwords.hash_password("s3cret-password")
    assert hashed.startswith("$argon2id$")
    assert "s3cret-password" not in hashed
    assert passwords.verify_password(hashed, "s3cret-password")
    assert not passwords.verify_password(hashed, "s3cret-passwore")
    assert not passwords.needs_rehash(hashed)


def test_same_password_gets_different_salts() -> None:
    assert passwords.hash_password("same-password") != passwords.hash_password("same-password")


def test_unknown_user_is_refused_and_takes_as_long() -> None:
    hashed = passwords.hash_password("s3cret-password")
    passwords.verify_password(None, "warm-up")  # the dummy hash is made lazily once

    def best_of(fn) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    known = best_of(lambda: passwords.verify_password(hashed, "wrong-password"))
    unknown = best_of(lambda: passwords.verify_password(None, "wrong-password"))
    assert not passwords.verify_password(None, "cityops-dummy-password-for-constant-time")
    # Both do one full argon2 verification; without the dummy hash "unknown" would be ~0 ms.
    assert unknown > known * 0.5


def test_garbage_hash_is_a_failed_check_not_a_crash() -> None:
    assert not passwords.verify_password("not-a-hash", "whatever-password")
    assert passwords.needs_rehash("not-a-hash")


@pytest.mark.parametrize("bad", ["short", "x" * 257])
def test_policy_rejects_bad_lengths(bad: str) -> None:
    with pytest.raises(Invalid) as err:
        passwords.check_password_policy(bad)
    assert err.value.details["field"] == "password"
    assert " / " in err.value.message  # bilingual
