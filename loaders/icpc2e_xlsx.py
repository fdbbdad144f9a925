"""The English ICPC-2e Excel release of WICC (``icpc2/icpc-2e-v7.0.xlsx``): the base layer of ICPC-2.

One sheet with columns ``Code, preferred, shortTitle, inclusion, exclusion, criteria, consider, note, icd10``:
686 rubrics (A01 … Z29) and the 40 chapter-independent process codes (-30 … -69, stored as numbers in the
sheet, hence read cell by cell as text). The ``icd10`` column (``;``-separated WHO codes) doubles as an
ICPC-2 → ICD-10 concept map.
"""
from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from loaders.icpc2_chapters import (INCLUSION_TERM, PROCESS_CODE, RUBRIC_CODE, SHORT_TITLE, chapter_concepts,
                                    chapter_of, designation_use)
from loaders.model import (ParsedCodeSystem, ParsedConcept, ParsedConceptMap, ParsedDesignation, ParsedMapping,
                           ParsedProperty, ParsedRelease, PropertyDefinition)
from termserver.errors import LoadError
from termserver.systems import ICD10, ICPC2

NAME = "icpc2e-xlsx"

CONCEPT_MAP_URL = "https://termserver.dk/fhir/ConceptMap/icpc2e-icd10"
PUBLISHER = "WONCA International Classification Committee (WICC)"
TEXT_PROPERTIES = {
    "inclusion": "Inclusion criteria: terms and conditions coded to this rubric",
    "exclusion": "Exclusions: conditions coded elsewhere, with the rubric to use",
    "criteria": "Criteria that must be met to code to this rubric",
    "consider": "Rubrics to consider when the criteria are not met",
    "note": "Notes",
}
COLUMNS = ("Code", "preferred", "shortTitle", *TEXT_PROPERTIES, "icd10")
# Enough to tell this workbook from other Excel releases (NLK has "Kode", "Norsk bruksnavn", ...).
_SIGNATURE = {"Code", "preferred", "shortTitle", "icd10"}

_SPACES = re.compile(r"[ \t]{2,}")
_XML_TEXT = re.compile(r"<t(?:\s[^>]*)?>([^<]*)</t>")
_VERSION = re.compile(r"v(\d+(?:\.+\d+)*)", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"\b([A-Z][0-9]{2}),([0-9]{1,2})\b")  # "K64,1" is K64.1
_ICD10_CODE = re.compile(r"^[A-Z][0-9]{2}(?:\.[0-9A-Z]{1,2})?$")


def sniff(path: Path) -> bool:
    """An .xlsx whose first strings are the ICPC-2e header (Code, preferred, shortTitle, …, icd10)."""
    if path.suffix.lower() != ".xlsx":
        return False
    head = ""
    try:
        with zipfile.ZipFile(path) as book:
            names = set(book.namelist())
            # Header cells are usually the first shared strings; inline strings sit in the sheet itself.
            for part in ("xl/sharedStrings.xml", "xl/worksheets/sheet1.xml"):
                if part in names:
                    with book.open(part) as handle:
                        head += handle.read(16384).decode("utf-8", errors="replace")
    except zipfile.BadZipFile:
        return False
    return _SIGNATURE <= set(_XML_TEXT.findall(head))


def parse(path: Path) -> ParsedRelease:
    """Parse the ICPC-2e workbook into the ICPC-2 base layer (with chapters) and the ICPC-2e → ICD-10 map.

    :raises LoadError: when the workbook cannot be read, a column is missing, or a code is empty, malformed or
        repeated.
    """
    sheet_name, rows = _read_sheet(path)
    if not rows:
        raise LoadError(path, "the sheet is empty")
    header_row, header = rows[0]
    columns = {_text(name): index for index, name in enumerate(header) if _text(name)}
    for name in COLUMNS:
        if name not in columns:
            raise LoadError(path, f"missing column {name!r} in the header row", line=header_row)

    version = _version(path, sheet_name)
    release = ParsedRelease(path=str(path), format=NAME)
    system = ParsedCodeSystem(
        url=ICPC2, version=version, name="ICPC-2",
        title="International Classification of Primary Care, 2nd edition (ICPC-2e)", language="en",
        publisher=PUBLISHER, hierarchy_meaning="is-a", layer="icpc2e", layer_priority=0, layer_role="base",
        property_definitions=[PropertyDefinition(code, "string", description=text)
                              for code, text in TEXT_PROPERTIES.items()]
        + [PropertyDefinition("parent", "code", description="The ICPC-2 chapter of a rubric"),
           PropertyDefinition("child", "code", description="The rubrics of an ICPC-2 chapter")],
        concepts=chapter_concepts(),
    )
    cmap = ParsedConceptMap(
        url=CONCEPT_MAP_URL, version=version, name="Icpc2eToIcd10", title="ICPC-2e to ICD-10 (WICC conversion)",
        publisher=PUBLISHER, source_scope=ICPC2, target_scope=ICD10,
        description="The icd10 column of the ICPC-2e release: each rubric to the WHO ICD-10 codes it covers.",
    )
    first_row: dict[str, int] = {}
    for row_number, cells in rows[1:]:
        row = {name: _text(cells[index]) if index < len(cells) else "" for name, index in columns.items()}
        if not any(row.values()):
            continue
        concept = _concept(path, row_number, row, first_row)
        system.concepts.append(concept)
        targets = _icd10_codes(row["icd10"], f"row {row_number} ({concept.code})", release.warnings)
        relationship = "equivalent" if len(targets) == 1 else "narrower"
        cmap.mappings.extend(ParsedMapping(source_system=ICPC2, source_code=concept.code, target_system=ICD10,
                                           target_code=target, relationship=relationship,
                                           source_display=concept.display)
                             for target in targets)
    if not first_row:
        raise LoadError(path, "no codes below the header row")
    release.code_systems.append(system)
    if cmap.mappings:
        release.concept_maps.append(cmap)
    return release


def _read_sheet(path: Path) -> tuple[str, list[tuple[int, tuple[Any, ...]]]]:
    """The first sheet's name and its rows as (Excel row number, cell values)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # Excel extensions openpyxl does not read (data validation, ...) are irrelevant here.
            warnings.filterwarnings("ignore", message=".*extension is not supported", category=UserWarning)
            book = load_workbook(path, read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                rows = [(number, values) for number, values in enumerate(sheet.iter_rows(values_only=True), 1)]
                return sheet.title, rows
            finally:
                book.close()
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, IndexError) as exc:
        raise LoadError(path, f"not a readable Excel workbook: {exc}") from exc
    except OSError as exc:
        raise LoadError(path, f"cannot read file: {exc.strerror or exc}") from exc


def _text(value: Any) -> str:
    """A cell as trimmed text with doubled spaces collapsed; numbers as written (-30, not -30.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return _SPACES.sub(" ", str(value)).strip()


def _version(path: Path, sheet_name: str) -> str | None:
    """``7.0`` from ``icpc-2e-v7.0.xlsx``; else from the sheet name (``icpc-2e-v6..0`` → ``6.0``); else None."""
    for source in (path.stem, sheet_name):
        match = _VERSION.search(source)
        if match:
            return re.sub(r"\.+", ".", match.group(1))
    return None


def _concept(path: Path, row_number: int, row: dict[str, str], first_row: dict[str, int]) -> ParsedConcept:
    code = row["Code"]
    if not code:
        raise LoadError(path, f"empty code on row {row_number}", line=row_number)
    if not (RUBRIC_CODE.match(code) or PROCESS_CODE.match(code)):
        raise LoadError(path, f"unexpected code {code!r} on row {row_number} (expected A01…Z99 or -30…-69)",
                        line=row_number)
    chapter = chapter_of(code)
    if RUBRIC_CODE.match(code) and chapter is None:
        raise LoadError(path, f"code {code!r} on row {row_number} is in no ICPC-2 chapter", line=row_number)
    if code in first_row:
        raise LoadError(path, f"duplicate code {code!r} on row {row_number} (first on row {first_row[code]})",
                        line=row_number)
    first_row[code] = row_number
    if not row["preferred"]:
        raise LoadError(path, f"empty preferred title for {code!r} on row {row_number}", line=row_number)

    concept = ParsedConcept(code=code, display=row["preferred"], parents=[chapter] if chapter else [])
    if row["shortTitle"]:
        concept.designations.append(ParsedDesignation(row["shortTitle"], "en", **designation_use(SHORT_TITLE)))
    terms = dict.fromkeys(term.strip() for term in row["inclusion"].split(";"))
    concept.designations.extend(ParsedDesignation(term, "en", **designation_use(INCLUSION_TERM))
                                for term in terms if term)
    concept.properties.extend(ParsedProperty(code=name, value=row[name]) for name in TEXT_PROPERTIES if row[name])
    return concept


def _icd10_codes(cell: str, where: str, notes: list[str]) -> list[str]:
    """The distinct ICD-10 codes of an ``icd10`` cell, repairing the release's typos (noted in ``notes``)."""
    codes: dict[str, None] = {}
    repeated = 0
    for part in (p.strip() for p in cell.split(";")):
        if not part:
            continue
        fixed = _DECIMAL_COMMA.sub(r"\1.\2", part)
        if fixed != part:
            notes.append(f"icd10 on {where}: read {part!r} as {fixed!r}")
        pieces = [piece.strip() for piece in fixed.split(",") if piece.strip()]
        if len(pieces) > 1:
            notes.append(f"icd10 on {where}: split {fixed!r} at the comma")
        for piece in pieces:
            if not _ICD10_CODE.match(piece):
                notes.append(f"icd10 on {where}: skipped {piece!r}, not an ICD-10 code")
            elif piece in codes:
                repeated += 1
            else:
                codes[piece] = None
    if repeated:
        notes.append(f"icd10 on {where}: dropped {repeated} repeated code(s)")
    return list(codes)
