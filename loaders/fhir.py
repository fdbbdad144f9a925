"""FHIR R4 CodeSystem, ValueSet and ConceptMap resources (and Bundles of them), JSON or XML.

Handles every ``CodeSystem.content`` mode: complete, fragment, example, not-present and supplement
(``icpc2/icpc2e-dk.xml``: Danish ICPC-2 designations; ``icd10/CodeSystem-icd10-da.json``: Danish ICD-10 texts).
A CodeSystem for a system this server assembles from several releases (NPU) becomes a layer of that system.
XML is read with ``fhir.resources`` (R4B models, identical to R4 for these resources) and handled as JSON.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from loaders.model import (ParsedCodeSystem, ParsedConcept, ParsedConceptMap, ParsedDesignation, ParsedMapping,
                           ParsedProperty, ParsedRelease, ParsedValueSet, PropertyDefinition)
from termserver.errors import LoadError
from termserver.systems import NPU, AliasTable

NAME = "fhir"
RESOURCE_TYPES = ("CodeSystem", "ValueSet", "ConceptMap", "Bundle")

# FHIR CodeSystems that are one layer of a system assembled from several releases: canonical → (priority, role).
# The Danish NPU CodeSystem holds only a handful of codes but has the Danish names, so its displays win.
LAYERED_SYSTEMS: dict[str, tuple[int, str]] = {NPU: (10, "addition")}

_ALIASES = AliasTable()
NOT_SELECTABLE_URI = "http://hl7.org/fhir/concept-properties#notSelectable"
STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"
_RESOURCE_TYPE = re.compile(r'"resourceType"\s*:\s*"([A-Za-z]+)"')


def sniff(path: Path) -> bool:
    """JSON or XML whose top-level resource is a CodeSystem, ValueSet, ConceptMap or Bundle."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".xml"):
        return False
    with path.open("rb") as handle:
        head = handle.read(4096).decode("utf-8", errors="replace").lstrip("\ufeff \r\n\t")
    if suffix == ".json":
        match = _RESOURCE_TYPE.search(head)
        return bool(match) and match.group(1) in RESOURCE_TYPES
    return any(f"<{t} " in head or f"<{t}>" in head for t in RESOURCE_TYPES) and "hl7.org/fhir" in head


def read_resource(path: Path) -> dict[str, Any]:
    """The resource in ``path`` as FHIR JSON.

    :raises LoadError: when the file is not well-formed JSON/XML or not a valid FHIR resource.
    """
    if path.suffix.lower() == ".json":
        try:
            with path.open(encoding="utf-8-sig") as handle:
                return json.load(handle)
        except json.JSONDecodeError as exc:
            raise LoadError(path, f"malformed JSON: {exc.msg}", line=exc.lineno) from exc
        except UnicodeDecodeError as exc:
            raise LoadError(path, "not UTF-8 text") from exc
    return _read_xml(path)


def _read_xml(path: Path) -> dict[str, Any]:
    from lxml import etree

    try:
        root = etree.parse(str(path)).getroot()
    except etree.XMLSyntaxError as exc:
        raise LoadError(path, f"malformed XML: {exc.msg}", line=exc.lineno) from exc
    resource_type = etree.QName(root).localname
    try:
        import importlib

        module = importlib.import_module(f"fhir.resources.R4B.{resource_type.lower()}")
        model = getattr(module, resource_type)
        parsed = model.parse_file(path, content_type="text/xml")
    except (ImportError, AttributeError) as exc:
        raise LoadError(path, f"unsupported FHIR resource type {resource_type!r}") from exc
    except Exception as exc:  # pydantic ValidationError and XML conversion errors
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LoadError(path, f"invalid FHIR {resource_type}: {first}") from exc
    return json.loads(parsed.json(exclude_none=True))


def parse(path: Path) -> ParsedRelease:
    """Parse a FHIR resource file into a release.

    :raises LoadError: on malformed content.
    """
    resource = read_resource(path)
    release = ParsedRelease(path=str(path), format=NAME)
    try:
        add_resource(release, resource)
    except (KeyError, TypeError, ValueError) as exc:
        raise LoadError(path, f"invalid {resource.get('resourceType', 'resource')}: {exc}") from exc
    if not (release.code_systems or release.value_sets or release.concept_maps):
        raise LoadError(path, "no CodeSystem, ValueSet or ConceptMap in the file")
    return release


def add_resource(release: ParsedRelease, resource: dict[str, Any]) -> None:
    """Add one resource (or every entry of a Bundle) to ``release``."""
    kind = resource.get("resourceType")
    if kind == "Bundle":
        for entry in resource.get("entry", []):
            if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                add_resource(release, entry["resource"])
    elif kind == "CodeSystem":
        release.code_systems.append(code_system_from_json(resource))
    elif kind == "ValueSet":
        release.value_sets.append(value_set_from_json(resource))
    elif kind == "ConceptMap":
        release.concept_maps.append(concept_map_from_json(resource))
    else:
        release.warnings.append(f"skipped a {kind} resource")


def _require_url(resource: dict[str, Any]) -> str:
    url = resource.get("url")
    if not isinstance(url, str) or not url:
        raise ValueError(f"{resource.get('resourceType')} '{resource.get('id', '?')}' has no url")
    return url


_META_KEYS = {"resourceType", "url", "version", "name", "title", "status", "language", "content", "publisher",
              "date", "description", "caseSensitive", "hierarchyMeaning", "supplements", "valueSet", "property",
              "concept", "count", "text", "compose", "expansion", "group", "sourceUri", "sourceCanonical",
              "targetUri", "targetCanonical"}


def code_system_from_json(resource: dict[str, Any]) -> ParsedCodeSystem:
    """A ParsedCodeSystem from CodeSystem JSON (nested concepts flattened, parents recorded)."""
    url = _require_url(resource)
    canonical = _ALIASES.canonical(url)
    system = ParsedCodeSystem(
        url=url,
        version=resource.get("version"),
        name=resource.get("name"),
        title=resource.get("title"),
        status=resource.get("status", "active"),
        language=resource.get("language"),
        content=resource.get("content", "complete"),
        publisher=resource.get("publisher"),
        date=resource.get("date"),
        description=resource.get("description"),
        case_sensitive=bool(resource.get("caseSensitive", True)),
        hierarchy_meaning=resource.get("hierarchyMeaning"),
        supplements=resource.get("supplements"),
        value_set=resource.get("valueSet"),
        property_definitions=[PropertyDefinition(code=p["code"], type=p.get("type", "string"), uri=p.get("uri"),
                                                 description=p.get("description"))
                              for p in resource.get("property", [])],
        extra={k: v for k, v in resource.items() if k not in _META_KEYS},
    )
    if canonical in LAYERED_SYSTEMS and system.content != "supplement":
        system.layer_priority, system.layer_role = LAYERED_SYSTEMS[canonical]
        system.layer = f"fhir:{resource.get('id') or system.name or 'codesystem'}"
    _flatten(resource.get("concept", []), None, system.concepts)
    # a property defined as concept-properties#notSelectable marks abstract codes whatever its code is
    not_selectable = {p.code for p in system.property_definitions if p.uri == NOT_SELECTABLE_URI} - {"notSelectable"}
    if not_selectable:
        for concept in system.concepts:
            for prop in concept.properties:
                if prop.code in not_selectable and prop.type == "boolean":
                    concept.not_selectable = prop.value == "true"
    return system


def _flatten(concepts: list[dict[str, Any]], parent: str | None, out: list[ParsedConcept]) -> None:
    for item in concepts:
        concept = concept_from_json(item)
        if parent is not None and parent not in concept.parents:
            concept.parents.insert(0, parent)
        out.append(concept)
        _flatten(item.get("concept", []), concept.code, out)


