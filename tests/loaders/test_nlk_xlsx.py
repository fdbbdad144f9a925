"""NLK Excel (NPU rows): parse, displays, validity, properties, sniffing, malformed workbooks.

The sample workbook is built in ``tmp_path`` from the rows below, with the real sheet's 17 columns.
"""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from loaders import nlk_xlsx
from loaders.model import ParsedCodeSystem, ParsedConcept, ParsedRelease
from termserver.errors import LoadError
from termserver.systems import NPU

REAL = Path("npu") / "Norsk_Laboratoriekodeverk_7280.77.xlsx"

COLUMNS = ["Kode", "Gyldig fra", "Gyldig til", "Erstattes av", "Endringsdato", "Norsk bruksnavn", "Kodedefinisjon",
           "Komponent", "Komponent spesifikasjon", "System", "System spesifikasjon", "Egenskapsart",
           "Egenskapsart spesifikasjon", "Enhet", "Primært fagområde", "Sekundært Fagområde", "Gruppering"]
FROM = dt.datetime(2013, 1, 25)
ENDED = dt.datetime(2019, 6, 30, 23, 59)
FAR = dt.datetime(2999, 12, 31, 23, 59)


def _row(code: str, name: str, definition: str | None, *, valid_to: dt.datetime | None = None,
         replaced_by: str | None = None, component: str | None = None, unit: str | None = None) -> list[Any]:
    row: list[Any] = [None] * len(COLUMNS)
    row[0], row[1], row[2], row[3] = code, FROM, valid_to, replaced_by
    row[5], row[6], row[7], row[13], row[14] = name, definition, component, unit, "Medisinsk biokjemi"
    return row


SAMPLE_ROWS = [
    _row("NPU19748", "P-CRP", "P—C-reactive protein; mass c. = ? mg/L", component="C-reaktivt protein",
         unit="mg/L"),
    _row("NPU18016", "P-Kreatinin", "P—Creatininium; subst.c. = ? µmol/L", component="Kreatinin", unit="µmol/L"),
    _row("NPU02593", "B-Leukocytter", "B—Leukocytes; num.c. = ? × 10<sup>9</sup>/L", component="Leukocytter",
         unit="x 10E9/L"),
    _row("NPU21531", "aB-Hydrogenkarbonat", "aB—Hydrogen carbonate; subst.c.(pCO<sub>2</sub> = 5.3 kPa) = ? mmol/L",
         component="Hydrogenkarbonat", unit="mmol/L"),
    _row("NPU20204", "Ery-Aua-antigen", "Ercs(B)—Erythrocyte Au<sup>a</sup> antigen; arb.num.(proc.) = ?"),
    _row("NPU01370", "P-Bilirubin", "P—Bilirubins; subst.c. = ? µmol/L", valid_to=ENDED, replaced_by="NPU01371 ",
         component="Bilirubin", unit="µmol/L"),
    _row("NPU03011", "Hb(aB)-O2 metn.", "Hb(Fe; O2-bind.; aB)—Oxygen(O2); sat. = ?", valid_to=FAR),
    _row("NPU27281", "Pt-Kroppsmasseindeks", None),  # no definition: the Norwegian name stands in
    [None] * len(COLUMNS),  # a blank row is skipped
    _row("NOR05003", "Us-Osmolalitet", "Syst(spec.)—Solute; molal.(proc.) = ? mosmol/kg"),
    _row("NPU62708 ", "P-IgE Sander vitreus", "P—Walleye pike antibody(IgE); arb.subst.c.(proc.) = ? (p.d.u.)",
         valid_to=ENDED, replaced_by="NPU62708"),
    _row("NPU62708", "P-IgE Sander vitreus", "P—Walleye pike antibody(IgE); arb.subst.c.(proc.) = ? (p.d.u.)"),
    _row("NPU04144", "Us-Acanthamoeba\xa0dyrkning", "Syst(spec.)—Acanthamoeba; arb.c.(proc.) = ?"),
]


