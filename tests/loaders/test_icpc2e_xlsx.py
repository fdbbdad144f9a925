"""The ICPC-2e Excel loader: hand-made workbooks (written with openpyxl per test) and the real release."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from openpyxl import Workbook

from loaders import icpc2e_xlsx
from loaders.icpc2_chapters import CHAPTERS, DESIGNATION_USE, INCLUSION_TERM, SHORT_TITLE
from termserver.errors import LoadError
from termserver.systems import ICD10, ICPC2

HEADER = ["Code", "preferred", "shortTitle", "inclusion", "exclusion", "criteria", "consider", "note", "icd10"]
# Fictional-but-realistic rows; process codes are numbers in the real sheet, so they are here too.
ROWS = [
    [-30, "Medical examination complete", "Med exam complete", "full check-up; school health exam", None, None,
     None, None, None],
    [-31, "Medical examination partial ", "Med exam partial", None, None, None, None, None, None],
    ["A01", "Pain  general/multiple sites", "Pain general/multiple", "chronic pain; widespread aches; chronic pain",
     "pain of one site", None, None, None, "R52.1; R52.9"],
    ["A03", "Fever", "Fever", "pyrexia", None, "raised body temperature", None, None, "R50.9"],
    ["K86", "Hypertension uncomplicated", "Hypertension uncomplicated", "essential hypertension",
     "hypertension with complications K87", "two raised readings", "raised blood pressure K85",
     "code also the cause", "I10"],
    ["K87", "Hypertension complicated", "Hypertension complicated", None, None, None, None, None, "I11.9; I12,9"],
    ["L03", "Low back symptom/complaint", "Low back complaint", None, None, None, None, None, "M54.5, M54.9"],
    ["P76", "Depressive disorder", "Depression", None, None, None, None, None, "F32.9; F32.9; F33.9"],
    ["R74", "Upper respiratory infection acute", "URI", "common cold", None, None, None, None, "J06.9"],
    ["T90", "Diabetes non-insulin dependent", "Diabetes type 2", None, None, None, None, None, "E11.9"],
    ["Z29", "Social problem NOS", "Social problem NOS", None, None, None, None, None, "Z60.9; xx"],
    [None, None, None, None, None, None, None, None, None],
]


def write_workbook(path: Path, rows: list[list[object]], header: list[str] = HEADER,
                   sheet: str = "icpc-2e-v7.0") -> Path:
    book = Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(header)
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


@pytest.fixture()
def workbook(tmp_path: Path) -> Path:
    return write_workbook(tmp_path / "icpc-2e-v7.0.xlsx", ROWS)


def test_parses_rubrics_process_codes_and_chapters(workbook: Path) -> None:
    release = icpc2e_xlsx.parse(workbook)
    assert release.format == "icpc2e-xlsx"
    [system] = release.code_systems
    assert (system.url, system.version, system.language, system.layer, system.layer_role) == \
        (ICPC2, "7.0", "en", "icpc2e", "base")
    assert system.hierarchy_meaning == "is-a"
    assert {d.code: d.type for d in system.property_definitions} == {
        "inclusion": "string", "exclusion": "string", "criteria": "string", "consider": "string",
        "note": "string", "parent": "code", "child": "code"}
    concepts = {c.code: c for c in system.concepts}
    assert len(concepts) == 17 + 11
    assert concepts["-30"].parents == [] and concepts["-30"].display == "Medical examination complete"
    assert concepts["-31"].display == "Medical examination partial"
    assert concepts["A01"].display == "Pain general/multiple sites"
    assert concepts["A01"].parents == ["A"]
    assert all(concepts[code].not_selectable for code in CHAPTERS)
    assert concepts["K"].display == "Cardiovascular"
    assert [(d.language, d.value) for d in concepts["K"].designations] == [("da", "Hjerte-kar")]


def test_designations_and_properties(workbook: Path) -> None:
    concepts = {c.code: c for c in icpc2e_xlsx.parse(workbook).code_systems[0].concepts}
    a01 = concepts["A01"]
    assert [(d.use_code, d.value) for d in a01.designations] == [
        (SHORT_TITLE, "Pain general/multiple"), (INCLUSION_TERM, "chronic pain"),
        (INCLUSION_TERM, "widespread aches")]
    assert {d.use_system for d in a01.designations} == {DESIGNATION_USE}
    assert {d.language for d in a01.designations} == {"en"}
    k86 = {p.code: p.value for p in concepts["K86"].properties}
    assert k86 == {"inclusion": "essential hypertension", "exclusion": "hypertension with complications K87",
                   "criteria": "two raised readings", "consider": "raised blood pressure K85",
                   "note": "code also the cause"}
    assert concepts["K87"].properties == []


def test_icd10_column_becomes_a_concept_map(workbook: Path) -> None:
    release = icpc2e_xlsx.parse(workbook)
    [cmap] = release.concept_maps
    assert (cmap.url, cmap.version, cmap.source_scope, cmap.target_scope) == \
        ("https://termserver.dk/fhir/ConceptMap/icpc2e-icd10", "7.0", ICPC2, ICD10)
    pairs = {(m.source_code, m.target_code): m.relationship for m in cmap.mappings}
    assert len(pairs) == len(cmap.mappings) == 13
    assert pairs[("A03", "R50.9")] == "equivalent"
    assert pairs[("A01", "R52.1")] == pairs[("A01", "R52.9")] == "narrower"
    assert ("K87", "I12.9") in pairs  # decimal comma repaired
    assert {("L03", "M54.5"), ("L03", "M54.9")} <= pairs.keys()  # comma-joined codes split
    assert [t for s, t in pairs if s == "P76"] == ["F32.9", "F33.9"]  # repeated code dropped
    assert [t for s, t in pairs if s == "Z29"] == ["Z60.9"]  # junk skipped
    assert {m.source_system for m in cmap.mappings} == {ICPC2} and {m.target_system for m in cmap.mappings} == {ICD10}
    assert next(m for m in cmap.mappings if m.source_code == "K86").source_display == "Hypertension uncomplicated"
    assert len(release.warnings) == 4 and any("'xx'" in w for w in release.warnings)


@pytest.mark.parametrize(("name", "sheet", "version"), [
    ("icpc-2e-v7.0.xlsx", "Sheet", "7.0"),
    ("icpc-2e.xlsx", "icpc-2e-v6..0", "6.0"),
    ("icpc-2e.xlsx", "Sheet", None),
])
def test_version_from_file_name_then_sheet_name(tmp_path: Path, name: str, sheet: str, version: str | None) -> None:
    path = write_workbook(tmp_path / name, ROWS[:3], sheet=sheet)
    release = icpc2e_xlsx.parse(path)
    assert release.code_systems[0].version == release.concept_maps[0].version == version


@pytest.mark.parametrize(("header", "rows", "message", "line"), [
    ([h for h in HEADER if h != "shortTitle"], [["A03", "Fever", "Fever"]], "missing column 'shortTitle'", 1),
    (HEADER, [["A03", "Fever", "Fever"], [None, "Chills", "Chills"]], "empty code on row 3", 3),
    (HEADER, [["A3", "Fever", "Fever"]], "unexpected code 'A3' on row 2", 2),
    (HEADER, [["C01", "Fever", "Fever"]], "code 'C01' on row 2 is in no ICPC-2 chapter", 2),
    (HEADER, [["A03", "Fever", "Fever"], ["A03", "Fever", "Fever"]], "duplicate code 'A03' on row 3", 3),
    (HEADER, [["A03", None, "Fever"]], "empty preferred title for 'A03' on row 2", 2),
    (HEADER, [], "no codes below the header row", None),
])
def test_malformed_workbook_raises_load_error(tmp_path: Path, header: list[str], rows: list[list[object]],
                                              message: str, line: int | None) -> None:
    path = write_workbook(tmp_path / "icpc-2e-v7.0.xlsx", rows, header=header)
    with pytest.raises(LoadError, match=message) as caught:
        icpc2e_xlsx.parse(path)
    assert caught.value.line == line
    assert str(path) in str(caught.value)


def test_corrupt_file_raises_load_error(tmp_path: Path) -> None:
    path = tmp_path / "icpc-2e-v7.0.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a workbook")
    assert not icpc2e_xlsx.sniff(path)
    with pytest.raises(LoadError, match="not a readable Excel workbook") as caught:
        icpc2e_xlsx.parse(path)
    assert str(path) in str(caught.value)


def test_sniff(tmp_path: Path, workbook: Path) -> None:
    assert icpc2e_xlsx.sniff(workbook)
    nlk_like = write_workbook(tmp_path / "nlk.xlsx", [["NPU18016", "2014-07-18"]],
                              header=["Kode", "Gyldig fra", "Norsk bruksnavn", "Kodedefinisjon"], sheet="Nlk")
    assert not icpc2e_xlsx.sniff(nlk_like)
    renamed = tmp_path / "icpc-2e-v7.0.xls"
    renamed.write_bytes(workbook.read_bytes())
    assert not icpc2e_xlsx.sniff(renamed)


@pytest.mark.release
def test_real_release(release_dir: Path) -> None:
    path = release_dir / "icpc2" / "icpc-2e-v7.0.xlsx"
    release = icpc2e_xlsx.parse(path)
    [system] = release.code_systems
    [cmap] = release.concept_maps
    rows = [c for c in system.concepts if c.code not in CHAPTERS]
    assert len(rows) == 726 and len(system.concepts) == 726 + 17
    assert sum(c.code.startswith("-") for c in rows) == 40
    assert system.version == "7.0"
    concepts = {c.code: c for c in system.concepts}
    assert concepts["K86"].display == "Hypertension uncomplicated" and concepts["K86"].parents == ["K"]
    assert concepts["-30"].parents == [] and concepts["Z28"].display == "Limited function/disability (Z)"
    assert len({m.source_code for m in cmap.mappings}) == 686
    # 9,915 ';'-separated entries in the file; two of them hold two codes joined by a comma (K28, N81: +2), and
    # S19 lists S10.1/.7/.8/.9 twice (-4): 9,913 distinct pairs. K96's 'K64,1'/'K64,2' are read as K64.1/K64.2.
    assert len(cmap.mappings) == 9913
    assert len({(m.source_code, m.target_code) for m in cmap.mappings}) == 9913
    assert Counter(m.relationship for m in cmap.mappings) == {"narrower": 9702, "equivalent": 211}
    assert {("K96", "K64.1"), ("K28", "Z99.4"), ("N81", "T09.4")} <= {(m.source_code, m.target_code)
                                                                    for m in cmap.mappings}
    assert len(release.warnings) == 5
