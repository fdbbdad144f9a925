"""Shared fixtures: the real release folder, and (in tests/api) a loaded app and client."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"


def release_root() -> Path | None:
    """The release folder: $TERMSERVER_DATA, else ../shared/data beside the repository."""
    candidates = [os.environ.get("TERMSERVER_DATA"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def release_dir() -> Path:
    """The real releases. Skipped on a developer machine without them; in CI their absence is a failure."""
    root = release_root()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("release files not found: CI must run with ../shared/data beside the repository")
        pytest.skip("release files not found (set TERMSERVER_DATA or put them in ../shared/data)")
    return root


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES
