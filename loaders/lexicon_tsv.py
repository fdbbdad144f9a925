"""Synonym lexicons (``data/synonyms-da.tsv`` and operators' own): ``term<TAB>code[<TAB>system]`` with a header row.

Each lexicon becomes a supplement of the system its codes belong to (ICPC-2 when no system is given): the terms
are Danish designations with use ``synonym``, found by the typeahead search and by ``$lookup``. The supplement's
URL is made from the file name, so loading an edited lexicon replaces the old one.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

from loaders.icpc2_chapters import DESIGNATION_USE, DESIGNATION_USE_DISPLAYS, SYNONYM
from loaders.model import ParsedCodeSystem, ParsedConcept, ParsedDesignation, ParsedRelease
from termserver.errors import LoadError
from termserver.systems import ICPC2

NAME = "lexicon-tsv"
URL_BASE = "https://termserver.dk/fhir/CodeSystem/lexicon"
HEADER = ["term", "code"]


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    rows = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            rows.append((number, [cell.strip() for cell in row]))
    return rows


def sniff(path: Path) -> bool:
    """A .tsv whose first non-comment line is the header ``term<TAB>code``."""
    if path.suffix.lower() != ".tsv":
        return False
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if line.strip() and not line.lstrip().startswith("#"):
                return [c.strip().lower() for c in line.rstrip("\r\n").split("\t")][:2] == HEADER
    return False


def parse(path: Path) -> ParsedRelease:
    """One supplement per target system with every term as a Danish ``synonym`` designation.

    :raises LoadError: on a missing header, an empty term or code, or a row with too many columns.
    """
    try:
        rows = _rows(path)
    except UnicodeDecodeError as exc:
        raise LoadError(path, "not UTF-8 text") from exc
    if not rows or [c.lower() for c in rows[0][1][:2]] != HEADER:
        raise LoadError(path, "first line must be the header 'term<TAB>code[<TAB>system]'")
    by_system: dict[str, dict[str, ParsedConcept]] = {}
    for number, row in rows[1:]:
        if len(row) < 2 or len(row) > 3:
            raise LoadError(path, f"expected 2 or 3 tab-separated columns, found {len(row)}", line=number)
        term, code = row[0], row[1]
        system = row[2] if len(row) == 3 and row[2] else ICPC2
        if not term or not code:
            raise LoadError(path, "empty term or code", line=number)
        concepts = by_system.setdefault(system, {})
        concept = concepts.setdefault(code, ParsedConcept(code=code))
        if all(d.value != term for d in concept.designations):
            concept.designations.append(ParsedDesignation(term, "da", DESIGNATION_USE, SYNONYM,
                                                          DESIGNATION_USE_DISPLAYS[SYNONYM]))
    if not by_system:
        raise LoadError(path, "no terms after the header")
    stem = re.sub(r"[^A-Za-z0-9\-]+", "-", path.stem).strip("-").lower() or "lexicon"
    release = ParsedRelease(path=str(path), format=NAME)
    for number, (system, concepts) in enumerate(sorted(by_system.items())):
        suffix = "" if number == 0 else f"-{number + 1}"
        release.code_systems.append(ParsedCodeSystem(
            url=f"{URL_BASE}/{stem}{suffix}", version=None, name=f"Lexicon{stem.title().replace('-', '')}",
            title=f"Synonym lexicon {path.name}", language="da", content="supplement", supplements=system,
            publisher="termserver", concepts=list(concepts.values())))
    return release
