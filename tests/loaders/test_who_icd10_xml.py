"""WHO ICD-10 XML (nested ``<item>``): parse, hierarchy, kinds, sniffing, malformed files."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from loaders import who_icd10_xml
from loaders.model import ParsedCodeSystem, ParsedConcept
from termserver.errors import LoadError
from termserver.systems import ICD10

REAL = Path("icd10") / "icd_10_v2019.xml"

FHIR_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CodeSystem xmlns="http://hl7.org/fhir">
  <url value="http://hl7.dk/fhir/core/CodeSystem/icpc2E-DK"/>
  <content value="supplement"/>
</CodeSystem>
"""


@pytest.fixture
def sample(fixtures_dir: Path) -> Path:
    return fixtures_dir / "icd10" / "icd_10_v2019_sample.xml"


@pytest.fixture
def system(sample: Path) -> ParsedCodeSystem:
    release = who_icd10_xml.parse(sample)
    assert release.format == "who-icd10-xml" and release.path == str(sample)
    [parsed] = release.code_systems
    return parsed


def _kind(concept: ParsedConcept) -> str:
    [kind] = [p.value for p in concept.properties if p.code == "kind"]
    return kind


def _write(tmp_path: Path, text: str, name: str = "icd.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_metadata(system: ParsedCodeSystem) -> None:
    assert (system.url, system.version, system.name, system.title) == (ICD10, "2019", "ICD10", "ICD-10 (WHO) 2019")
    assert (system.language, system.publisher, system.hierarchy_meaning) == ("en", "World Health Organization",
                                                                              "is-a")
    assert [(d.code, d.type) for d in system.property_definitions] == [("kind", "string")]


def test_every_item_is_a_concept_in_reading_order(system: ParsedCodeSystem) -> None:
    codes = [c.code for c in system.concepts]
    assert codes[:6] == ["I", "A00-A09", "A00", "A00.0", "A00.9", "B15-B19"]
    assert Counter(_kind(c) for c in system.concepts) == {"chapter": 3, "block": 6, "category": 5, "subcategory": 7}


@pytest.mark.parametrize(("code", "parents"), [
    ("I", []),
    ("A00-A09", ["I"]),
    ("A00", ["A00-A09"]),
    ("J44.9", ["J44"]),
    ("C00-C75", ["C00-C97"]),  # block within a block
    ("C50", ["C50-C50"]),
    ("B18.00", ["B18.0"]),  # subcategory within a subcategory
])
def test_parent_is_enclosing_item(system: ParsedCodeSystem, code: str, parents: list[str]) -> None:
    assert {c.code: c for c in system.concepts}[code].parents == parents


def test_chapters_and_blocks_are_not_selectable(system: ParsedCodeSystem) -> None:
    for concept in system.concepts:
        assert concept.not_selectable == (_kind(concept) in ("chapter", "block")), concept.code


def test_display_is_description(system: ParsedCodeSystem) -> None:
    by_code = {c.code: c for c in system.concepts}
    assert by_code["J44.9"].display == "Chronic obstructive pulmonary disease, unspecified"
    assert by_code["X"].display == "Diseases of the respiratory system"


def test_sniff_accepts_sample_with_bom(sample: Path) -> None:
    assert sample.read_bytes().startswith(b"\xef\xbb\xbf")
    assert who_icd10_xml.sniff(sample)


@pytest.mark.parametrize(("name", "text"), [
    ("codesystem.xml", FHIR_XML),
    ("other.xml", "<?xml version='1.0'?><classification><item type='chapter'/></classification>"),
    ("icd.json", '{"icd_10_v2019": []}'),
    ("icd.txt", "<icd_10_v2019></icd_10_v2019>"),
    ("empty.xml", ""),
])
def test_sniff_rejects_other_files(tmp_path: Path, name: str, text: str) -> None:
    assert not who_icd10_xml.sniff(_write(tmp_path, text, name))


def test_sniff_accepts_xml_declaration(tmp_path: Path) -> None:
    path = _write(tmp_path, '<?xml version="1.0" encoding="UTF-8"?>\n<icd_10_v2016>\n</icd_10_v2016>')
    assert who_icd10_xml.sniff(path)


def _items(body: str) -> str:
    return f"<icd_10_v2019>\n{body}\n</icd_10_v2019>\n"


@pytest.mark.parametrize(("text", "line", "message"), [
    (_items('<item type="chapter"><name>I</name>\n<item type="block"><name>A00-A09</name></item>'), 4,
     "malformed XML: Opening and ending tag mismatch"),
    (_items('<item type="chapter"><name>I</name></item>\n<item type="section"><name>S</name></item>'), 3,
     "item type 'section'"),
    (_items('<item type="chapter"><name>I</name></item>\n<item type="chapter"><name>I</name></item>'), 3,
     "duplicate code 'I'"),
    (_items('<item type="chapter">\n<description>No name</description></item>'), 2, "without a <name>"),
    (_items('<item type="chapter"><name> </name></item>'), 2, "empty <name>"),
    ("<classification>\n<item/></classification>", 1, "root element is <classification>"),
])
def test_malformed_files_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(LoadError, match=re.escape(message)) as caught:
        who_icd10_xml.parse(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_file_without_items_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no <item> elements"):
        who_icd10_xml.parse(_write(tmp_path, "<icd_10_v2019></icd_10_v2019>"))


@pytest.fixture(scope="module")
def real_system(release_dir: Path) -> ParsedCodeSystem:
    return who_icd10_xml.parse(release_dir / REAL).code_systems[0]


@pytest.mark.release
def test_real_file_counts(real_system: ParsedCodeSystem) -> None:
    assert len(real_system.concepts) == len({c.code for c in real_system.concepts}) == 12_542
    assert Counter(_kind(c) for c in real_system.concepts) == {"chapter": 22, "block": 274, "category": 2_050,
                                                                "subcategory": 10_196}
    assert sum(c.not_selectable for c in real_system.concepts) == 22 + 274


@pytest.mark.release
def test_real_file_values(real_system: ParsedCodeSystem) -> None:
    by_code = {c.code: c for c in real_system.concepts}
    assert by_code["J44.9"].parents == ["J44"]
    assert by_code["J44"].parents == ["J40-J47"]
    assert by_code["J40-J47"].parents == ["X"]
    assert by_code["X"].not_selectable and by_code["X"].parents == []
    assert by_code["X"].display == "Diseases of the respiratory system"
    assert not by_code["J44.9"].not_selectable
    assert all(p in by_code for c in real_system.concepts for p in c.parents)


@pytest.mark.release
def test_sniff_claims_only_the_who_xml(release_dir: Path) -> None:
    assert who_icd10_xml.sniff(release_dir / REAL)
    claimed = [p for p in sorted(release_dir.rglob("*")) if p.is_file() and p != release_dir / REAL
               and who_icd10_xml.sniff(p)]
    assert claimed == []
