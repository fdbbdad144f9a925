"""Merging the layers of a code system assembled from several releases (pure functions, no database).

Examples: ICPC-2 = ICPC-2e Excel (726 codes, English; base) + Danish extra-codes TSV (process codes, D86);
NPU = the Nordic lab code list (English NPU definitions; base) + the Danish NPU CodeSystem (Danish names; wins).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import zlib
from typing import Any

from loaders.model import (ParsedCodeSystem, ParsedConcept, ParsedDesignation, ParsedProperty,
                           PropertyDefinition)


def _plain(obj: Any) -> Any:
    """Parsed dataclasses as plain JSON data (like ``dataclasses.asdict``, without its deep copies: 2× faster)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {key: _plain(value) for key, value in vars(obj).items()}
    if isinstance(obj, list):
        return [_plain(item) for item in obj]
    if isinstance(obj, dict):
        return {key: _plain(value) for key, value in obj.items()}
    return obj


def content_hash(obj: Any) -> str:
    """A stable SHA-256 of a parsed dataclass (or plain JSON data)."""
    data = json.dumps(_plain(obj), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def pack(system: ParsedCodeSystem) -> bytes:
    """Compressed JSON of a layer, as stored in ``code_system_layer.payload``."""
    return zlib.compress(json.dumps(_plain(system), ensure_ascii=False).encode(), 6)


def unpack(payload: bytes) -> ParsedCodeSystem:
    """Inverse of :func:`pack`."""
    data = json.loads(zlib.decompress(payload))
    concepts = [ParsedConcept(**{**c, "designations": [ParsedDesignation(**d) for d in c["designations"]],
                                 "properties": [ParsedProperty(**p) for p in c["properties"]]})
                for c in data.pop("concepts")]
    definitions = [PropertyDefinition(**p) for p in data.pop("property_definitions")]
    return ParsedCodeSystem(**data, concepts=concepts, property_definitions=definitions)


def merge_layers(layers: list[ParsedCodeSystem]) -> ParsedCodeSystem:
    """One code system from its layers.

    Metadata and the version come from the highest-priority *base* layer (else the highest-priority layer).
    Per code, the highest-priority layer that has it gives display and definition; the other layers' displays
    become designations in their layer's language. Designations, properties and parents are united; a concept is
    inactive if any layer says so, not selectable if any layer says so.
    """
    if not layers:
        raise ValueError("no layers to merge")
    ordered = sorted(layers, key=lambda s: (-s.layer_priority, s.layer or ""))
    bases = [s for s in ordered if s.layer_role == "base"]
    head = bases[0] if bases else ordered[0]
    merged = dataclasses.replace(head, concepts=[], property_definitions=[], layer=None, layer_priority=0,
                                 layer_role="base", extra=dict(head.extra))
    seen_defs: set[str] = set()
    for layer in ordered:
        for definition in layer.property_definitions:
            if definition.code not in seen_defs:
                seen_defs.add(definition.code)
                merged.property_definitions.append(definition)

    order: list[str] = []
    by_code: dict[str, list[tuple[ParsedCodeSystem, ParsedConcept]]] = {}
    # concept order: base layers first, in release order, then new codes from additions
    for layer in bases + [s for s in ordered if s.layer_role != "base"]:
        for concept in layer.concepts:
            if concept.code not in by_code:
                by_code[concept.code] = []
                order.append(concept.code)
    for layer in ordered:
        for concept in layer.concepts:
            by_code[concept.code].append((layer, concept))

    for code in order:
        merged.concepts.append(_merge_concept(code, by_code[code]))
    return merged


def _merge_concept(code: str, versions: list[tuple[ParsedCodeSystem, ParsedConcept]]) -> ParsedConcept:
    primary = next((c for _, c in versions if c.display), versions[0][1])
    result = ParsedConcept(code=code, display=primary.display,
                           definition=next((c.definition for _, c in versions if c.definition), None))
    seen_designations: set[tuple[Any, ...]] = set()
    seen_properties: set[tuple[Any, ...]] = set()
    explicit_active = [c.active for _, c in versions if c.active is not None]
    result.active = min(explicit_active) if explicit_active else None
    result.status = next((c.status for _, c in versions if c.status), None)
    result.not_selectable = any(c.not_selectable for _, c in versions)
    for layer, concept in versions:
        for parent in concept.parents:
            if parent not in result.parents:
                result.parents.append(parent)
        extra = []
        if concept is not primary and concept.display and concept.display != primary.display:
            extra.append(ParsedDesignation(value=concept.display, language=layer.language))
        for designation in extra + concept.designations:
            key = (designation.language, designation.use_system, designation.use_code, designation.value)
            if key not in seen_designations:
                seen_designations.add(key)
                result.designations.append(designation)
        for prop in concept.properties:
            key = (prop.code, prop.value, prop.system)
            if key not in seen_properties:
                seen_properties.add(key)
                result.properties.append(prop)
    return result
