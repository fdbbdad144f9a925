"""The Finnish THL ICPC-2 export loader (a fi/sv supplement): the hand-written fixture and the real file."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from loaders import icpc2_fi
from termserver.errors import LoadError
from termserver.systems import ICPC2


@pytest.fixture()
def sample(fixtures_dir: Path) -> Path:
    return fixtures_dir / "icpc2" / "thl-sample.txt"


Edit = Callable[[list[str]], list[str]]


def _copy_with(tmp_path: Path, sample: Path, edit: Edit) -> Path:
    lines = sample.read_text(encoding="cp1252").splitlines()
    path = tmp_path / "thl.txt"
    path.write_text("\n".join(edit(lines)) + "\n", encoding="cp1252")
    return path


def test_parses_a_supplement_with_finnish_and_swedish_designations(sample: Path) -> None:
    release = icpc2_fi.parse(sample)
    assert release.format == "icpc2-fi-thl" and release.concept_maps == []
    [system] = release.code_systems
    assert (system.url, system.content, system.supplements, system.language) == \
        ("https://termserver.dk/fhir/CodeSystem/icpc2-fi-sv-thl", "supplement", ICPC2, "fi")
    assert system.title == "ICPC-2 Finnish and Swedish designations (THL)"
    assert system.version == "2021-09-17"  # the latest LastModifiedDate
    concepts = {c.code: c for c in system.concepts}
    assert len(concepts) == 12
    assert {c.display for c in system.concepts} == {None}
    assert [(d.language, d.value) for d in concepts["K86"].designations] == [
        ("fi", "Verenpainetauti ilman komplikaatioita"), ("sv", "Högt blodtryck utan komplikationer")]
    assert [d.language for d in concepts["Z29"].designations] == ["fi"]  # no Swedish name
    assert "K" in concepts and "A30" in concepts  # chapter rows and chapter-specific process codes


def test_sniff(sample: Path, tmp_path: Path) -> None:
    assert icpc2_fi.sniff(sample)
    other = tmp_path / "codes.txt"
    other.write_text("code;description\nA01;Pain\n", encoding="utf-8")
    assert not icpc2_fi.sniff(other)


def test_utf8_re_export_is_read_as_utf8(sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "thl-utf8.txt"
    path.write_text(sample.read_text(encoding="cp1252"), encoding="utf-8")
    concepts = {c.code: c for c in icpc2_fi.parse(path).code_systems[0].concepts}
    assert concepts["L03"].designations[0].value == "Alaselän kipu"


@pytest.mark.parametrize(("edit", "message", "line"), [
    (lambda lines: [lines[0].replace("LongName", "Name")] + lines[1:], "missing column 'LongName'", 1),
    (lambda lines: lines[:3] + [lines[3] + ";extra"] + lines[4:], "40 fields, expected 39", 4),
    (lambda lines: lines[:2] + [";" + lines[2].split(";", 1)[1]] + lines[3:], "empty CodeId", 3),
    (lambda lines: lines + [lines[6]], "duplicate CodeId 'K86' \\(first on line 7\\)", 14),
    (lambda lines: lines[:1], "no codes below the header line", None),
])
def test_malformed_file_raises_load_error(sample: Path, tmp_path: Path, edit: Edit, message: str,
                                          line: int | None) -> None:
    path = _copy_with(tmp_path, sample, edit)
    with pytest.raises(LoadError, match=message) as caught:
        icpc2_fi.parse(path)
    assert caught.value.line == line
    assert str(path) in str(caught.value)


@pytest.mark.release
def test_real_file(release_dir: Path) -> None:
    path = release_dir / "icpc2" / "standard_ICPC2_kodistopalvelu_282_1471432260621.txt"
    [system] = icpc2_fi.parse(path).code_systems
    concepts = {c.code: c for c in system.concepts}
    assert len(concepts) == 1383
    assert system.version == "2020-05-05"
    assert sum(len(code) == 1 for code in concepts) == 17
    assert all({d.language for d in c.designations} == {"fi", "sv"} for c in system.concepts)
    assert [(d.language, d.value) for d in concepts["A02"].designations][0] == ("fi", "Vilunväristykset")
