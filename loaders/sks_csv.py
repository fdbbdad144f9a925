"""SKS diagnosis codes (ICD-10-DK "D" codes) from a two-column CSV: ``code,description``.

The release (``icd10/HEA_ICD10_dict.csv``) writes every code with the prefix ``HEA_ICD10_``
(``HEA_ICD10_DJ449`` → ``DJ449``) and has no validity dates, so retired codes stand beside active ones and
``active`` is left unstated. The file has no hierarchy either; it follows from the codes: the parent of a code is
the longest *other* code in the file that is a proper prefix of it (``DJ44`` is the parent of ``DJ449``,
the root ``D`` of ``DA00``).

Grouping headings are not selectable: a code without a digit that has children, i.e. the root ``D`` and ``DUB``
"Orificiums åbning ved indgreb" and ``DUP`` "fosterpræsentation", which only gather their numbered children.
Everything else is a code a clinician can record, including the Danish supplementary codes outside the ``D`` +
letter + 2 digits shape (``DUA10`` abdominal circumference, ``DVA05`` Apgar, ``DVRA01`` body weight) and the
digit-less leaf ``DVAXX`` (Apgar "uoplyst").
"""
from __future__ import annotations

import csv
from pathlib import Path

from loaders.model import ParsedCodeSystem, ParsedConcept, ParsedRelease
from termserver.errors import LoadError
from termserver.systems import SKS_DIAGNOSES

NAME = "sks-csv"
CODE_PREFIX = "HEA_ICD10_"
HEADER = ("code", "description")


def sniff(path: Path) -> bool:
    """A ``.csv`` whose header is ``code,description`` and whose codes carry the ``HEA_ICD10_`` prefix."""
    if path.suffix.lower() != ".csv":
        return False
    with path.open("rb") as handle:
        head = handle.read(1024).decode("utf-8", errors="replace").lstrip("\ufeff")
    first, _, rest = head.partition("\n")
    return first.strip().lower().replace('"', "") == ",".join(HEADER) and rest.lstrip('"').startswith(CODE_PREFIX)


def parse(path: Path) -> ParsedRelease:
    """Parse the SKS diagnosis CSV into one complete code system with a prefix-derived hierarchy.

    :raises LoadError: when the file is not UTF-8, lacks the ``code``/``description`` columns, or a row has the
        wrong number of fields, no ``HEA_ICD10_`` prefix, an empty code or a code seen before.
    """
    system = ParsedCodeSystem(
        url=SKS_DIAGNOSES,
        version=None,  # the file carries no release date or revision
        name="SKSDiagnoses",
        title="SKS diagnosekoder (ICD-10-DK)",
        language="da",
        publisher="Sundhedsdatastyrelsen",
        description="SKS diagnosis codes (D codes, ICD-10-DK) with Danish texts. The release has no validity "
                    "dates, so retired codes are included and not marked as such.",
        hierarchy_meaning="is-a",
        concepts=read_concepts(path),
    )
    link_parents(system.concepts)
    return ParsedRelease(path=str(path), format=NAME, code_systems=[system])


def read_concepts(path: Path) -> list[ParsedConcept]:
    """The concepts of the CSV in file order, prefix stripped, without parents.

    :raises LoadError: on a malformed file or row (the message names the line).
    """
    concepts: list[ParsedConcept] = []
    first_line: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader, [])]
            if not header:
                raise LoadError(path, "empty file: no header line")
            missing = [name for name in HEADER if name not in header]
            if missing:
                raise LoadError(path, f"missing column(s) {', '.join(missing)}; header is {header!r}", line=1)
            code_at, text_at = header.index("code"), header.index("description")
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise LoadError(path, f"expected {len(header)} fields, found {len(row)}", line=line)
                raw = row[code_at].strip()
                if not raw.startswith(CODE_PREFIX):
                    raise LoadError(path, f"code {raw!r} lacks the {CODE_PREFIX} prefix", line=line)
                code = raw[len(CODE_PREFIX):]
                if not code:
                    raise LoadError(path, "empty code after the prefix", line=line)
                if code in first_line:
                    raise LoadError(path, f"duplicate code {code!r} (first on line {first_line[code]})", line=line)
                first_line[code] = line
                concepts.append(ParsedConcept(code=code, display=row[text_at].strip() or None))
    except UnicodeDecodeError as exc:
        raise LoadError(path, "not UTF-8 text") from exc
    except csv.Error as exc:
        raise LoadError(path, f"malformed CSV: {exc}") from exc
    if not concepts:
        raise LoadError(path, "no codes in the file")
    return concepts


def link_parents(concepts: list[ParsedConcept]) -> None:
    """Link each concept to the longest other code that is a proper prefix of it; mark headings not selectable.

    A heading is a digit-less code with children (``D``, ``DUB``, ``DUP``). The root has no parent.
    """
    by_code = {concept.code: concept for concept in concepts}
    for concept in concepts:
        code = concept.code
        # Walk prefixes from the longest down: at most len(code) dict look-ups per code.
        for end in range(len(code) - 1, 0, -1):
            parent = by_code.get(code[:end])
            if parent is not None:
                concept.parents = [parent.code]
                if not any(ch.isdigit() for ch in parent.code):
                    parent.not_selectable = True
                break
