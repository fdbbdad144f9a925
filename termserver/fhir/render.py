"""Service results → FHIR R4 JSON: Parameters, ValueSet expansions, OperationOutcome, resource summaries."""
from __future__ import annotations

from typing import Any

from termserver.services.catalog import DesignationView
from termserver.services.results import (Expansion, ExpansionEntry, Issue, LookupResult, SubsumesResult,
                                         TranslationResult, ValidationResult)
from termserver.services.valuesets import new_identifier, now_iso

TX_ISSUE_TYPE = "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type"
MESSAGE_ID = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"
SEARCH_MATCH = "https://termserver.dk/fhir/StructureDefinition/search-match"


def _param(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"name": name, f"value{kind}": value}


def parameters(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": items}


def issue_json(issue: Issue) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if issue.message_id:
        out["extension"] = [{"url": MESSAGE_ID, "valueString": issue.message_id}]
    out["severity"] = issue.severity
    out["code"] = issue.code
    details: dict[str, Any] = {"text": issue.text}
    if issue.tx_code:
        details["coding"] = [{"system": TX_ISSUE_TYPE, "code": issue.tx_code}]
    out["details"] = details
    if issue.expression:
        out["location"] = list(issue.expression)
        out["expression"] = list(issue.expression)
    return out


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [issue_json(i) for i in issues]}


def designation_json(designation: DesignationView) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if designation.language:
        out["language"] = designation.language
    if designation.use_code:
        use = {"system": designation.use_system, "code": designation.use_code}
        if designation.use_display:
            use["display"] = designation.use_display
        out["use"] = {k: v for k, v in use.items() if v}
    out["value"] = designation.value
    return out


def lookup_parameters(result: LookupResult) -> dict[str, Any]:
    items = [_param("name", "String", result.name)]
    if result.version:
        items.append(_param("version", "String", result.version))
    if result.display:
        items.append(_param("display", "String", result.display))
    items.append(_param("code", "Code", result.code))
    items.append(_param("system", "Uri", result.system))
    if result.definition:
        items.append(_param("definition", "String", result.definition))
    items.append(_param("abstract", "Boolean", result.abstract))
    for designation in result.designations:
        parts = []
        if designation.language:
            parts.append(_param("language", "Code", designation.language))
        if designation.use_code:
            parts.append({"name": "use", "valueCoding": {k: v for k, v in (
                ("system", designation.use_system), ("code", designation.use_code),
                ("display", designation.use_display)) if v}})
        if designation.source:
            parts.append(_param("source", "Canonical", designation.source))
        parts.append(_param("value", "String", designation.value))
        items.append({"name": "designation", "part": parts})
    for code, (kind, value), description in result.properties:
        parts = [_param("code", "Code", code)]
        kind_name = {"code": "Code", "string": "String", "boolean": "Boolean", "integer": "Integer",
                     "dateTime": "DateTime", "decimal": "Decimal", "Coding": "Coding"}.get(kind, "String")
        if kind_name == "Integer":
            value = int(value)
        elif kind_name == "Boolean" and isinstance(value, str):
            value = value == "true"
        elif kind_name == "Decimal":
            value = float(value)
        parts.append(_param("value", kind_name, value))
        if description:
            parts.append(_param("description", "String", description))
        items.append({"name": "property", "part": parts})
    items += [_param("used-supplement", "Canonical", supplement) for supplement in result.used_supplements]
    return parameters(items)


def validation_parameters(result: ValidationResult) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    if result.code:
        items.append(_param("code", "Code", result.code))
    if result.codeable_concept is not None:
        items.append({"name": "codeableConcept", "valueCodeableConcept": result.codeable_concept})
    if result.display:
        items.append(_param("display", "String", result.display))
    if result.inactive:
        items.append(_param("inactive", "Boolean", True))
    if result.issues:
        outcome = operation_outcome(result.issues)
        for issue in outcome["issue"]:
            issue.pop("location", None)  # tx.fhir.org gives the FHIRPath as expression only (location is deprecated)
        items.append({"name": "issues", "resource": outcome})
    if result.message:
        items.append(_param("message", "String", result.message))
    if result.normalized_code:
        items.append(_param("normalized-code", "Code", result.normalized_code))
    items.append(_param("result", "Boolean", result.result))
    if result.status:
        items.append(_param("status", "Code", result.status))
    if result.system:
        items.append(_param("system", "Uri", result.system))
    if result.version:
        items.append(_param("version", "String", result.version))
    items += [_param("x-caused-by-unknown-system", "Canonical", s) for s in result.caused_by_unknown_systems]
    items += [_param("x-unknown-system", "Canonical", s) for s in result.unknown_systems]
    return parameters(items)


def subsumes_parameters(result: SubsumesResult) -> dict[str, Any]:
    return parameters([_param("outcome", "Code", result.outcome)])


