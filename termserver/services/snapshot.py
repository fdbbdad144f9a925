"""An in-memory snapshot of the newest version of each code system, for answering validations without the store.

Built together with the search index (from the same rows), rebuilt with it when a load changes the store. It holds
what ``validate_coding`` and ``lookup_code`` need and nothing more: the system's metadata, and per code the stored
display and definition, status, active/abstract flags, every designation and property (supplements included, in the
store's order, each supplement's designations naming it as their source), the supplements that add to the code and
its parents and children, so the in-memory answer is the store's answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from termserver.services.catalog import ConceptView, DesignationView, PropertyView


@dataclass(slots=True)
class ConceptSnapshot:
    code: str
    display: str | None
    active: bool
    status: str | None
    not_selectable: bool
    designations: list[DesignationView]
    shown: str | None = None  # the display in the system's default language (what no displayLanguage gets)
    # the validation checker's own view of this concept, made the first time a request needs it and kept (it is
    # the same for every request; a rebuilt snapshot starts without one)
    checked: Any = None
    definition: str | None = None
    properties: tuple[PropertyView, ...] = ()
    supplements: tuple[str, ...] = ()  # url|version of the supplements that add to it
    parents: tuple[str, ...] = ()  # in the store's order
    children: tuple[str, ...] = ()

    def view(self) -> ConceptView:
        """The concept as ``catalog.concept_view`` reads it from the store (lists copied: the snapshot is shared)."""
        return ConceptView(self.code, self.display, self.definition, self.active, self.status, self.not_selectable,
                           list(self.designations), list(self.properties), list(self.supplements))


@dataclass
class SystemSnapshot:
    """The fields of ``CodeSystemVersion`` that messages and display rules read, and the concepts by code."""

    url: str
    version: str | None
    title: str | None
    name: str | None
    language: str | None
    case_sensitive: bool
    supplements: tuple[str, ...] = ()  # url|version of the store's supplements of this version (the expansion's used-supplement)
    concepts: dict[str, ConceptSnapshot] = field(default_factory=dict)
    folded: dict[str, str] = field(default_factory=dict)  # casefolded code → code
    checked: Any = None  # the validation checker's view of this system (made when first needed, then kept)
    # the implicit value set (``<url or alias>?fhir_vs``) as $validate-code checks against it, by the URL asked for
    value_sets: dict[str, Any] = field(default_factory=dict)

    def find(self, code: str) -> ConceptSnapshot | None:
        """The concept ``code`` (case-insensitively when the system is not case sensitive)."""
        concept = self.concepts.get(code)
        if concept is None and not self.case_sensitive:
            match = self.folded.get(code.casefold())
            concept = self.concepts.get(match) if match else None
        return concept

    def find_folded(self, code: str) -> str | None:
        """The code that equals ``code`` ignoring case (for hints on case-sensitive systems)."""
        return self.folded.get(code.casefold())
