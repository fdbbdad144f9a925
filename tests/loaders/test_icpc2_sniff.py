"""Each ICPC-2 sniffer claims its own release file and nothing else in the release folder or the fixtures."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from loaders import icpc2_extra, icpc2_fi, icpc2_no, icpc2e_xlsx

OWN_FILES: list[tuple[ModuleType, str, str]] = [
    (icpc2e_xlsx, "icpc-2e-v7.0.xlsx", ""),
    (icpc2_extra, "icpc2-extra-codes.tsv", "extra-codes.tsv"),
    (icpc2_fi, "standard_ICPC2_kodistopalvelu_282_1471432260621.txt", "thl-sample.txt"),
    (icpc2_no, "ICPC2.json", "no-sample.json"),
]


@pytest.mark.release
@pytest.mark.parametrize(("loader", "own", "fixture"), OWN_FILES, ids=[m.NAME for m, _, _ in OWN_FILES])
def test_sniff_claims_only_its_own_release_file(release_dir: Path, loader: ModuleType, own: str,
                                                fixture: str) -> None:
    files = sorted(p for p in release_dir.rglob("*") if p.is_file())
    assert len(files) > 10
    assert {p.name for p in files if loader.sniff(p)} == {own}


@pytest.mark.parametrize(("loader", "own", "fixture"), OWN_FILES, ids=[m.NAME for m, _, _ in OWN_FILES])
def test_sniff_claims_only_its_own_fixture(fixtures_dir: Path, loader: ModuleType, own: str, fixture: str) -> None:
    claimed = {p.name for p in (fixtures_dir / "icpc2").iterdir() if loader.sniff(p)}
    assert claimed == ({fixture} if fixture else set())
