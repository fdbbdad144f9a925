"""R5 <-> R4 conversion of the resources the tx-ecosystem tests send and receive, as the reference runner does.

The test files are R5. Against an R4 server the Java runner (``TxTester`` with ``TerminologyClientR4``) converts
each request with ``VersionConvertorFactory_40_50`` before sending it, and converts the server's R4 answer back
to R5 before scrubbing, sorting and comparing it with the (R5) expected file. So the comparison happens in R5.

What the conversion does, from ``org.hl7.fhir.convertors.conv40_50.resources40_50`` (``ValueSet40_50``,
``CodeSystem40_50``, ``ConceptMap40_50``, ``Parameters40_50``, ``OperationOutcome40_50``):

* only elements defined in the target version are copied, so R5-only elements (``versionAlgorithm[x]``,
  ``copyrightLabel``, ``designation.additionalUse``, ``include.copyright``, ``ValueSet.scope``, ...) are dropped
  going to R4, and anything the R4 parser does not know is dropped coming back (:data:`R4_TYPES`, a whitelist);
* ``ValueSet.expansion.property`` and ``contains.property`` travel as the ``http://hl7.org/fhir/5.0/...``
  extensions in R4 and become elements again in R5;
* filter operators R4 does not have (``child-of``, ``descendent-leaf``) are dropped;
* ``ConceptMap`` is restructured: ``sourceScope[x]``/``targetScope[x]`` <-> ``source[x]``/``target[x]``,
  ``group.source`` canonical <-> ``source`` + ``sourceVersion``, ``relationship`` <-> ``equivalence``,
  ``noMap`` <-> an ``unmatched`` target, ``unmapped.mode`` ``use-source-code`` <-> ``provided``.

Empty elements (null, ``""``, ``[]``, ``{}``) are dropped as the Java composer does. Resource types without a
definition here (CapabilityStatement, TerminologyCapabilities, ...) pass through unchanged.
"""
from __future__ import annotations

import copy
from typing import Any

JsonObject = dict[str, Any]

EXT_VS_EXP_PROP = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.property"
EXT_VS_CONT_PROP = "http://hl7.org/fhir/5.0/StructureDefinition/extension-ValueSet.expansion.contains.property"
EXT_OLD_CONCEPTMAP_EQUIVALENCE = ("http://hl7.org/fhir/1.0/StructureDefinition/"
                                  "extension-ConceptMap.element.target.equivalence")

PRIMITIVES = frozenset({"base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id",
                        "instant", "integer", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt",
                        "uri", "url", "uuid", "xhtml"})
#: R4 open types (Extension.value[x], Parameters.parameter.value[x])
R4_OPEN_TYPES = tuple(sorted(PRIMITIVES - {"xhtml"})) + (
    "Address", "Age", "Annotation", "Attachment", "CodeableConcept", "Coding", "ContactPoint", "Count", "Distance",
    "Duration", "HumanName", "Identifier", "Money", "Period", "Quantity", "Range", "Ratio", "Reference",
    "SampledData", "Signature", "Timing", "ContactDetail", "Contributor", "DataRequirement", "Expression",
    "ParameterDefinition", "RelatedArtifact", "TriggerDefinition", "UsageContext", "Dosage", "Meta")
R4_FILTER_OPERATORS = frozenset({"=", "is-a", "descendent-of", "is-not-a", "regex", "in", "not-in", "generalizes",
                                 "exists"})


def _element(**fields: str) -> dict[str, str]:
    return {"id": "string", "extension": "Extension", **fields}


def _backbone(**fields: str) -> dict[str, str]:
    return _element(modifierExtension="Extension", **fields)


def _resource(**fields: str) -> dict[str, str]:
    return {"id": "id", "meta": "Meta", "implicitRules": "uri", "language": "code", **fields}


def _domain(**fields: str) -> dict[str, str]:
    return _resource(text="Narrative", contained="Resource", extension="Extension", modifierExtension="Extension",
                     **fields)


_CANONICAL_METADATA = dict(url="uri", version="string", name="string", title="string", status="code",
                           experimental="boolean", date="dateTime", publisher="string", contact="ContactDetail",
                           description="markdown", useContext="UsageContext", jurisdiction="CodeableConcept",
                           purpose="markdown", copyright="markdown")
_QUANTITY = _element(value="decimal", comparator="code", unit="string", system="uri", code="code")