def write_workbook(path: Path, rows: list[list[Any]], *, sheet: str = "Nlk", header: list[str] = COLUMNS) -> Path:
    workbook = openpyxl.Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    worksheet.append(header)
    for row in rows:
        worksheet.append(row)
    workbook.save(path)
    return path


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write_workbook(tmp_path / "Norsk_Laboratoriekodeverk_7280.12.xlsx", SAMPLE_ROWS)


@pytest.fixture
def system(sample: Path) -> ParsedCodeSystem:
    release = nlk_xlsx.parse(sample)
    assert release.format == "nlk-xlsx" and release.path == str(sample)
    [parsed] = release.code_systems
    return parsed


def _by_code(system: ParsedCodeSystem) -> dict[str, ParsedConcept]:
    return {c.code: c for c in system.concepts}


def _props(concept: ParsedConcept) -> dict[str, tuple[str, str]]:
    return {p.code: (p.value, p.type) for p in concept.properties}


def test_metadata(system: ParsedCodeSystem) -> None:
    assert (system.url, system.version, system.name) == (NPU, "7280.12", "NPU")
    assert system.title == "NPU (from the Norwegian Laboratory Code List NLK 7280.12)"
    assert (system.language, system.publisher) == ("en", "IFCC/IUPAC via Helsedirektoratet (NLK)")
    assert (system.layer, system.layer_priority, system.layer_role) == ("nlk", 0, "base")
    assert {(d.code, d.type) for d in system.property_definitions} == {
        ("validFrom", "dateTime"), ("validTo", "dateTime"), ("replacedBy", "code"), ("unit", "string"),
        ("component", "string")}


def test_only_npu_rows_are_kept_and_skips_are_reported(sample: Path) -> None:
    release = nlk_xlsx.parse(sample)
    codes = [c.code for c in release.code_systems[0].concepts]
    assert codes == ["NPU19748", "NPU18016", "NPU02593", "NPU21531", "NPU20204", "NPU01370", "NPU03011",
                     "NPU27281", "NPU62708", "NPU04144"]
    assert release.warnings == [
        "skipped 1 non-NPU rows (Norwegian NOR… codes)",
        "dropped 1 rows whose Kode has stray spaces and that the same code without spaces supersedes (row 12)"]


def test_mis_keyed_duplicate_gives_way_to_clean_code(system: ParsedCodeSystem) -> None:
    concept = _by_code(system)["NPU62708"]
    assert concept.active is True and "validTo" not in _props(concept)


@pytest.mark.parametrize(("code", "display"), [
    ("NPU19748", "P—C-reactive protein; mass c. = ? mg/L"),
    ("NPU02593", "B—Leukocytes; num.c. = ? × 10^9/L"),
    ("NPU21531", "aB—Hydrogen carbonate; subst.c.(pCO2 = 5.3 kPa) = ? mmol/L"),
    ("NPU20204", "Ercs(B)—Erythrocyte Aua antigen; arb.num.(proc.) = ?"),
    ("NPU27281", "Pt-Kroppsmasseindeks"),
])
def test_display_is_plain_definition_or_norwegian_name(system: ParsedCodeSystem, code: str, display: str) -> None:
    assert _by_code(system)[code].display == display


def test_norwegian_name_is_a_designation(system: ParsedCodeSystem) -> None:
    by_code = _by_code(system)
    assert [(d.value, d.language) for d in by_code["NPU19748"].designations] == [("P-CRP", "nb")]
    assert by_code["NPU04144"].designations[0].value == "Us-Acanthamoeba dyrkning"  # no-break space made plain


def test_validity_and_status(system: ParsedCodeSystem) -> None:
    by_code = _by_code(system)
    assert (by_code["NPU19748"].active, by_code["NPU19748"].status) == (True, None)
    assert (by_code["NPU03011"].active, by_code["NPU03011"].status) == (True, None)  # ends in the future
    assert (by_code["NPU01370"].active, by_code["NPU01370"].status) == (False, "retired")


