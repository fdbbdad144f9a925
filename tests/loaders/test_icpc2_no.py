"""The Norwegian ICPC-2 JSON loader (an nb supplement): the hand-written fixture and the real file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from loaders import icpc2_no
from termserver.errors import LoadError
from termserver.systems import ICPC2


def test_parses_a_supplement_with_norwegian_designations(fixtures_dir: Path) -> None:
    release = icpc2_no.parse(fixtures_dir / "icpc2" / "no-sample.json")
    assert release.format == "icpc2-no-json"
    [system] = release.code_systems
    assert (system.url, system.content, system.supplements, system.language, system.version) == \
        ("urn:oid:2.16.578.1.12.4.1.1.7170", "supplement", ICPC2, "nb", None)
    assert system.title == "ICPC-2 Norwegian designations (Helsedirektoratet)"
    concepts = {c.code: c for c in system.concepts}
    assert len(concepts) == 13
    assert concepts["D01"].display is None
    assert [(d.language, d.value) for d in concepts["D01"].designations] == [("nb", "Magesmerter generelle")]
    assert "R991" in concepts and "W781" in concepts
    assert release.warnings == ["2 of 13 codes are Norwegian 4-character extensions with no ICPC-2 base concept "
                                "(R991, W781)"]


def test_sniff(fixtures_dir: Path, tmp_path: Path) -> None:
    assert icpc2_no.sniff(fixtures_dir / "icpc2" / "no-sample.json")
    for name, content in [("more-keys.json", [{"code": "A01", "text": "x", "system": "y"}]),
                          ("object.json", {"code": "A01", "text": "x"}),
                          ("codesystem.json", {"resourceType": "CodeSystem", "concept": [{"code": "A01"}]}),
                          ("numbers.json", [1, 2, 3])]:
        path = tmp_path / name
        path.write_text(json.dumps(content), encoding="utf-8")
        assert not icpc2_no.sniff(path), name


@pytest.mark.parametrize(("content", "message"), [
    ('[{"code": "A01", "text": "Smerte"', "malformed JSON"),
    ("[]", "expected a non-empty JSON array"),
    ('[{"code": "A01", "text": "Smerte"}, {"code": "", "text": "Feber"}]', 'element 1: missing or empty "code"'),
    ('[{"code": "A01", "text": " "}]', 'element 0 \\(A01\\): missing or empty "text"'),
    ('[{"code": "A01", "text": "Smerte"}, {"code": "A01", "text": "Smerte"}]', "element 1: duplicate code 'A01'"),
])
def test_malformed_file_raises_load_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "ICPC2.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LoadError, match=message) as caught:
        icpc2_no.parse(path)
    assert str(path) in str(caught.value)


@pytest.mark.release
def test_real_file(release_dir: Path) -> None:
    release = icpc2_no.parse(release_dir / "icpc2" / "ICPC2.json")
    concepts = {c.code: c for c in release.code_systems[0].concepts}
    assert len(concepts) == 708
    assert sum(len(code) == 4 for code in concepts) == 22
    assert concepts["A03"].designations[0].value == "Feber"
    assert release.warnings[0].startswith("22 of 708 codes are Norwegian 4-character extensions")