#: The R4 element definitions the conversion keeps (``"a|b"`` lists a choice's types, ``"*"`` is the open types).
R4_TYPES: dict[str, dict[str, str]] = {
    "Element": _element(),
    "Extension": _element(url="uri", **{"value[x]": "*"}),
    "Narrative": _element(status="code", div="xhtml"),
    "Meta": _element(versionId="id", lastUpdated="instant", source="uri", profile="canonical", security="Coding",
                     tag="Coding"),
    "Coding": _element(system="uri", version="string", code="code", display="string", userSelected="boolean"),
    "CodeableConcept": _element(coding="Coding", text="string"),
    "Identifier": _element(use="code", type="CodeableConcept", system="uri", value="string", period="Period",
                           assigner="Reference"),
    "Period": _element(start="dateTime", end="dateTime"),
    "Reference": _element(reference="string", type="uri", identifier="Identifier", display="string"),
    "ContactPoint": _element(system="code", value="string", use="code", rank="positiveInt", period="Period"),
    "ContactDetail": _element(name="string", telecom="ContactPoint"),
    "UsageContext": _element(code="Coding", **{"value[x]": "CodeableConcept|Quantity|Range|Reference"}),
    "Quantity": _QUANTITY, "Age": _QUANTITY, "Count": _QUANTITY, "Distance": _QUANTITY, "Duration": _QUANTITY,
    "Range": _element(low="Quantity", high="Quantity"),
    "Parameters": _resource(parameter="Parameters.parameter"),
    "Parameters.parameter": _backbone(name="string", resource="Resource", part="Parameters.parameter",
                                      **{"value[x]": "*"}),
    "OperationOutcome": _domain(issue="OperationOutcome.issue"),
    "OperationOutcome.issue": _backbone(severity="code", code="code", details="CodeableConcept",
                                        diagnostics="string", location="string", expression="string"),
    "ValueSet": _domain(identifier="Identifier", immutable="boolean", compose="ValueSet.compose",
                        expansion="ValueSet.expansion", **_CANONICAL_METADATA),
    "ValueSet.compose": _backbone(lockedDate="date", inactive="boolean", include="ValueSet.include",
                                  exclude="ValueSet.include"),
    "ValueSet.include": _backbone(system="uri", version="string", concept="ValueSet.concept",
                                  filter="ValueSet.filter", valueSet="canonical"),
    "ValueSet.concept": _backbone(code="code", display="string", designation="Designation"),
    "Designation": _backbone(language="code", use="Coding", value="string"),
    "ValueSet.filter": _backbone(property="code", op="code", value="string"),
    "ValueSet.expansion": _backbone(identifier="uri", timestamp="dateTime", total="integer", offset="integer",
                                    parameter="ValueSet.expansion.parameter", contains="ValueSet.contains"),
    "ValueSet.expansion.parameter": _backbone(name="string",
                                              **{"value[x]": "string|boolean|integer|decimal|uri|code|dateTime"}),
    "ValueSet.contains": _backbone(system="uri", abstract="boolean", inactive="boolean", version="string",
                                   code="code", display="string", designation="Designation",
                                   contains="ValueSet.contains"),
    "CodeSystem": _domain(identifier="Identifier", caseSensitive="boolean", valueSet="canonical",
                          hierarchyMeaning="code", compositional="boolean", versionNeeded="boolean", content="code",
                          supplements="canonical", count="unsignedInt", filter="CodeSystem.filter",
                          property="CodeSystem.property", concept="CodeSystem.concept", **_CANONICAL_METADATA),
    "CodeSystem.filter": _backbone(code="code", description="string", operator="code", value="string"),
    "CodeSystem.property": _backbone(code="code", uri="uri", description="string", type="code"),
    "CodeSystem.concept": _backbone(code="code", display="string", definition="string", designation="Designation",
                                    property="CodeSystem.concept.property", concept="CodeSystem.concept"),
    "CodeSystem.concept.property": _backbone(code="code",
                                             **{"value[x]": "code|Coding|string|integer|boolean|dateTime|decimal"}),
    "ConceptMap": _domain(identifier="Identifier", group="ConceptMap.group", **_CANONICAL_METADATA,
                          **{"source[x]": "uri|canonical", "target[x]": "uri|canonical"}),
    "ConceptMap.group": _backbone(source="uri", sourceVersion="string", target="uri", targetVersion="string",
                                  element="ConceptMap.element", unmapped="ConceptMap.unmapped"),
    "ConceptMap.element": _backbone(code="code", display="string", target="ConceptMap.target"),
    "ConceptMap.target": _backbone(code="code", display="string", equivalence="code", comment="string",
                                   dependsOn="ConceptMap.other", product="ConceptMap.other"),
    "ConceptMap.other": _backbone(property="uri", system="canonical", value="string", display="string"),
    "ConceptMap.unmapped": _backbone(mode="code", code="code", display="string", url="canonical"),
    "Bundle": _resource(identifier="Identifier", type="code", timestamp="instant", total="unsignedInt",
                        link="Bundle.link", entry="Bundle.entry", signature="Signature"),
    "Bundle.link": _backbone(relation="string", url="uri"),
    "Bundle.entry": _backbone(link="Bundle.link", fullUrl="uri", resource="Resource", search="Bundle.entry.search",
                              request="Bundle.entry.request", response="Bundle.entry.response"),
}

