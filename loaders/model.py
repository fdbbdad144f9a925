"""Plain dataclasses every release parser produces. No database, no Flask, no pandas here.

A parser turns one release file into a :class:`ParsedRelease`: code systems (complete, fragment, supplement, or a
*layer* of a system assembled from several files), value sets and concept maps. ``loaders.store`` writes them.

Layers: some systems are assembled from several files, e.g. ICPC-2 from the ICPC-2e Excel (all 726 codes, English)
plus the Danish extra-codes TSV, or NPU from the Nordic lab code list plus the Danish NPU CodeSystem. Each such file
is a ``ParsedCodeSystem`` with ``layer`` set (a stable key such as ``"icpc2e"``); the store merges all layers of one
system into a single version. ``layer_priority``: higher wins for display/definition; ``layer_role`` ``"base"``
layers give the merged version its version string.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# FHIR property types we store; value is kept as text with its type.
PROPERTY_TYPES = ("code", "Coding", "string", "integer", "boolean", "dateTime", "decimal")


@dataclass
class ParsedDesignation:
    value: str
    language: str | None = None
    use_system: str | None = None
    use_code: str | None = None
    use_display: str | None = None


@dataclass
class ParsedProperty:
    """One concept property. ``value`` is the text form (``true``/``false`` for booleans, ISO dates)."""

    code: str
    value: str
    type: str = "string"
    system: str | None = None  # for type Coding
    display: str | None = None  # for type Coding


@dataclass
class PropertyDefinition:
    code: str
    type: str = "string"
    uri: str | None = None
    description: str | None = None


@dataclass
class ParsedConcept:
    code: str
    display: str | None = None
    definition: str | None = None
    active: bool | None = None  # None: not stated (treated as active)
    status: str | None = None  # e.g. "retired", "deprecated", "experimental"
    not_selectable: bool = False
    parents: list[str] = field(default_factory=list)
    designations: list[ParsedDesignation] = field(default_factory=list)
    properties: list[ParsedProperty] = field(default_factory=list)


@dataclass
class ParsedCodeSystem:
    url: str
    version: str | None
    name: str | None = None
    title: str | None = None
    status: str = "active"
    language: str | None = None
    content: str = "complete"  # complete | fragment | supplement | example | not-present
    publisher: str | None = None
    date: str | None = None
    description: str | None = None
    case_sensitive: bool = True
    hierarchy_meaning: str | None = None
    supplements: str | None = None  # canonical[|version] of the base system, for content=supplement
    value_set: str | None = None
    property_definitions: list[PropertyDefinition] = field(default_factory=list)
    concepts: list[ParsedConcept] = field(default_factory=list)
    layer: str | None = None
    layer_priority: int = 0
    layer_role: str = "addition"  # "base" | "addition"
    extra: dict[str, Any] = field(default_factory=dict)  # other metadata to echo back (identifier, ...)


@dataclass
class ParsedMapping:
    """One source→target pair of a concept map (target fields None for an unmatched source)."""

    source_system: str
    source_code: str
    target_system: str | None
    target_code: str | None
    relationship: str = "equivalent"  # R4 ConceptMapEquivalence code
    source_display: str | None = None
    target_display: str | None = None
    source_version: str | None = None
    target_version: str | None = None
    comment: str | None = None


@dataclass
class ParsedConceptMap:
    url: str
    version: str | None
    name: str | None = None
    title: str | None = None
    status: str = "active"
    publisher: str | None = None
    date: str | None = None
    description: str | None = None
    source_scope: str | None = None  # sourceUri / sourceCanonical (value set or system)
    target_scope: str | None = None
    mappings: list[ParsedMapping] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedValueSet:
    url: str
    version: str | None
    name: str | None = None
    title: str | None = None
    status: str = "active"
    publisher: str | None = None
    date: str | None = None
    description: str | None = None
    compose: dict[str, Any] | None = None  # FHIR ValueSet.compose as JSON
    expansion: dict[str, Any] | None = None  # a stored expansion, when the file has one and no compose
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedRelease:
    """Everything parsed out of one file."""

    path: str
    format: str  # loader name, e.g. "icpc2e-xlsx"
    code_systems: list[ParsedCodeSystem] = field(default_factory=list)
    value_sets: list[ParsedValueSet] = field(default_factory=list)
    concept_maps: list[ParsedConceptMap] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
