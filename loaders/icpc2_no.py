"""The Norwegian ICPC-2 list of Helsedirektoratet (``icpc2/ICPC2.json``): a JSON array of ``{"code", "text"}``.

Loaded as a supplement of ICPC-2 with Norwegian (bokmål) designations. Norway's 4-character extension codes
(``R991`` Covid-19, ``A981``, …) stay concepts of the supplement; they have no base ICPC-2 concept.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from loaders.model import ParsedCodeSystem, ParsedConcept, ParsedDesignation, ParsedRelease
from termserver.errors import LoadError
from termserver.systems import ICPC2

NAME = "icpc2-no-json"

URL = "urn:oid:2.16.578.1.12.4.1.1.7170"
NORWEGIAN_EXTENSION = re.compile(r"^[A-Z][0-9]{3}$")
_KEYS = {"code", "text"}


def sniff(path: Path) -> bool:
    """A .json array whose first element has exactly the keys ``code`` and ``text``."""
    if path.suffix.lower() != ".json":
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).decode("utf-8-sig", errors="replace").lstrip()
    if not head.startswith("["):
        return False
    start = head.find("{")
    end = head.find("}", start)
    if start < 0 or end < 0 or head[1:start].strip():
        return False
    try:
        first = json.loads(head[start:end + 1])
    except json.JSONDecodeError:
        return False
    return isinstance(first, dict) and set(first) == _KEYS


def parse(path: Path) -> ParsedRelease:
    """Parse the Norwegian list into a supplement of ICPC-2 with one ``nb`` designation per code.

    :raises LoadError: when the file is not a JSON array of ``{"code", "text"}`` objects with distinct,
        non-empty codes.
    """
    try:
        with path.open(encoding="utf-8-sig") as handle:
            items = json.load(handle)
    except json.JSONDecodeError as exc:
        raise LoadError(path, f"malformed JSON: {exc.msg}", line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise LoadError(path, "not UTF-8 text") from exc
    if not isinstance(items, list) or not items:
        raise LoadError(path, "expected a non-empty JSON array of {\"code\", \"text\"} objects")

    concepts: list[ParsedConcept] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        code = item.get("code") if isinstance(item, dict) else None
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(code, str) or not code.strip():
            raise LoadError(path, f"element {index}: missing or empty \"code\"")
        code = code.strip()
        if not isinstance(text, str) or not text.strip():
            raise LoadError(path, f"element {index} ({code}): missing or empty \"text\"")
        if code in seen:
            raise LoadError(path, f"element {index}: duplicate code {code!r}")
        seen.add(code)
        concepts.append(ParsedConcept(code=code, designations=[
            ParsedDesignation(value=" ".join(text.split()), language="nb")]))

    release = ParsedRelease(path=str(path), format=NAME, code_systems=[ParsedCodeSystem(
        url=URL, version=None, name="ICPC2NorwegianHelsedirektoratet",
        title="ICPC-2 Norwegian designations (Helsedirektoratet)", language="nb", content="supplement",
        supplements=ICPC2, publisher="Helsedirektoratet",
        description="Norwegian (bokmål) ICPC-2 names, including Norway's 4-character extension codes.",
        concepts=concepts,
    )])
    extensions = sorted(code for code in seen if NORWEGIAN_EXTENSION.match(code))
    if extensions:
        release.warnings.append(
            f"{len(extensions)} of {len(concepts)} codes are Norwegian 4-character extensions with no ICPC-2 base "
            f"concept ({', '.join(extensions[:5])}{', …' if len(extensions) > 5 else ''})")
    return release