# ConceptMap40_50.convertConceptMapEquivalence / convertConceptMapRelationship
_RELATIONSHIP_TO_EQUIVALENCE = {"related-to": "relatedto", "equivalent": "equivalent",
                                "source-is-narrower-than-target": "wider", "source-is-broader-than-target": "narrower",
                                "not-related-to": "disjoint"}
_EQUIVALENCE_TO_RELATIONSHIP = {"equivalent": "equivalent", "equal": "equivalent",
                                "wider": "source-is-narrower-than-target", "subsumes": "source-is-narrower-than-target",
                                "narrower": "source-is-broader-than-target",
                                "specializes": "source-is-broader-than-target", "relatedto": "related-to",
                                "inexact": "related-to", "disjoint": "not-related-to"}


def r5_to_r4(resource: JsonObject) -> JsonObject:
    """A request resource (R5) as the R4 client sends it: converted, R5-only content dropped."""
    converted = _restructure(copy.deepcopy(resource), to_r4=True)
    pruned: JsonObject = _prune(converted, "Resource")
    return pruned


def r4_to_r5(resource: JsonObject) -> JsonObject:
    """A server answer (R4) as the runner compares it: what the R4 parser keeps, converted to R5."""
    pruned = _prune(copy.deepcopy(resource), "Resource")
    converted: JsonObject = _restructure(pruned, to_r4=False)
    return converted


# -- whitelist ------------------------------------------------------------------------------------------------

def _choice_type(fields: dict[str, str], key: str) -> str | None:
    for name, types in fields.items():
        if not name.endswith("[x]"):
            continue
        base = name[:-3]
        if not key.startswith(base) or len(key) == len(base):
            continue
        allowed = R4_OPEN_TYPES if types == "*" else tuple(types.split("|"))
        for candidate in allowed:
            if key == base + candidate[0].upper() + candidate[1:]:
                return candidate
    return None


def _element_type(fields: dict[str, str], key: str) -> str | None:
    if key in fields and not key.endswith("[x]"):
        return fields[key]
    return _choice_type(fields, key)