def test_properties(system: ParsedCodeSystem) -> None:
    by_code = _by_code(system)
    assert _props(by_code["NPU01370"]) == {
        "validFrom": ("2013-01-25", "dateTime"), "validTo": ("2019-06-30", "dateTime"),
        "replacedBy": ("NPU01371", "code"), "unit": ("µmol/L", "string"), "component": ("Bilirubin", "string")}
    assert _props(by_code["NPU20204"]) == {"validFrom": ("2013-01-25", "dateTime")}


@pytest.mark.parametrize(("valid_to", "active"), [
    (None, True),
    (dt.datetime(2024, 3, 1, 23, 59), True),  # the last valid day still counts
    (dt.datetime(2024, 2, 29, 23, 59), False),
    (dt.date(2024, 3, 2), True),
    ("2024-02-01", False),
])
def test_active_until_end_of_last_valid_day(tmp_path: Path, valid_to: Any, active: bool) -> None:
    rows = [COLUMNS, _row("NPU19748", "P-CRP", "P—C-reactive protein; mass c. = ? mg/L", valid_to=valid_to)]
    system, _ = nlk_xlsx.npu_code_system(tmp_path / "nlk.xlsx", rows, version=None, today=dt.date(2024, 3, 1))
    assert system.concepts[0].active is active
    assert system.title == "NPU (from the Norwegian Laboratory Code List NLK)"


@pytest.mark.parametrize(("name", "version"), [
    ("Norsk_Laboratoriekodeverk_7280.77.xlsx", "7280.77"),
    ("Norsk Laboratoriekodeverk 7280.77.xlsx", "7280.77"),
    ("nlk-7280.80.1.xlsx", "7280.80.1"),
    ("Norsk_Laboratoriekodeverk.xlsx", None),
    ("nlk_2024.xlsx", None),
])
def test_version_from_file_name(name: str, version: str | None) -> None:
    assert nlk_xlsx.version_from_name(Path(name)) == version


@pytest.mark.parametrize(("text", "plain"), [
    ("B—Erythrocytes; num.c. = ? × 10<sup>12</sup>/L", "B—Erythrocytes; num.c. = ? × 10^12/L"),
    ("P—Insulin; arb.subst.c. = ? × 10<sup>-3</sup> IU/L", "P—Insulin; arb.subst.c. = ? × 10^-3 IU/L"),
    ("NADH:ubiquinone reductase (H<sup>+</sup>-translocating)", "NADH:ubiquinone reductase (H+-translocating)"),
    ("Erythrocyte Hr<sub>o</sub> antigen", "Erythrocyte Hro antigen"),
    ("Aliphatic carboxylate(C26:0</sub>)", "Aliphatic carboxylate(C26:0)"),  # a stray end tag in NLK 7280.77
    ("P—Glucose; subst.c. = ? mmol/L", "P—Glucose; subst.c. = ? mmol/L"),
])
def test_plain_text(text: str, plain: str) -> None:
    assert nlk_xlsx.plain_text(text) == plain


def test_sniff_accepts_nlk_workbook(sample: Path) -> None:
    assert nlk_xlsx.sniff(sample)


def test_sniff_rejects_other_workbooks_and_files(tmp_path: Path) -> None:
    icpc = write_workbook(tmp_path / "icpc-2e-v7.0.xlsx", [["A01", "Pain general/multiple sites"]],
                          sheet="icpc-2e-v6..0", header=["Code", "preferred"])
    not_zip = tmp_path / "broken.xlsx"
    not_zip.write_text("Kode;Gyldig fra\n", encoding="utf-8")
    csv = tmp_path / "nlk.csv"
    csv.write_text("Kode,Gyldig fra\nNPU19748,2013-01-25\n", encoding="utf-8")
    assert not any(nlk_xlsx.sniff(path) for path in (icpc, not_zip, csv))


