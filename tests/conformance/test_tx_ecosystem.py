"""The HL7 FHIR terminology-ecosystem conformance tests (``../shared/tx-tests``), run by ``termserver tx-tests``'s
runner against a real HTTP server started here on an empty store: every code system and value set a test needs comes
with its request as ``tx-resource``.

The pass count may not drop below ``floor.txt`` (raised as the server passes more, never lowered); the two metadata
tests must pass. Failing tests are listed (with the first difference) in the assertion message and written, with
the server's answers, under the pytest temp folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import REPO, make_test_database_url, served

TX_TESTS = REPO.parent / "shared" / "tx-tests" / "tests"
FLOOR_FILE = Path(__file__).with_name("floor.txt")


def floor() -> int:
    lines = [line for line in FLOOR_FILE.read_text(encoding="utf-8").splitlines() if line and line[0] != "#"]
    return int(lines[0])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (TX_TESTS / "test-cases.json").is_file():
        pytest.skip(f"HL7 tx-tests not found at {TX_TESTS}")
    from termserver import create_app

    app = create_app({"DATABASE_URL": make_test_database_url(tmp_path_factory, "txtests"), "LOG_LEVEL": "WARNING",
                      "EXTRA_RELEASES": ""})
    try:
        with served(app) as port:
            yield f"http://127.0.0.1:{port}/fhir"
    finally:
        app.extensions["termserver.engine"].dispose()


def test_general_suites_pass_at_least_the_floor(base_url: str, tmp_path: Path) -> None:
    from termserver.conformance import run_tests

    report = run_tests(base_url, TX_TESTS, modes=("general",), output=tmp_path)
    failures = [f"{r.suite}/{r.name}: {(r.reason or '').splitlines()[0][:160]}" for r in report.results if r.failed]
    metadata = [r for r in report.results if r.suite == "metadata"]
    assert metadata and all(r.passed for r in metadata), [f"{r.name}: {r.reason}" for r in metadata]
    assert report.passed >= floor(), (
        f"{report.passed} passed, below the floor of {floor()} ({len(failures)} failed):\n" + "\n".join(failures))
