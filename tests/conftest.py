"""Shared fixtures: paths to the shared data and small helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests that need it skip with a clear message when absent."""
    if not (SHARED_DATA / "train.csv.gz").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA
