"""NPU codes from the Norwegian Laboratory Code List (NLK) Excel release, sheet ``Nlk``.

NLK (Helsedirektoratet, OID 2.16.578.1.12.4.1.1.7280) holds international ``NPU…`` codes and Norwegian ``NOR…``
codes; only the NPU codes are kept, as the *base* layer of NPU (``urn:oid:1.2.208.176.2.1``). The Danish NPU
CodeSystem adds Danish names on top (see ``loaders.fhir.LAYERED_SYSTEMS``).

Per code: display = ``Kodedefinisjon``, the international English NPU short definition (HTML ``<sub>``/``<sup>``
made plain: ``pCO<sub>2</sub>`` → ``pCO2``, ``10<sup>9</sup>`` → ``10^9``); a ``nb`` designation = ``Norsk
bruksnavn``; properties validFrom/validTo (ISO dates), replacedBy, unit, component. A code is active while its
``Gyldig til`` is empty or not yet past: NLK stamps end dates 23:59 on the last valid day, so that day still counts.
Codes are trimmed; where a code was also keyed with stray spaces (``'NPU62708 '``, an ended mistake that is
"replaced by" the clean code), the clean row wins and the other is dropped with a warning.

Version: the release number at the end of the file name (``Norsk Laboratoriekodeverk 7280.77.xlsx`` → ``7280.77``),
else None; the workbook itself does not state it.
"""
from __future__ import annotations

import datetime as dt
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loaders.model import (ParsedCodeSystem, ParsedConcept, ParsedDesignation, ParsedProperty, ParsedRelease,
                           PropertyDefinition)
from termserver.errors import LoadError
from termserver.systems import NPU

NAME = "nlk-xlsx"
SHEET = "Nlk"
LAYER = "nlk"
CODE_PREFIX = "NPU"
REQUIRED_COLUMNS = ("Kode", "Gyldig fra", "Gyldig til", "Erstattes av", "Norsk bruksnavn", "Kodedefinisjon")
OPTIONAL_COLUMNS = ("Komponent", "Enhet")

PROPERTY_DEFINITIONS = [
    PropertyDefinition("validFrom", "dateTime", description="First day the code is valid (NLK 'Gyldig fra')"),
    PropertyDefinition("validTo", "dateTime", description="Last day the code is valid (NLK 'Gyldig til')"),
    PropertyDefinition("replacedBy", "code", description="Code that replaces this one (NLK 'Erstattes av')"),
    PropertyDefinition("unit", "string", description="Unit of the result (NLK 'Enhet')"),
    PropertyDefinition("component", "string", description="Component, in Norwegian (NLK 'Komponent')"),
]

_VERSION = re.compile(r"(\d+(?:\.\d+)+)\s*$")
_POWER = re.compile(r"(?<=\d)<sup>(.*?)</sup>")  # 10<sup>9</sup>: a power of ten
_MARKUP = re.compile(r"</?su[bp]>")


def sniff(path: Path) -> bool:
    """An ``.xlsx`` workbook with a sheet named ``Nlk`` (read from ``xl/workbook.xml`` only)."""
    if path.suffix.lower() != ".xlsx":
        return False
    from lxml import etree

    try:
        with zipfile.ZipFile(path) as archive:
            workbook = archive.read("xl/workbook.xml")
        root = etree.fromstring(workbook)
    except (zipfile.BadZipFile, KeyError, etree.XMLSyntaxError):
        return False
    return any(sheet.get("name") == SHEET for sheet in root.iter("{*}sheet"))


def version_from_name(path: Path) -> str | None:
    """The NLK release number at the end of the file name (``…_7280.77.xlsx`` → ``7280.77``), else None."""
    match = _VERSION.search(path.stem)
    return match.group(1) if match else None


def parse(path: Path) -> ParsedRelease:
    """Parse the NLK workbook into the NPU base layer (NPU rows only).

    :raises LoadError: when the file is not a readable workbook, has no ``Nlk`` sheet, lacks a required column,
        or a row has an empty code, a bad date or a code another clean row has (the message names the row).
    """
    rows = read_rows(path)
    release = ParsedRelease(path=str(path), format=NAME)
    system, warnings = npu_code_system(path, rows, version=version_from_name(path), today=dt.date.today())
    release.code_systems.append(system)
    release.warnings.extend(warnings)
    return release


def read_rows(path: Path) -> list[tuple[Any, ...]]:
    """Every row of the ``Nlk`` sheet as a tuple of cell values, header first.

    :raises LoadError: when the file is not a workbook or has no ``Nlk`` sheet.
    """
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        raise LoadError(path, f"not a readable Excel workbook: {exc}") from exc
    try:
        if SHEET not in workbook.sheetnames:
            raise LoadError(path, f"no sheet {SHEET!r}; sheets are {', '.join(workbook.sheetnames)}")
        return list(workbook[SHEET].iter_rows(values_only=True))
    finally:
        workbook.close()


def npu_code_system(path: Path, rows: Iterable[tuple[Any, ...]], *, version: str | None,
                    today: dt.date) -> tuple[ParsedCodeSystem, list[str]]:
    """The NPU layer built from sheet rows (header first), and warnings about the rows left out.

    :raises LoadError: as :func:`parse`; ``line`` is the spreadsheet row number.
    """
    iterator = iter(rows)
    header = [str(cell).strip() if cell is not None else "" for cell in next(iterator, ())]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise LoadError(path, f"sheet {SHEET!r} lacks column(s) {', '.join(missing)}", line=1)
    at = {name: header.index(name) for name in REQUIRED_COLUMNS + OPTIONAL_COLUMNS if name in header}
    release_name = f"NLK {version}" if version else "NLK"
    system = ParsedCodeSystem(
        url=NPU,
        version=version,
        name="NPU",
        title=f"NPU (from the Norwegian Laboratory Code List {release_name})",
        language="en",
        publisher="IFCC/IUPAC via Helsedirektoratet (NLK)",
        property_definitions=list(PROPERTY_DEFINITIONS),
        layer=LAYER,
        layer_priority=0,
        layer_role="base",
    )
    by_code: dict[str, tuple[int, bool]] = {}  # code → (its row, whether its Kode cell had no stray spaces)
    concepts: dict[str, ParsedConcept] = {}
    skipped_rows, dropped = 0, []
    for line, row in enumerate(iterator, start=2):
        cells = {name: row[index] if index < len(row) else None for name, index in at.items()}
        raw = cells["Kode"]
        code = _text(raw)
        if not code:
            if any(value not in (None, "") for value in row):
                raise LoadError(path, "empty Kode", line=line)
            continue  # blank row
        if not code.startswith(CODE_PREFIX):
            skipped_rows += 1
            continue
        clean = raw == code
        if code in by_code:
            first, first_clean = by_code[code]
            # NLK 7280.77 has four codes keyed twice: once as 'NPU62708 ' (ended, "replaced by" itself) and once
            # clean. The mis-keyed row is dropped; two clean rows for one code are an error.
            if clean == first_clean:
                raise LoadError(path, f"duplicate code {code!r} (first on row {first})", line=line)
            dropped.append(f"row {line if first_clean else first}")
            if first_clean:
                continue
        by_code[code] = (line, clean)
        concepts[code] = _concept(path, line, code, cells, today)
    if not concepts:
        raise LoadError(path, f"no {CODE_PREFIX} codes in sheet {SHEET!r}")
    system.concepts = list(concepts.values())
    warnings = []
    if skipped_rows:
        warnings.append(f"skipped {skipped_rows} non-{CODE_PREFIX} rows (Norwegian NOR… codes)")
    if dropped:
        warnings.append(f"dropped {len(dropped)} rows whose Kode has stray spaces and that the same code without "
                        f"spaces supersedes ({', '.join(dropped)})")
    return system, warnings


def _concept(path: Path, line: int, code: str, cells: dict[str, Any], today: dt.date) -> ParsedConcept:
    valid_from = _date(path, line, "Gyldig fra", cells.get("Gyldig fra"))
    valid_to = _date(path, line, "Gyldig til", cells.get("Gyldig til"))
    norwegian = _text(cells.get("Norsk bruksnavn"))
    active = valid_to is None or valid_to >= today
    concept = ParsedConcept(code=code, display=plain_text(_text(cells.get("Kodedefinisjon"))) or norwegian or None,
                            active=active, status=None if active else "retired")
    if norwegian:
        concept.designations.append(ParsedDesignation(value=norwegian, language="nb"))
    properties = [("validFrom", valid_from and valid_from.isoformat(), "dateTime"),
                  ("validTo", valid_to and valid_to.isoformat(), "dateTime"),
                  ("replacedBy", _text(cells.get("Erstattes av")), "code"),
                  ("unit", _text(cells.get("Enhet")), "string"),
                  ("component", _text(cells.get("Komponent")), "string")]
    concept.properties = [ParsedProperty(code=name, value=value, type=kind) for name, value, kind in properties
                          if value]
    return concept


def plain_text(text: str) -> str:
    """NPU definition text without HTML sub/superscripts: powers of ten become ``10^9``, other marks run in."""
    if "<" not in text:
        return text
    return _MARKUP.sub("", _POWER.sub(r"^\1", text))


def _text(value: Any) -> str:
    # NLK cells carry stray trailing spaces (codes such as 'NPU62708 ') and non-breaking spaces in names.
    return "" if value is None else str(value).replace("\xa0", " ").strip()


def _date(path: Path, line: int, column: str, value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise LoadError(path, f"{column} {value!r} is not a date", line=line) from None
