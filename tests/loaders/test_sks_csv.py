"""SKS diagnosis CSV (``HEA_ICD10_`` codes): parse, prefix hierarchy, headings, sniffing, malformed files."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from loaders import sks_csv
from loaders.model import ParsedCodeSystem
from termserver.errors import LoadError
from termserver.systems import SKS_DIAGNOSES

REAL = Path("icd10") / "HEA_ICD10_dict.csv"


@pytest.fixture
def sample(fixtures_dir: Path) -> Path:
    return fixtures_dir / "sks" / "sks_diagnoses_sample.csv"


@pytest.fixture
def system(sample: Path) -> ParsedCodeSystem:
    release = sks_csv.parse(sample)
    assert release.format == "sks-csv" and release.path == str(sample)
    [parsed] = release.code_systems
    return parsed


def _write(tmp_path: Path, text: str, name: str = "dict.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_metadata(system: ParsedCodeSystem) -> None:
    assert (system.url, system.version, system.name) == (SKS_DIAGNOSES, None, "SKSDiagnoses")
    assert system.title == "SKS diagnosekoder (ICD-10-DK)"
    assert (system.language, system.publisher, system.hierarchy_meaning) == ("da", "Sundhedsdatastyrelsen", "is-a")
    assert system.content == "complete" and system.layer is None


def test_codes_lose_prefix_and_keep_file_order(system: ParsedCodeSystem) -> None:
    codes = [c.code for c in system.concepts]
    assert len(codes) == 26
    assert codes[:3] == ["D", "DA00", "DA000"]
    assert not any(code.startswith("HEA_") for code in codes)


def test_display_is_description_and_quoted_commas_survive(system: ParsedCodeSystem) -> None:
    by_code = {c.code: c for c in system.concepts}
    assert by_code["DJ449"].display == "Kronisk obstruktiv lungesygdom UNS"
    assert by_code["DR509"].display == "Feber, UNS"
    assert all(c.active is None and c.status is None for c in system.concepts)


@pytest.mark.parametrize(("code", "parent"), [
    ("DJ449", "DJ44"),
    ("DA000", "DA00"),
    ("DA00", "D"),
    ("DE115A", "DE115"),  # Danish extension under its WHO subcategory
    ("DR509", "D"),  # nothing closer in the file
    ("DVRA02A", "DVRA02"),
    ("DUP01", "DUP"),
    ("DUA10", "D"),
])
def test_parent_is_longest_other_prefix(system: ParsedCodeSystem, code: str, parent: str) -> None:
    assert {c.code: c for c in system.concepts}[code].parents == [parent]


def test_root_has_no_parent(system: ParsedCodeSystem) -> None:
    assert [c.code for c in system.concepts if not c.parents] == ["D"]


def test_only_digitless_headings_with_children_are_not_selectable(system: ParsedCodeSystem) -> None:
    # DVAXX has no digit but is a leaf code ("uoplyst"); DUA10 and DVA05 are ordinary supplementary codes.
    assert [c.code for c in system.concepts if c.not_selectable] == ["D", "DUP"]


def test_sniff_accepts_sample(sample: Path) -> None:
    assert sks_csv.sniff(sample)


@pytest.mark.parametrize(("name", "text"), [
    ("plain.csv", "code,description\nDJ449,Kronisk obstruktiv lungesygdom UNS\n"),
    ("other.csv", "code,display\nHEA_ICD10_DJ449,x\n"),
    ("dict.tsv", "code\tdescription\nHEA_ICD10_DJ449\tx\n"),
    ("dict.txt", "code,description\nHEA_ICD10_DJ449,x\n"),
    ("empty.csv", ""),
])
def test_sniff_rejects_other_files(tmp_path: Path, name: str, text: str) -> None:
    assert not sks_csv.sniff(_write(tmp_path, text, name))


@pytest.mark.parametrize(("text", "line", "message"), [
    ("code,description\nHEA_ICD10_DA00,Kolera\nDA01,Tyfus\n", 3, "lacks the HEA_ICD10_ prefix"),
    ("code,description\nHEA_ICD10_,Tom\n", 2, "empty code"),
    ("code,description\nHEA_ICD10_DA00,Kolera\nHEA_ICD10_DA00,Igen\n", 3, "duplicate code 'DA00'"),
    ("code,description\nHEA_ICD10_DA00,Kolera,ekstra\n", 2, "expected 2 fields"),
    ("code,text\nHEA_ICD10_DA00,Kolera\n", 1, "missing column(s) description"),
])
def test_malformed_rows_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(LoadError, match=re.escape(message)) as caught:
        sks_csv.parse(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"),
    (b"code,description\n", "no codes"),
    (b"code,description\nHEA_ICD10_DA00,K\xf8lera\n", "not UTF-8"),
])
def test_corrupt_file_raises_load_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    with pytest.raises(LoadError, match=re.escape(message)) as caught:
        sks_csv.parse(path)
    assert str(path) in str(caught.value)


@pytest.fixture(scope="module")
def real_system(release_dir: Path) -> ParsedCodeSystem:
    return sks_csv.parse(release_dir / REAL).code_systems[0]


@pytest.mark.release
def test_real_file_counts_and_values(real_system: ParsedCodeSystem) -> None:
    by_code = {c.code: c for c in real_system.concepts}
    assert len(real_system.concepts) == len(by_code) == 24_979
    assert by_code["DJ449"].display == "Kronisk obstruktiv lungesygdom UNS"
    assert by_code["DJ449"].parents == ["DJ44"]
    assert by_code["DA00"].parents == ["D"]
    assert by_code["DA022A"].parents == ["DA022"]
    assert [c.code for c in real_system.concepts if not c.parents] == ["D"]
    assert all(p in by_code for c in real_system.concepts for p in c.parents)


@pytest.mark.release
def test_real_file_headings(real_system: ParsedCodeSystem) -> None:
    assert sorted(c.code for c in real_system.concepts if c.not_selectable) == ["D", "DUB", "DUP"]


@pytest.mark.release
def test_sniff_claims_only_the_sks_csv(release_dir: Path) -> None:
    assert sks_csv.sniff(release_dir / REAL)
    claimed = [p for p in sorted(release_dir.rglob("*")) if p.is_file() and p != release_dir / REAL
               and sks_csv.sniff(p)]
    assert claimed == []
