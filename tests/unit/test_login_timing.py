"""The dummy hash that unknown usernames are checked against costs what a real one does."""

from __future__ import annotations

from argon2 import extract_parameters

from crisis_triage.accounts import _credentials


def test_the_dummy_hash_has_the_real_hashers_parameters() -> None:
    dummy = extract_parameters(_credentials._DUMMY_HASH)
    hasher = _credentials._hasher
    assert (dummy.time_cost, dummy.memory_cost, dummy.parallelism) == (
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
    )
