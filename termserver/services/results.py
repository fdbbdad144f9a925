"""Result dataclasses the services return and fhir/render.py turns into FHIR resources."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from termserver.services.catalog import DesignationView, PropertyView


@dataclass
class Issue:
    """One OperationOutcome issue: severity, issue type, tx-issue-type code, text and FHIRPath location."""

    severity: str
    code: str
    text: str
    tx_code: str | None = None
    expression: list[str] = field(default_factory=list)
    message_id: str | None = None


@dataclass
class LookupResult:
    name: str
    version: str | None
    display: str | None
    code: str
    system: str
    definition: str | None = None
    abstract: bool = False
    inactive: bool = False
    designations: list[DesignationView] = field(default_factory=list)
    properties: list[tuple[str, Any, str | None]] = field(default_factory=list)  # (code, value, description)
    used_supplements: list[str] = field(default_factory=list)  # url|version of supplements that added to it


@dataclass
class Coding:
    system: str | None
    code: str | None
    display: str | None = None
    version: str | None = None


@dataclass
class ValidationResult:
    result: bool
    system: str | None = None
    code: str | None = None
    version: str | None = None
    display: str | None = None
    message: str | None = None
    inactive: bool | None = None
    status: str | None = None
    issues: list[Issue] = field(default_factory=list)
    codeable_concept: dict[str, Any] | None = None
    normalized_code: str | None = None
    unknown_systems: list[str] = field(default_factory=list)  # x-unknown-system: why the answer is false
    caused_by_unknown_systems: list[str] = field(default_factory=list)  # x-caused-by-unknown-system


@dataclass
class SubsumesResult:
    outcome: str


@dataclass
class TranslationMatch:
    equivalence: str
    target: Coding
    source: str | None = None  # the concept map canonical (url|version) or the rule used
    comment: str | None = None


@dataclass
class TranslationResult:
    result: bool
    message: str | None
    matches: list[TranslationMatch] = field(default_factory=list)


@dataclass
class ExpansionEntry:
    system: str
    code: str
    display: str | None
    version: str | None = None
    inactive: bool = False
    abstract: bool = False
    designations: list[DesignationView] = field(default_factory=list)
    properties: list[PropertyView] = field(default_factory=list)
    match: tuple[str, str, float] | None = None  # (matched term, match kind, score) of a filtered expansion
    status: str | None = None  # the concept's status, shown as a property when it is not plain "active"
    contains: list["ExpansionEntry"] = field(default_factory=list)  # children, in a nested expansion
    extensions: list[dict[str, Any]] = field(default_factory=list)  # extensions the value set put on the code


@dataclass
class Expansion:
    url: str | None
    version: str | None
    name: str | None
    title: str | None
    status: str
    total: int
    offset: int
    contains: list[ExpansionEntry]
    parameters: list[tuple[str, str, Any]] = field(default_factory=list)  # (name, value type, value)
    resource: dict[str, Any] | None = None  # the value set definition, echoed back without its expansion
    include_definition: bool = False  # includeDefinition: echo the compose and descriptive elements too
    show_offset: bool = False  # expansion.offset is stated (the request gave one)
    extensions: list[dict[str, Any]] = field(default_factory=list)  # expansion.extension (valueset-unclosed, ...)