def test_corrupt_workbook_raises_load_error(tmp_path: Path) -> None:
    path = tmp_path / "Norsk_Laboratoriekodeverk_7280.77.xlsx"
    path.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(LoadError, match="not a readable Excel workbook") as caught:
        nlk_xlsx.parse(path)
    assert str(caught.value).startswith(f"{path}: ")


def test_missing_sheet_raises_load_error(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "nlk.xlsx", SAMPLE_ROWS[:1], sheet="Ark1")
    with pytest.raises(LoadError, match="no sheet 'Nlk'; sheets are Ark1"):
        nlk_xlsx.parse(path)


@pytest.mark.parametrize(("header", "rows", "line", "message"), [
    ([c for c in COLUMNS if c != "Kodedefinisjon"], [], 1, "lacks column(s) Kodedefinisjon"),
    (COLUMNS, [SAMPLE_ROWS[0], _row("", "P-X", "P—X; mass c. = ? g/L")], 3, "empty Kode"),
    (COLUMNS, [SAMPLE_ROWS[0], SAMPLE_ROWS[1], SAMPLE_ROWS[0]], 4, "duplicate code 'NPU19748' (first on row 2)"),
    (COLUMNS, [["NPU19748", "25.01.2013"] + [None] * (len(COLUMNS) - 2)], 2, "Gyldig fra '25.01.2013' is not a date"),
    (COLUMNS, [SAMPLE_ROWS[9]], None, "no NPU codes"),
])
def test_malformed_rows_name_file_and_row(tmp_path: Path, header: list[str], rows: list[list[Any]],
                                          line: int | None, message: str) -> None:
    path = write_workbook(tmp_path / "nlk.xlsx", rows, header=header)
    with pytest.raises(LoadError, match=re.escape(message)) as caught:
        nlk_xlsx.parse(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: " if line else f"{path}: ")


@pytest.fixture(scope="module")
def real_release(release_dir: Path) -> ParsedRelease:
    return nlk_xlsx.parse(release_dir / REAL)


@pytest.mark.release
def test_real_file_counts(real_release: ParsedRelease) -> None:
    [system] = real_release.code_systems
    assert system.version == "7280.77"
    assert system.title == "NPU (from the Norwegian Laboratory Code List NLK 7280.77)"
    # 9,741 NPU rows: 9,737 codes plus 4 rows keyed with a trailing space ('NPU62708 ') that the clean rows replace.
    assert len(system.concepts) == len({c.code for c in system.concepts}) == 9_737
    assert real_release.warnings[0] == "skipped 1654 non-NPU rows (Norwegian NOR… codes)"
    assert real_release.warnings[1].startswith("dropped 4 rows whose Kode has stray spaces")
    without_end = [c for c in system.concepts if "validTo" not in _props(c)]
    assert len(without_end) == 8_897
    assert all(c.active for c in without_end)
    assert all(c.code.startswith("NPU") and c.code == c.code.strip() for c in system.concepts)


@pytest.mark.release
def test_real_file_values(real_release: ParsedRelease) -> None:
    by_code = _by_code(real_release.code_systems[0])
    crp = by_code["NPU19748"]
    assert "C-reactive protein" in crp.display
    assert [(d.value, d.language) for d in crp.designations] == [("P-CRP", "nb")]
    assert _props(crp)["unit"] == ("mg/L", "string")
    assert by_code["NPU01962"].display == "Csf—Erythrocytes; num.c. = ? × 10^6/L"
    assert not any("<su" in c.display or "</" in c.display for c in by_code.values())


@pytest.mark.release
def test_sniff_claims_only_the_nlk_workbook(release_dir: Path) -> None:
    assert nlk_xlsx.sniff(release_dir / REAL)
    claimed = [p for p in sorted(release_dir.rglob("*")) if p.is_file() and p != release_dir / REAL
               and nlk_xlsx.sniff(p)]
    assert claimed == []
