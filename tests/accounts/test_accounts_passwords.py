"""Password hashing: argon2 round trip, no timing hint for unknown users, the length policy."""

from __future__ import annotations

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


def test_unknown_user_is_refused_after_a_full_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not a timing assertion (tests must not depend on machine speed): we check that an unknown
    # user costs the same work as a known one, i.e. one real argon2 verification of a dummy hash.
    hashed = passwords.hash_password("s3cret-password")
    verified: list[str] = []
    real = passwords._hasher

    class Spy:
        def hash(self, password: str) -> str:
            return str(real.hash(password))

        def verify(self, target: str, password: str) -> bool:
            verified.append(target)
            return bool(real.verify(target, password))

    monkeypatch.setattr(passwords, "_hasher", Spy())
    assert not passwords.verify_password(hashed, "wrong-password")
    assert not passwords.verify_password(None, "wrong-password")
    assert len(verified) == 2
    assert verified[0] == hashed and verified[1].startswith("$argon2") and verified[1] != hashed
    assert not passwords.verify_password(None, "cityops-dummy-password-for-constant-time")


def test_garbage_hash_is_a_failed_check_not_a_crash() -> None:
    assert not passwords.verify_password("not-a-hash", "whatever-password")
    assert passwords.needs_rehash("not-a-hash")


@pytest.mark.parametrize("bad", ["short", "x" * 257])
def test_policy_rejects_bad_lengths(bad: str) -> None:
    with pytest.raises(Invalid) as err:
        passwords.check_password_policy(bad)
    assert err.value.details["field"] == "password"
    assert " / " in err.value.message  # bilingual
