"""Checks every API test applies to a response: FHIR JSON media type, a body that parses with the fhir.resources
model for its resourceType, and the rules those models let through.

fhir.resources 7 ships R4B models; R4B and R4 are identical for every resource this server returns (Parameters,
ValueSet, OperationOutcome, CodeSystem, ConceptMap, Bundle, CapabilityStatement, TerminologyCapabilities).
The models are pydantic v1, which coerces (``"true"`` passes as a boolean, ``5`` as a string) and does not check
most required code bindings, so :func:`check_resource` adds a strict JSON pass and the bindings that matter here.
Also helpers to read Parameters and OperationOutcome bodies in assertions.
"""
from __future__ import annotations

from typing import Any, Iterable

from fhir.resources.R4B import get_fhir_model_class
from pydantic.v1 import BaseModel

FHIR_JSON = "application/fhir+json"
TX_ISSUE_TYPE = "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type"
MESSAGE_ID = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"

# http://hl7.org/fhir/R4/valueset-issue-type.html (required binding of OperationOutcome.issue.code)
ISSUE_TYPES = frozenset({
    "invalid", "structure", "required", "value", "invariant", "security", "login", "unknown", "expired",
    "forbidden", "suppressed", "processing", "not-supported", "duplicate", "multiple-matches", "not-found",
    "deleted", "too-long", "code-invalid", "extension", "too-costly", "business-rule", "conflict", "transient",
    "lock-error", "no-store", "exception", "timeout", "incomplete", "throttled", "informational"})
# http://hl7.org/fhir/tools/CodeSystem/tx-issue-type, as the HL7 terminology conformance tests use it
TX_ISSUE_TYPES = frozenset({
    "invalid-code", "invalid-display", "not-found", "not-in-vs", "this-code-not-in-vs", "cannot-infer",
    "code-comment", "code-rule", "display-comment", "invalid-data", "process-note", "status-check",
    "version-error", "vs-invalid"})
# R4 ConceptMapEquivalence and the $subsumes outcome codes
EQUIVALENCES = frozenset({"relatedto", "equivalent", "equal", "wider", "subsumes", "narrower", "specializes",
                          "inexact", "unmatched", "disjoint"})
SUBSUMES_OUTCOMES = frozenset({"equivalent", "subsumes", "subsumed-by", "not-subsumed"})

# JSON keys whose FHIR type is not a string; every other scalar in a response must be a non-empty string
_BOOLEAN_KEYS = frozenset({"valueBoolean", "abstract", "inactive", "caseSensitive", "isDefault", "hierarchical",
                           "paging", "incomplete", "translations", "needsMap", "translation", "experimental",
                           "compositional", "versionNeeded", "lockedDate"})
_INTEGER_KEYS = frozenset({"valueInteger", "valueUnsignedInt", "valuePositiveInt", "total", "offset", "count"})
_DECIMAL_KEYS = frozenset({"valueDecimal"})


def check_response(response: Any, status: int | None = 200, resource_type: str | None = None) -> dict[str, Any]:
    """Assert ``response`` is FHIR JSON with the given status (any 2xx/4xx when None), check its body with
    :func:`check_resource` and return the body."""
    body_text = response.get_data(as_text=True)
    assert response.status_code < 500, f"{response.status_code}: {body_text[:500]}"
    if status is None:
        assert 200 <= response.status_code < 300 or 400 <= response.status_code < 500, response.status_code
    else:
        assert response.status_code == status, f"expected {status}, got {response.status_code}: {body_text[:500]}"
    assert response.mimetype == FHIR_JSON, response.content_type
    body = response.get_json()
    check_resource(body, resource_type)
    return body


def check_resource(body: Any, resource_type: str | None = None) -> dict[str, Any]:
    """Parse ``body`` with the fhir.resources R4B model for its resourceType, then check what the model does not:
    JSON types, no empty values, and the required bindings of the elements this server fills in."""
    assert isinstance(body, dict), f"a FHIR resource is a JSON object, not {type(body).__name__}"
    kind = body.get("resourceType")
    if resource_type is not None:
        assert kind == resource_type, f"expected a {resource_type}, got {kind}: {str(body)[:500]}"
    model = get_fhir_model_class(kind).parse_obj(body)
    _check_enums(model, kind)
    _check_json(body, kind)
    _check_bindings(body)
    return body


def _check_enums(model: BaseModel, path: str) -> None:
    """Codes with a required binding that fhir.resources lists (``enum_values``) but does not enforce."""
    for name, field in model.__fields__.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        allowed = field.field_info.extra.get("enum_values")
        if allowed and "mime" in allowed:  # CapabilityStatement.format: "xml | json | ttl | mime type", not a list
            allowed = None
        values = value if isinstance(value, list) else [value]
        for item in values:
            if allowed and isinstance(item, str):
                assert item in allowed, f"{path}.{name} = {item!r} is not one of {allowed}"
            if isinstance(item, BaseModel):
                _check_enums(item, f"{path}.{name}")


