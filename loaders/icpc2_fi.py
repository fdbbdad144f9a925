"""The Finnish THL code-server export of ICPC-2 (``icpc2/standard_ICPC2_kodistopalvelu_…txt``).

A ``;``-separated, cp1252-encoded table (39 columns) with Finnish (``LongName``), Swedish (``A:Långt_namn``) and
English names. Only the Finnish and Swedish names are used, as a supplement of ICPC-2; the ICD-10 column is
the Finnish ICD-10 variant (``R68.88``) and is left out.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from loaders.model import ParsedCodeSystem, ParsedConcept, ParsedDesignation, ParsedRelease
from termserver.errors import LoadError
from termserver.systems import ICPC2

NAME = "icpc2-fi-thl"

URL = "https://termserver.dk/fhir/CodeSystem/icpc2-fi-sv-thl"
CODE, FINNISH, SWEDISH, MODIFIED = "CodeId", "LongName", "A:Långt_namn", "LastModifiedDate"
REQUIRED = (CODE, FINNISH, SWEDISH)


def sniff(path: Path) -> bool:
    """A .txt/.csv whose header line is the THL code-server layout (``CodeId;…;LongName;…``)."""
    if path.suffix.lower() not in (".txt", ".csv"):
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).removeprefix(b"\xef\xbb\xbf")
    fields = head.decode("cp1252", errors="replace").split("\n", 1)[0].rstrip("\r").split(";")
    return fields[0] == CODE and FINNISH in fields and "A:Long_name" in fields


def parse(path: Path) -> ParsedRelease:
    """Parse the THL export into a supplement of ICPC-2 with Finnish (fi) and Swedish (sv) designations.

    The version is the latest ``LastModifiedDate`` in the file (the export itself carries no date).

    :raises LoadError: when a required column is missing, a row has the wrong number of fields, or a code is
        empty or repeated.
    """
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), delimiter=";")
    try:
        header = next(reader)
    except StopIteration:
        raise LoadError(path, "the file is empty") from None
    columns = {name.strip(): index for index, name in enumerate(header)}
    for name in REQUIRED:
        if name not in columns:
            raise LoadError(path, f"missing column {name!r} in the header line", line=1)

    concepts: list[ParsedConcept] = []
    first_line: dict[str, int] = {}
    modified: list[str] = []
    try:
        for fields in reader:
            line = reader.line_num
            if not any(field.strip() for field in fields):
                continue
            if len(fields) != len(header):
                raise LoadError(path, f"{len(fields)} fields, expected {len(header)}", line=line)
            code = fields[columns[CODE]].strip()
            if not code:
                raise LoadError(path, "empty CodeId", line=line)
            if code in first_line:
                raise LoadError(path, f"duplicate CodeId {code!r} (first on line {first_line[code]})", line=line)
            first_line[code] = line
            concept = ParsedConcept(code=code)
            for column, language in ((FINNISH, "fi"), (SWEDISH, "sv")):
                value = " ".join(fields[columns[column]].split())
                if value:
                    concept.designations.append(ParsedDesignation(value=value, language=language))
            concepts.append(concept)
            if MODIFIED in columns:
                modified.append(fields[columns[MODIFIED]].strip())
    except csv.Error as exc:
        raise LoadError(path, f"malformed line: {exc}", line=reader.line_num) from exc
    if not concepts:
        raise LoadError(path, "no codes below the header line")

    version = _latest_date(modified)
    system = ParsedCodeSystem(
        url=URL, version=version, name="ICPC2FinnishSwedishTHL",
        title="ICPC-2 Finnish and Swedish designations (THL)", language="fi", content="supplement",
        supplements=ICPC2, publisher="THL (Finnish Institute for Health and Welfare)", date=version,
        description="Finnish and Swedish ICPC-2 names from the THL code server (Koodistopalvelu) export.",
        concepts=concepts,
    )
    return ParsedRelease(path=str(path), format=NAME, code_systems=[system])


def _read_text(path: Path) -> str:
    """The file as text: UTF-8 if it decodes as such (a re-export), else cp1252 as THL exports it."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise LoadError(path, f"neither UTF-8 nor cp1252 text (byte 0x{raw[exc.start]:02x} at offset "
                              f"{exc.start})") from exc


def _latest_date(values: list[str]) -> str | None:
    """The latest ``dd.mm.yyyy`` date as ISO ``yyyy-mm-dd``; None when there is none."""
    dates = []
    for value in values:
        try:
            dates.append(datetime.strptime(value, "%d.%m.%Y").date())
        except ValueError:
            continue
    return max(dates).isoformat() if dates else None