def _is_empty(value: Any) -> bool:
    """Java's isEmpty: no value, a blank string, an empty list or object."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (list, dict)):
        return len(value) == 0
    return False


def _prune(value: Any, type_name: str) -> Any:
    """Keep what the type defines (recursively); drop empty content. Unknown types pass through."""
    if isinstance(value, list):
        items = [_prune(item, type_name) for item in value]
        return [item for item in items if not _is_empty(item)]
    if type_name in PRIMITIVES or not isinstance(value, dict):
        return value
    if type_name == "Resource":
        kind = value.get("resourceType")
        if not isinstance(kind, str) or kind not in R4_TYPES:
            return value
        pruned = _prune_fields(value, R4_TYPES[kind])
        return {"resourceType": kind, **pruned}
    fields = R4_TYPES.get(type_name)
    return value if fields is None else _prune_fields(value, fields)


def _prune_fields(value: JsonObject, fields: dict[str, str]) -> JsonObject:
    out: JsonObject = {}
    for key, item in value.items():
        if key == "resourceType":
            continue
        is_extra = key.startswith("_")
        element_type = _element_type(fields, key[1:] if is_extra else key)
        if element_type is None or (is_extra and element_type not in PRIMITIVES):
            continue
        if is_extra:
            # positions in a "_x" array pair with the values of "x": keep its nulls
            pruned = [None if v is None else _prune(v, "Element") for v in item] if isinstance(item, list) \
                else _prune(item, "Element")
        else:
            pruned = _prune(item, element_type)
        if not _is_empty(pruned):
            out[key] = pruned
    return out


# -- structural differences -----------------------------------------------------------------------------------

def _restructure(resource: Any, to_r4: bool) -> Any:
    """Apply the per-resource conversions, recursing into contained and parameter resources."""
    if not isinstance(resource, dict):
        return resource
    for contained in resource.get("contained", []) or []:
        _restructure(contained, to_r4)
    kind = resource.get("resourceType")
    if kind == "Parameters":
        _walk_parameters(resource.get("parameter"), to_r4)
    elif kind == "Bundle":
        for entry in resource.get("entry", []) or []:
            if isinstance(entry, dict):
                _restructure(entry.get("resource"), to_r4)
    elif kind == "ValueSet":
        _value_set(resource, to_r4)
    elif kind == "CodeSystem" and to_r4:
        for item in resource.get("filter", []) or []:
            if isinstance(item, dict) and isinstance(item.get("operator"), list):
                item["operator"] = [op for op in item["operator"] if op in R4_FILTER_OPERATORS]
    elif kind == "ConceptMap":
        _concept_map_to_r4(resource) if to_r4 else _concept_map_to_r5(resource)
    return resource


def _walk_parameters(parameters: Any, to_r4: bool) -> None:
    for param in parameters or []:
        if isinstance(param, dict):
            _restructure(param.get("resource"), to_r4)
            _walk_parameters(param.get("part"), to_r4)


def _value_set(value_set: JsonObject, to_r4: bool) -> None:
    compose = value_set.get("compose")
    if to_r4 and isinstance(compose, dict):
        for include in (compose.get("include", []) or []) + (compose.get("exclude", []) or []):
            filters = include.get("filter", []) if isinstance(include, dict) else []
            for item in filters or []:
                if isinstance(item, dict) and item.get("op") not in R4_FILTER_OPERATORS:
                    item.pop("op", None)  # convertFilterOperator: FilterOperator.NULL
    expansion = value_set.get("expansion")
    if not isinstance(expansion, dict):
        return
    if to_r4:
        for prop in expansion.pop("property", []) or []:
            expansion.setdefault("extension", []).append({"url": EXT_VS_EXP_PROP, "extension": [
                {"url": "code", "valueCode": prop.get("code")}, {"url": "uri", "valueUri": prop.get("uri")}]})
    else:
        for ext in _take_extensions(expansion, EXT_VS_EXP_PROP):
            expansion.setdefault("property", []).append(
                {"code": _sub_extension_string(ext, "code"), "uri": _sub_extension_string(ext, "uri")})
    for contains in expansion.get("contains", []) or []:
        _contains(contains, to_r4)


def _contains(contains: Any, to_r4: bool) -> None:
    if not isinstance(contains, dict):
        return
    if to_r4:
        for r5_property in contains.pop("property", []) or []:
            value = {k: v for k, v in r5_property.items() if k.startswith("value")}
            extension = [e for e in r5_property.get("extension", []) or []]
            extension += [{"url": "code", "valueCode": r5_property.get("code")}, {"url": "value[x]", **value}]
            contains.setdefault("extension", []).append({"url": EXT_VS_CONT_PROP, "extension": extension})
    else:
        for ext in _take_extensions(contains, EXT_VS_CONT_PROP):
            prop: JsonObject = {}
            others = [e for e in ext.get("extension", []) or [] if e.get("url") not in ("code", "value[x]")]
            if others:
                prop["extension"] = others
            prop["code"] = _sub_extension_string(ext, "code")
            for sub in ext.get("extension", []) or []:
                if sub.get("url") == "value[x]":
                    prop.update({k: v for k, v in sub.items() if k.startswith("value")})
            contains.setdefault("property", []).append(prop)
    for child in contains.get("contains", []) or []:
        _contains(child, to_r4)


def _take_extensions(element: JsonObject, url: str) -> list[JsonObject]:
    """Remove and return the extensions with ``url`` (copyBackboneElement's excluded extension)."""
    extensions = element.get("extension")
    if not isinstance(extensions, list):
        return []
    taken = [e for e in extensions if isinstance(e, dict) and e.get("url") == url]
    kept = [e for e in extensions if not (isinstance(e, dict) and e.get("url") == url)]
    if kept:
        element["extension"] = kept
    else:
        element.pop("extension")
    return taken


def _sub_extension_string(extension: JsonObject, url: str) -> Any:
    for sub in extension.get("extension", []) or []:
        if isinstance(sub, dict) and sub.get("url") == url:
            for key, value in sub.items():
                if key.startswith("value") and not isinstance(value, (dict, list)):
                    return value
    return None


def _split_canonical(value: Any) -> tuple[Any, Any]:
    if not isinstance(value, str) or "|" not in value:
        return value, None
    url, _, version = value.partition("|")
    return url, version


def _concept_map_to_r4(cmap: JsonObject) -> None:
    """``ConceptMap40_50.convertConceptMap(r5)``."""
    identifiers = cmap.get("identifier")
    if isinstance(identifiers, list):
        cmap["identifier"] = identifiers[0] if identifiers else None
    for old, new in (("sourceScope", "source"), ("targetScope", "target")):
        for key in [k for k in cmap if k.startswith(old)]:
            cmap[new + key[len(old):]] = cmap.pop(key)
    for group in cmap.get("group", []) or []:
        if not isinstance(group, dict):
            continue
        for side in ("source", "target"):
            if side in group:
                group[side], group[side + "Version"] = _split_canonical(group[side])
        for element in group.get("element", []) or []:
            if element.pop("noMap", None) is True:
                element["target"] = [{"equivalence": "unmatched"}]
                continue
            for target in element.get("target", []) or []:
                old = _sub_extension_string({"extension": (target.get("_relationship") or {}).get("extension", [])},
                                            EXT_OLD_CONCEPTMAP_EQUIVALENCE)
                relationship = target.pop("relationship", None)
                target.pop("_relationship", None)
                target["equivalence"] = old or (_RELATIONSHIP_TO_EQUIVALENCE.get(relationship) if relationship
                                                else "relatedto")
                for other in (target.get("dependsOn", []) or []) + (target.get("product", []) or []):
                    coding = other.pop("valueCoding", None)
                    if isinstance(coding, dict):
                        other.update(system=coding.get("system"), value=coding.get("code"),
                                     display=coding.get("display"))
                    else:
                        for key in [k for k in other if k.startswith("value") and k != "value"]:
                            other["value"] = other.pop(key)
        unmapped = group.get("unmapped")
        if isinstance(unmapped, dict):
            if unmapped.get("mode") == "use-source-code":
                unmapped["mode"] = "provided"
            if "otherMap" in unmapped:
                unmapped["url"] = unmapped.pop("otherMap")


def _concept_map_to_r5(cmap: JsonObject) -> None:
    """``ConceptMap40_50.convertConceptMap(r4)``."""
    if isinstance(cmap.get("identifier"), dict):
        cmap["identifier"] = [cmap["identifier"]]
    for old, new in (("source", "sourceScope"), ("target", "targetScope")):
        for key in [k for k in cmap if k in (old + "Uri", old + "Canonical")]:
            cmap[new + key[len(old):]] = cmap.pop(key)
    for group in cmap.get("group", []) or []:
        if not isinstance(group, dict):
            continue
        for side in ("source", "target"):
            url, version = group.pop(side, None), group.pop(side + "Version", None)
            if url is not None:
                group[side] = f"{url}|{version}" if version else url
        for element in group.get("element", []) or []:
            targets = []
            for target in element.get("target", []) or []:
                equivalence = target.pop("equivalence", None)
                if equivalence == "unmatched":
                    element["noMap"] = True
                    continue
                if equivalence is not None:
                    relationship = _EQUIVALENCE_TO_RELATIONSHIP.get(equivalence)
                    if relationship:
                        target["relationship"] = relationship
                    target["_relationship"] = {"extension": [{"url": EXT_OLD_CONCEPTMAP_EQUIVALENCE,
                                                              "valueCode": equivalence}]}
                for other in (target.get("dependsOn", []) or []) + (target.get("product", []) or []):
                    system = other.pop("system", None)
                    value, display = other.pop("value", None), other.pop("display", None)
                    if system is not None:
                        other["valueCoding"] = {k: v for k, v in
                                                (("system", system), ("code", value), ("display", display)) if v}
                    elif value is not None:
                        other["valueString"] = value
                targets.append(target)
            if targets:
                element["target"] = targets
            else:
                element.pop("target", None)
        unmapped = group.get("unmapped")
        if isinstance(unmapped, dict):
            if unmapped.get("mode") == "provided":
                unmapped["mode"] = "use-source-code"
            if "url" in unmapped:
                unmapped["otherMap"] = unmapped.pop("url")