def concept_from_json(item: dict[str, Any]) -> ParsedConcept:
    """One CodeSystem.concept (without its nested children)."""
    code = item["code"]
    if not isinstance(code, str) or not code:
        raise ValueError(f"concept with empty or non-text code {code!r}")
    concept = ParsedConcept(code=code, display=item.get("display"), definition=item.get("definition"))
    for extension in item.get("extension") or []:
        # a concept's standards status ("deprecated") is its status unless a status property says otherwise
        if isinstance(extension, dict) and extension.get("url") == STANDARDS_STATUS \
                and isinstance(extension.get("valueCode"), str):
            concept.status = extension["valueCode"]
    for des in item.get("designation", []):
        use = des.get("use") or {}
        concept.designations.append(ParsedDesignation(value=des["value"], language=des.get("language"),
                                                      use_system=use.get("system"), use_code=use.get("code"),
                                                      use_display=use.get("display")))
    for prop in item.get("property", []):
        parsed = property_from_json(prop)
        if parsed.code == "parent":
            concept.parents.append(parsed.value)
        elif parsed.code in ("inactive",) and parsed.type == "boolean":
            concept.active = parsed.value != "true"
            concept.properties.append(parsed)
        elif parsed.code == "status":
            concept.status = parsed.value
            if parsed.value in ("retired", "inactive"):
                concept.active = False
            concept.properties.append(parsed)
        elif parsed.code == "notSelectable" and parsed.type == "boolean":
            concept.not_selectable = parsed.value == "true"
            concept.properties.append(parsed)
        elif parsed.code != "child":
            concept.properties.append(parsed)
    return concept


def property_from_json(prop: dict[str, Any]) -> ParsedProperty:
    """A concept property; the value[x] is kept as text with its FHIR type."""
    code = prop["code"]
    for key, value in prop.items():
        if not key.startswith("value"):
            continue
        kind = key[len("value"):]
        if kind == "Coding":
            return ParsedProperty(code=code, value=value.get("code", ""), type="Coding", system=value.get("system"),
                                  display=value.get("display"))
        if kind == "Boolean":
            return ParsedProperty(code=code, value="true" if value else "false", type="boolean")
        type_name = {"Code": "code", "String": "string", "Integer": "integer", "DateTime": "dateTime",
                     "Decimal": "decimal"}.get(kind, kind[:1].lower() + kind[1:])
        return ParsedProperty(code=code, value=str(value), type=type_name)
    raise ValueError(f"property {code!r} has no value[x]")


def value_set_from_json(resource: dict[str, Any]) -> ParsedValueSet:
    """A ParsedValueSet from ValueSet JSON (compose kept as JSON)."""
    return ParsedValueSet(
        url=_require_url(resource), version=resource.get("version"), name=resource.get("name"),
        # a value set that states no status is "unknown", not made "active"
        title=resource.get("title"), status=resource.get("status", "unknown"), publisher=resource.get("publisher"),
        date=resource.get("date"), description=resource.get("description"), compose=resource.get("compose"),
        expansion=resource.get("expansion") if not resource.get("compose") else None,
        extra={k: v for k, v in resource.items() if k not in _META_KEYS or k == "language"},
    )


def concept_map_from_json(resource: dict[str, Any]) -> ParsedConceptMap:
    """A ParsedConceptMap from R4 ConceptMap JSON: one ParsedMapping per (element, target)."""
    cmap = ParsedConceptMap(
        url=_require_url(resource), version=resource.get("version"), name=resource.get("name"),
        title=resource.get("title"), status=resource.get("status", "active"), publisher=resource.get("publisher"),
        date=resource.get("date"), description=resource.get("description"),
        source_scope=resource.get("sourceUri") or resource.get("sourceCanonical"),
        target_scope=resource.get("targetUri") or resource.get("targetCanonical"),
        extra={k: v for k, v in resource.items() if k not in _META_KEYS},
    )
    for group in resource.get("group", []):
        source, _, source_version = (group.get("source") or cmap.source_scope or "").partition("|")
        target, _, target_version = (group.get("target") or cmap.target_scope or "").partition("|")
        if not source:
            raise ValueError("ConceptMap group has no source system")
        for element in group.get("element", []):
            targets = element.get("target") or []
            if not targets:
                cmap.mappings.append(ParsedMapping(
                    source_system=source, source_version=source_version or group.get("sourceVersion"),
                    source_code=element["code"], source_display=element.get("display"),
                    target_system=None, target_code=None, relationship="unmatched"))
            for tgt in targets:
                relationship = tgt.get("equivalence") or tgt.get("relationship") or "equivalent"
                cmap.mappings.append(ParsedMapping(
                    source_system=source, source_version=source_version or group.get("sourceVersion"),
                    source_code=element["code"], source_display=element.get("display"),
                    target_system=target or None, target_version=target_version or group.get("targetVersion"),
                    target_code=tgt.get("code"), target_display=tgt.get("display"),
                    relationship=relationship, comment=tgt.get("comment")))
    return cmap