def translate_parameters(result: TranslationResult) -> dict[str, Any]:
    items = [_param("result", "Boolean", result.result)]
    if result.message:
        items.append(_param("message", "String", result.message))
    for match in result.matches:
        concept = {k: v for k, v in (("system", match.target.system), ("version", match.target.version),
                                     ("code", match.target.code), ("display", match.target.display)) if v}
        parts = [_param("equivalence", "Code", match.equivalence), {"name": "concept", "valueCoding": concept}]
        if match.source:  # R5's name, which tx.fhir.org and the HL7 validator read (R4 called it "source")
            parts.append(_param("originMap", "Canonical", match.source))
        if match.comment:
            parts.append(_param("comment", "String", match.comment))
        items.append({"name": "match", "part": parts})
    return parameters(items)


# what an expansion leaves out of the value set's definition unless includeDefinition asks for it (as tx.fhir.org)
DEFINITION_ELEMENTS = ("compose", "description", "purpose", "copyright", "publisher", "extension", "text")


def expansion_value_set(expansion: Expansion) -> dict[str, Any]:
    resource = dict(expansion.resource or {"resourceType": "ValueSet", "status": expansion.status})
    resource.pop("expansion", None)
    if not expansion.include_definition:
        for key in DEFINITION_ELEMENTS:
            resource.pop(key, None)
    resource["resourceType"] = "ValueSet"
    for key, value in (("url", expansion.url), ("version", expansion.version), ("name", expansion.name),
                       ("title", expansion.title)):
        if value and key not in resource:
            resource[key] = value
    resource.setdefault("status", expansion.status)
    properties: dict[str, str] = {}
    contains = [_contains_json(entry, properties) for entry in expansion.contains]
    body: dict[str, Any] = {"identifier": new_identifier(), "timestamp": now_iso(), "total": expansion.total}
    if expansion.offset or expansion.show_offset:
        body["offset"] = expansion.offset
    if expansion.parameters:
        body["parameter"] = [_param(name, kind, value) for name, kind, value in expansion.parameters]
    if expansion.extensions:
        body["extension"] = list(expansion.extensions)
    if properties:  # R5's expansion.property, carried in R4 by its cross-version extension
        body.setdefault("extension", []).extend({"url": EXPANSION_PROPERTY, "extension": [
            {"url": "code", "valueCode": code}, *([{"url": "uri", "valueUri": uri}] if uri else [])]}
            for code, uri in properties.items())
    if contains:
        body["contains"] = contains
    resource["expansion"] = body
    return resource


STATUS_PROPERTY = "http://hl7.org/fhir/concept-properties#status"
EXPANSION_PROPERTY = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.property"
CONTAINS_PROPERTY = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.contains.property"


def _property_value(prop: Any) -> tuple[str, Any]:
    """A property's value[x] name and JSON value from its FHIR type and text."""
    kind = {"code": "valueCode", "string": "valueString", "boolean": "valueBoolean", "integer": "valueInteger",
            "decimal": "valueDecimal", "dateTime": "valueDateTime", "Coding": "valueCoding"}.get(prop.type,
                                                                                                 "valueString")
    value: Any = prop.value
    if kind == "valueBoolean":
        value = str(value).lower() == "true"
    elif kind == "valueInteger":
        value = int(value)
    elif kind == "valueDecimal":
        value = float(value)
    elif kind == "valueCoding":
        value = {k: v for k, v in (("system", prop.system), ("code", prop.value), ("display", prop.display)) if v}
    return kind, value


def _contains_json(entry: ExpansionEntry, properties: dict[str, str]) -> dict[str, Any]:
    """One ``expansion.contains`` item (and its children); ``properties`` collects the property definitions used."""
    item: dict[str, Any] = {}
    if entry.match:
        term, kind, score = entry.match
        item["extension"] = [{"url": SEARCH_MATCH, "extension": [
            {"url": "term", "valueString": term}, {"url": "kind", "valueCode": kind},
            {"url": "score", "valueDecimal": score}]}]
    if entry.extensions:
        item.setdefault("extension", []).extend(entry.extensions)
    item["system"] = entry.system
    if entry.version:
        item["version"] = entry.version
    if entry.abstract:
        item["abstract"] = True
    if entry.inactive:
        item["inactive"] = True
    item["code"] = entry.code
    if entry.display:
        item["display"] = entry.display
    if entry.designations:
        item["designation"] = [designation_json(d) for d in entry.designations]
    values: list[tuple[str, str, Any]] = []  # (code, value[x] name, value)
    if entry.status and entry.status.lower() != "active":
        properties.setdefault("status", STATUS_PROPERTY)
        values.append(("status", "valueCode", entry.status))
    for prop in entry.properties:
        properties.setdefault(prop.code, prop.uri or "")
        values.append((prop.code, *_property_value(prop)))
    if values:  # R5's contains.property, carried in R4 by its cross-version extension
        item.setdefault("extension", []).extend(
            {"url": CONTAINS_PROPERTY, "extension": [{"url": "code", "valueCode": code},
                                                     {"url": "value[x]", kind: value}]}
            for code, kind, value in values)
    if entry.contains:
        item["contains"] = [_contains_json(child, properties) for child in entry.contains]
    return item
