"""Each synthetic principal (worker, triage, command line) has its own id."""

from __future__ import annotations


def test_synthetic_principals_have_ids_of_their_own() -> None:
    import uuid

    from cityops.accounts import cli
    from cityops.accounts.principal import SYSTEM, is_synthetic, synthetic_principal
    from cityops.triage.service import TRIAGE

    actors = [SYSTEM, TRIAGE, cli._cli_actor()]
    assert len({a.id for a in actors}) == len(actors)
    assert all(is_synthetic(a.id) for a in actors)
    assert not is_synthetic(uuid.uuid4())  # what a user account gets
    assert synthetic_principal("system", "admin").id == SYSTEM.id  # stable across runs