def _check_json(value: Any, path: str, key: str = "") -> None:
    """Strict JSON types (pydantic v1 coerces) and FHIR's rule that no element is null, empty or blank."""
    assert value is not None, f"{path} is null"
    if isinstance(value, dict):
        assert value, f"{path} is an empty object"
        for name, item in value.items():
            _check_json(item, f"{path}.{name}", name)
    elif isinstance(value, list):
        assert value, f"{path} is an empty array"
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]", key)
    elif key in _BOOLEAN_KEYS:
        assert isinstance(value, bool), f"{path} must be a JSON boolean, not {value!r}"
    elif key in _INTEGER_KEYS:
        assert isinstance(value, int) and not isinstance(value, bool), f"{path} must be a JSON integer, not {value!r}"
    elif key in _DECIMAL_KEYS:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{path} must be a JSON number"
    else:
        assert isinstance(value, str), f"{path} must be a JSON string, not {value!r}"
        assert value.strip(), f"{path} is an empty string"


def _check_bindings(body: dict[str, Any]) -> None:
    kind = body.get("resourceType")
    if kind == "OperationOutcome":
        assert body.get("issue"), "an OperationOutcome has at least one issue"
        for issue in body["issue"]:
            assert issue["code"] in ISSUE_TYPES, f"issue.code {issue['code']!r} is not an IssueType"
            assert issue.get("details", {}).get("text", "").strip(), f"issue without a message: {issue}"
            for coding in issue["details"].get("coding", []):
                if coding.get("system") == TX_ISSUE_TYPE:
                    assert coding.get("code") in TX_ISSUE_TYPES, f"unknown tx-issue-type {coding.get('code')!r}"
    elif kind == "Parameters":
        for parameter in body.get("parameter", []):
            if "resource" in parameter:
                check_resource(parameter["resource"])
            if parameter["name"] == "outcome":
                assert parameter.get("valueCode") in SUBSUMES_OUTCOMES, parameter
            if parameter["name"] == "match":
                equivalence = part_values(parameter).get("equivalence")
                assert equivalence in EQUIVALENCES, f"match equivalence {equivalence!r}"
    elif kind == "Bundle":
        if body.get("type") == "searchset":
            assert body.get("total") == len(body.get("entry", [])), "searchset total must count the entries"
        else:
            assert "total" not in body, f"a {body.get('type')} Bundle has no total"
        for entry in body.get("entry", []):
            check_resource(entry["resource"])


# --- reading Parameters ----------------------------------------------------------------------------------------

def _value(parameter: dict[str, Any]) -> Any:
    for key, value in parameter.items():
        if key.startswith("value"):
            return value
    if "resource" in parameter:
        return parameter["resource"]
    return parameter.get("part")


def values(body: dict[str, Any], name: str) -> list[Any]:
    """The values of every top-level parameter called ``name``."""
    return [_value(p) for p in body.get("parameter", []) if p["name"] == name]


def value(body: dict[str, Any], name: str) -> Any:
    """The value of the one top-level parameter ``name`` (None when absent)."""
    found = values(body, name)
    assert len(found) <= 1, f"parameter {name!r} appears {len(found)} times"
    return found[0] if found else None


def names(body: dict[str, Any]) -> list[str]:
    return [p["name"] for p in body.get("parameter", [])]


def part_values(parameter: dict[str, Any]) -> dict[str, Any]:
    """A parameter's parts as name → value (each part name once in the parameters this server returns)."""
    return {part["name"]: _value(part) for part in parameter.get("part", [])}


def parts(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every top-level parameter ``name`` with parts, each as name → value."""
    return [part_values(p) for p in body.get("parameter", []) if p["name"] == name]


def properties(body: dict[str, Any], code: str) -> list[dict[str, Any]]:
    """``$lookup`` property parameters with this code, as {code, value, description?}."""
    return [p for p in parts(body, "property") if p["code"] == code]


def designations(body: dict[str, Any]) -> list[dict[str, Any]]:
    """``$lookup`` designations as {language?, use? (the Coding), value}."""
    return parts(body, "designation")


def matches(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``$translate`` matches as (system, code, equivalence)."""
    return [(m["concept"]["system"], m["concept"]["code"], m["equivalence"]) for m in parts(body, "match")]


# --- reading OperationOutcome ----------------------------------------------------------------------------------

def tx_codes(outcome: dict[str, Any]) -> list[str]:
    """The tx-issue-type codes of an OperationOutcome's issues, in order."""
    return [c["code"] for i in outcome["issue"] for c in i.get("details", {}).get("coding", [])
            if c.get("system") == TX_ISSUE_TYPE]


def check_outcome(response: Any, status: int, issue_code: str | None = None,
                  mentions: Iterable[str] = ()) -> dict[str, Any]:
    """Assert an error response: ``status``, an OperationOutcome whose first issue is an error (of ``issue_code``)
    and whose message names every string in ``mentions``. Returns the first issue."""
    body = check_response(response, status, "OperationOutcome")
    issue = body["issue"][0]
    assert issue["severity"] in ("error", "fatal"), issue
    if issue_code is not None:
        assert issue["code"] == issue_code, issue
    text = issue["details"]["text"]
    for fragment in mentions:
        assert fragment in text, f"{fragment!r} not named in {text!r}"
    assert "Traceback" not in text and "Internal error" not in text, text
    return issue
