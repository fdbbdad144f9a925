"""CodeSystem/$validate-code and ValueSet/$validate-code against the real releases.

Answers must have the shape the HL7 terminology conformance tests expect (../shared/tx-tests): the same output
parameters in the same order, and issues with the same severity, issue type, tx-issue-type, message id and FHIRPath.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from termserver.conformance.compare import sort_operation_outcome
from tests.api.fhir_check import check_outcome, check_response, names, tx_codes, value

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
ICPC2_ALL = f"{ICPC2_OID}?fhir_vs"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SKS = "urn:oid:1.2.208.176.2.4.12"
NPU = "urn:oid:1.2.208.176.2.1"
MCS_LEGACY = "https://terminology.medcom.dk/fhir/observation-code"
UNKNOWN_SYSTEM = "http://example.org/fhir/CodeSystem/unknown"

ICPC2_LABEL = ("'http://hl7.org/fhir/sid/icpc-2' (International Classification of Primary Care, 2nd edition "
               "(ICPC-2e) 7.0)")
ALIAS_NOTE = f"'{ICPC2_OID}' is this server's alias of {ICPC2_LABEL}"  # our note when an HL7 text names the alias
WRONG_DISPLAY = (
    "Wrong Display Name 'Forhøjet blodtryk, forkert' for urn:oid:1.2.208.176.2.31#K86. Valid display is one of 5 "
    "choices: 'Hypertension uncomplicated' (en), 'Hypertensjon ukomplisert' (nb), 'Ukompliceret hypertension' (da), "
    "'Verenpainetauti, komplisoitumaton' (fi) or 'Blodtryckssjukdom utan komplikationer' (sv) (for the language(s) "
    "'--')")
UNKNOWN_K999 = "Unknown code 'K999' in the CodeSystem 'urn:oid:1.2.208.176.2.31' version '7.0'"
NOT_IN_ALL = "The provided code 'urn:oid:1.2.208.176.2.31#K999' was not found in the value set '{}|7.0'"

CS = "/fhir/CodeSystem/$validate-code"
VS = "/fhir/ValueSet/$validate-code"
TX_TESTS = Path(__file__).resolve().parents[3] / "shared" / "tx-tests" / "tests" / "validation"


def get(client, path: str, **params: str) -> dict[str, Any]:
    return check_response(client.get(path, query_string=params), 200, "Parameters")


def post(client, path: str, *parameters: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json={"resourceType": "Parameters", "parameter": list(parameters)},
                           content_type="application/fhir+json")
    return check_response(response, 200, "Parameters")


def issues(body: dict[str, Any]) -> list[dict[str, Any]]:
    outcome = value(body, "issues")
    return outcome["issue"] if outcome else []


def validate(client, operation: str, form: str, system: str, code: str, display: str | None = None,
             url: str = ICPC2_ALL) -> dict[str, Any]:
    """One validation in one of the request forms: code (GET or POST), coding or codeableConcept (POST)."""
    scope = [] if operation == CS else [{"name": "url", "valueUri": url}]
    coding = {"system": system, "code": code, **({"display": display} if display is not None else {})}
    if form == "get":
        return get(client, operation, **({} if operation == CS else {"url": url}), system=system, code=code,
                   **({"display": display} if display is not None else {}))
    if form == "code":
        return post(client, operation, *scope, {"name": "system", "valueUri": system},
                    {"name": "code", "valueCode": code},
                    *([{"name": "display", "valueString": display}] if display is not None else []))
    if form == "coding":
        return post(client, operation, *scope, {"name": "coding", "valueCoding": coding})
    return post(client, operation, *scope, {"name": "codeableConcept", "valueCodeableConcept": {"coding": [coding]}})


FORMS = [("get", ""), ("code", ""), ("coding", "Coding."), ("codeableConcept", "CodeableConcept.coding[0].")]
OPERATIONS = [pytest.param(CS, id="CodeSystem"), pytest.param(VS, id="ValueSet")]


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("form", "prefix"), FORMS)
@pytest.mark.parametrize("display", [None, "Ukompliceret hypertension", "Hypertension uncomplicated"])
def test_k86_is_valid(client, operation, form, prefix, display):
    body = validate(client, operation, form, ICPC2_OID, "K86", display)
    assert value(body, "result") is True, body
    assert value(body, "code") == "K86"
    assert value(body, "system") == ICPC2_OID
    assert value(body, "version") == "7.0"
    assert value(body, "display") == "Ukompliceret hypertension"
    assert issues(body) == []
    assert value(body, "message") is None


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("form", "prefix"), FORMS)
def test_wrong_display_is_an_error(client, operation, form, prefix):
    body = validate(client, operation, form, ICPC2_OID, "K86", "Forhøjet blodtryk, forkert")
    assert value(body, "result") is False
    assert value(body, "display") == "Ukompliceret hypertension"  # the right one, for the client to use
    issue, note = issues(body)
    assert issue["severity"] == "error"
    assert issue["code"] == "invalid"
    assert tx_codes(value(body, "issues")) == ["invalid-display", "process-note"]
    assert issue["expression"] == [f"{prefix}display"]
    assert issue["details"]["text"] == WRONG_DISPLAY  # tx.fhir.org's text, naming the system as the client sent it
    assert value(body, "message") == issue["details"]["text"]
    # ... and the alias the client used is explained
    assert (note["severity"], note["code"], note["expression"]) == ("information", "informational",
                                                                    [f"{prefix}system"])
    assert note["details"]["text"] == ALIAS_NOTE


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("form", "prefix"), FORMS)
def test_unknown_code(client, operation, form, prefix):
    body = validate(client, operation, form, ICPC2_OID, "K999")
    assert value(body, "result") is False
    # tx.fhir.org's issues in its order (the unknown code first), then our note on the alias
    if operation == CS:
        expected = ["invalid-code", "process-note"]
    elif form == "codeableConcept":
        expected = ["invalid-code", "this-code-not-in-vs", "not-in-vs", "process-note"]
    else:
        expected = ["invalid-code", "not-in-vs", "process-note"]
    assert tx_codes(value(body, "issues")) == expected
    unknown, note = issues(body)[0], issues(body)[-1]
    assert (unknown["severity"], unknown["code"]) == ("error", "code-invalid")
    assert unknown["expression"] == [f"{prefix}code"]
    assert unknown["details"]["text"] == UNKNOWN_K999
    # the HL7 text names the alias as sent; the note names the system it stands for (both URIs, title, version)
    assert (note["severity"], note["expression"], note["details"]["text"]) == ("information", [f"{prefix}system"],
                                                                               ALIAS_NOTE)
    if operation == CS:
        message = UNKNOWN_K999
    elif form == "codeableConcept":
        message = f"No valid coding was found for the value set '{ICPC2_ALL}|7.0'; {UNKNOWN_K999}"
    else:
        message = f"{NOT_IN_ALL.format(ICPC2_ALL)}; {UNKNOWN_K999}"
    assert value(body, "message") == message


def test_case_matters_and_the_answer_says_so(client):
    body = get(client, CS, system=ICPC2, code="k86")
    assert value(body, "result") is False
    unknown, hint = issues(body)
    assert unknown["details"]["text"] == f"Unknown code 'k86' in the CodeSystem '{ICPC2}' version '7.0'"
    assert value(body, "message") == unknown["details"]["text"]  # tx.fhir.org's message, unchanged
    # our hint, as an issue of its own so that tx.fhir.org's texts stay exact
    assert (hint["severity"], hint["code"], hint["expression"]) == ("information", "business-rule", ["code"])
    assert tx_codes(value(body, "issues")) == ["invalid-code", "code-rule"]
    assert hint["details"]["text"] == f"Did you mean 'K86'? Codes in {ICPC2_LABEL} are case sensitive"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_unknown_system(client, operation):
    body = validate(client, operation, "get", UNKNOWN_SYSTEM, "K86")
    assert value(body, "result") is False
    # tx.fhir.org's order: the unknown system, then (in a value set) the code not being in it
    assert tx_codes(value(body, "issues")) == (["not-found"] if operation == CS else ["not-found", "not-in-vs"])
    not_found = issues(body)[0]
    assert (not_found["severity"], not_found["code"], not_found["expression"]) == ("error", "not-found", ["system"])
    assert not_found["details"]["text"] == (f"A definition for CodeSystem '{UNKNOWN_SYSTEM}' could not be found, so "
                                            f"the code cannot be validated")


def test_unknown_version(client):
    body = get(client, CS, system=ICPC2, code="K86", version="6.0")
    assert value(body, "result") is False
    [issue] = issues(body)
    assert issue["expression"] == ["system"]  # where tx.fhir.org reports an unknown version
    assert issue["details"]["text"] == (f"A definition for CodeSystem '{ICPC2}' version '6.0' could not be found, so "
                                        f"the code cannot be validated. Valid versions: 7.0")


@pytest.mark.parametrize(("url", "system", "code"), [
    (ICPC2_ALL, ICD10, "I10"),                 # a valid code of another system
    (f"{ICPC2}?fhir_vs=isa/K", ICPC2, "N01"),  # a valid ICPC-2 code outside chapter K
    (f"{SKS}?fhir_vs", ICPC2_OID, "K86"),
])
def test_code_outside_the_value_set(client, url, system, code):
    body = get(client, VS, url=url, system=system, code=code)
    assert value(body, "result") is False
    assert tx_codes(value(body, "issues")) == ["not-in-vs"]
    text = issues(body)[0]["details"]["text"]
    assert f"'{system}#{code}'" in text and url in text


def test_code_inside_an_is_a_value_set(client):
    body = get(client, VS, url=f"{ICPC2}?fhir_vs=isa/K", system=ICPC2, code="K86")
    assert value(body, "result") is True


def test_value_set_sent_in_the_body(client):
    value_set = {"resourceType": "ValueSet", "url": "http://example.org/fhir/ValueSet/hypertension",
                 "status": "active", "compose": {"include": [{"system": ICPC2, "concept": [{"code": "K86"},
                                                                                           {"code": "K87"}]}]}}
    ok = post(client, VS, {"name": "valueSet", "resource": value_set}, {"name": "system", "valueUri": ICPC2},
              {"name": "code", "valueCode": "K87"})
    assert value(ok, "result") is True
    assert value(ok, "display") == "Kompliceret hypertension"
    outside = post(client, VS, {"name": "valueSet", "resource": value_set}, {"name": "system", "valueUri": ICPC2},
                   {"name": "code", "valueCode": "K85"})
    assert value(outside, "result") is False
    assert tx_codes(value(outside, "issues")) == ["not-in-vs"]
    assert "http://example.org/fhir/ValueSet/hypertension" in value(outside, "message")


def test_codeable_concept_with_an_unknown_code_is_invalid_even_when_another_coding_is_valid(client):
    # as tx.fhir.org: the unknown code is an error, and any error makes the answer false; the valid coding is the
    # one the answer names
    concept = {"coding": [{"system": ICPC2_OID, "code": "K999"}, {"system": ICPC2_OID, "code": "K86"}],
               "text": "Forhøjet blodtryk"}
    for operation in (CS, VS):
        scope = [] if operation == CS else [{"name": "url", "valueUri": ICPC2_ALL}]
        body = post(client, operation, *scope, {"name": "codeableConcept", "valueCodeableConcept": concept})
        assert value(body, "result") is False
        assert value(body, "code") == "K86"
        assert value(body, "display") == "Ukompliceret hypertension"
        assert value(body, "codeableConcept") == concept
        assert tx_codes(value(body, "issues")) == (["invalid-code", "process-note"] if operation == CS else
                                                   ["invalid-code", "this-code-not-in-vs", "process-note"])
        assert issues(body)[0]["expression"] == ["CodeableConcept.coding[0].code"]
        assert value(body, "message") == UNKNOWN_K999


def test_codeable_concept_in_a_value_set_is_valid_when_one_coding_is_and_another_system_is_unknown(client):
    concept = {"coding": [{"system": UNKNOWN_SYSTEM, "code": "X1"}, {"system": ICPC2_OID, "code": "K86"}]}
    body = post(client, VS, {"name": "url", "valueUri": ICPC2_ALL},
                {"name": "codeableConcept", "valueCodeableConcept": concept})
    assert value(body, "result") is True
    assert value(body, "code") == "K86"
    assert value(body, "codeableConcept") == concept
    assert tx_codes(value(body, "issues")) == ["this-code-not-in-vs", "not-found"]
    assert [issue["severity"] for issue in issues(body)] == ["information", "warning"]


def test_codeable_concept_with_no_valid_coding_reports_each(client):
    concept = {"coding": [{"system": ICPC2_OID, "code": "K999"}, {"system": SKS, "code": "DX999999"}]}
    body = post(client, CS, {"name": "codeableConcept", "valueCodeableConcept": concept})
    assert value(body, "result") is False
    assert [i["expression"] for i in issues(body)] == [["CodeableConcept.coding[0].code"],
                                                        ["CodeableConcept.coding[1].code"],
                                                        ["CodeableConcept.coding[0].system"]]  # the alias note
    assert tx_codes(value(body, "issues")) == ["invalid-code", "invalid-code", "process-note"]
    assert "K999" in value(body, "message") and "DX999999" in value(body, "message")


def test_codeable_concept_without_codings_cannot_be_validated(client):
    # as tx.fhir.org answers it (not an HTTP error): the first coding, which is missing, has no system
    concept = {"text": "blodtryk"}
    body = post(client, CS, {"name": "codeableConcept", "valueCodeableConcept": concept})
    assert value(body, "result") is False
    assert value(body, "codeableConcept") == concept
    [issue] = issues(body)
    assert (issue["severity"], issue["code"], issue["expression"]) == ("warning", "invalid",
                                                                       ["CodeableConcept.coding[0]"])
    assert tx_codes(value(body, "issues")) == ["invalid-data"]
    assert value(body, "message") == issue["details"]["text"] == (
        "Coding has no system. A code with no system has no defined meaning, and it cannot be validated. A system "
        "should be provided")


def test_inactive_code_is_valid_with_a_warning(client):
    body = get(client, CS, system=NPU, code="NPU01360")
    assert value(body, "result") is True
    assert value(body, "inactive") is True
    assert value(body, "status") == "retired"
    [issue] = issues(body)
    assert (issue["severity"], tx_codes(value(body, "issues"))) == ("warning", ["code-comment"])


def test_retired_system_uri_is_valid_with_a_warning(client):
    body = get(client, CS, system=MCS_LEGACY, code="MCS88122")
    assert value(body, "result") is True
    [issue] = issues(body)
    assert issue["severity"] == "warning"
    assert tx_codes(value(body, "issues")) == ["status-check"]
    assert MCS_LEGACY in issue["details"]["text"]


def test_instance_form(client):
    bundle = check_response(client.get("/fhir/CodeSystem", query_string={"url": ICPC2}), 200, "Bundle")
    resource_id = bundle["entry"][0]["resource"]["id"]
    body = get(client, f"/fhir/CodeSystem/{resource_id}/$validate-code", code="K86", display="Forkert")
    assert value(body, "result") is False
    assert tx_codes(value(body, "issues")) == ["invalid-display"]


@pytest.mark.parametrize(("params", "system"), [
    ({"url": ICPC2_ALL}, ICPC2_OID),                                # an implicit value set has one system
    ({"url": f"{ICPC2}?fhir_vs=isa/K", "inferSystem": "true"}, ICPC2),
])
def test_system_is_inferred(client, params, system):
    body = get(client, VS, **params, code="K86")
    assert value(body, "result") is True
    assert value(body, "system") == system


def test_system_cannot_be_inferred(client):
    body = get(client, VS, url=ICPC2_ALL, code="K999")
    assert value(body, "result") is False
    assert value(body, "system") is None
    assert tx_codes(value(body, "issues")) == ["cannot-infer", "not-in-vs"]
    assert value(body, "message") == (
        f"The System URI could not be determined for the code 'K999' in the ValueSet '{ICPC2_ALL}|7.0'; "
        f"The provided code '#K999' was not found in the value set '{ICPC2_ALL}|7.0'")


def test_system_inferred_from_the_code_system_not_the_filter(client):
    # tx.fhir.org infers the system from the include's code system (N01 is an ICPC-2 code), not from its filter:
    # the system is inferred, and the code is simply not in the value set
    body = get(client, VS, url=f"{ICPC2}?fhir_vs=isa/K", code="N01", inferSystem="true")
    assert value(body, "result") is False
    assert value(body, "system") is None
    assert tx_codes(value(body, "issues")) == ["not-in-vs"]
    assert value(body, "message") == (f"The provided code '{ICPC2}#N01' was not found in the value set "
                                      f"'{ICPC2}?fhir_vs=isa/K|7.0'")


def test_missing_system_without_inference_is_an_error(client):
    value_set = {"resourceType": "ValueSet", "status": "active", "compose": {"include": [{"system": ICPC2}]}}
    response = client.post(VS, json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": value_set}, {"name": "code", "valueCode": "K86"}]})
    check_outcome(response, 400, "invalid", ["'system'", "inferSystem"])


# --- the HL7 conformance-test shape -----------------------------------------------------------------------------

def tx_fixture(name: str) -> dict[str, Any]:
    path = TX_TESTS / f"{name}-response-parameters.json"
    if not path.is_file():
        pytest.skip(f"HL7 tx-tests not found at {TX_TESTS}")
    return json.loads(path.read_text(encoding="utf-8-sig"))


def assert_tx_shape(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Same output parameters in the same order (optional ones may be missing), same result, and issues with the
    same severity, type, tx-issue-type, message id and expression; texts and codes are the test's own."""
    expected_names = [p["name"] for p in expected["parameter"]]
    required = [p["name"] for p in expected["parameter"] if "$optional$" not in p]
    got = names(actual)
    assert [n for n in expected_names if n in got] == got, (got, expected_names)
    assert set(required) <= set(got), (got, required)
    assert value(actual, "result") == value(expected, "result")
    outcome = copy.deepcopy(value(actual, "issues") or {"issue": []})
    sort_operation_outcome(outcome)  # the order the HL7 runner compares in, and stores the expected files in
    found = list(outcome["issue"])
    for want in (value(expected, "issues") or {"issue": []})["issue"]:
        if found and _same_issue(found[0], want):
            found.pop(0)
        else:
            assert "$optional$" in want, (want, found)
    assert not found, f"issues the HL7 tests do not expect: {found}"


def _same_issue(have: dict[str, Any], want: dict[str, Any]) -> bool:
    return (all(have.get(key) == want.get(key) for key in ("severity", "code", "expression"))
            and have["details"]["coding"] == want["details"]["coding"]
            and [e["valueString"] for e in have.get("extension", [])]
            == [e["valueString"] for e in want.get("extension", [])])


@pytest.mark.parametrize(("fixture", "operation", "form", "code", "display"), [
    ("simple-code-good-display", VS, "code", "K86", "Ukompliceret hypertension"),
    ("simple-code-bad-display", VS, "code", "K86", "Forkert"),
    ("simple-coding-bad-display", VS, "coding", "K86", "Forkert"),
    ("simple-codeableconcept-good-display", VS, "codeableConcept", "K86", "Hypertension uncomplicated"),
    ("simple-codeableconcept-bad-display", VS, "codeableConcept", "K86", "Forkert"),
    ("simple-code-bad-code", VS, "code", "K999", None),
    ("simple-coding-bad-code", VS, "coding", "K999", None),
    ("cs-code-good", CS, "code", "K86", None),
    ("cs-code-bad-code", CS, "code", "K999", None),
])
def test_matches_the_hl7_conformance_test_shape(client, fixture, operation, form, code, display):
    assert_tx_shape(validate(client, operation, form, ICPC2, code, display), tx_fixture(fixture))


@pytest.mark.parametrize(("fixture", "code"), [("simple-code-implied-good", "K86"),
                                             ("simple-code-implied-bad-code", "K999")])
def test_inferred_system_matches_the_hl7_conformance_test_shape(client, fixture, code):
    body = post(client, VS, {"name": "url", "valueUri": f"{ICPC2}?fhir_vs"}, {"name": "code", "valueCode": code},
                {"name": "inferSystem", "valueBoolean": True})
    assert_tx_shape(body, tx_fixture(fixture))


def test_coding_without_system_matches_the_hl7_conformance_test_shape(client):
    body = post(client, VS, {"name": "url", "valueUri": ICPC2_ALL}, {"name": "coding", "valueCoding": {"code": "K86"}})
    assert_tx_shape(body, tx_fixture("simple-coding-no-system"))
    assert "has no system" in value(body, "message")


def test_unknown_system_matches_the_hl7_conformance_test_shape(client):
    assert_tx_shape(validate(client, VS, "code", UNKNOWN_SYSTEM, "K86"), tx_fixture("simple-code-bad-system"))


# --- request checks and value set imports, as tx.fhir.org --------------------------------------------------------

def test_display_language_must_be_language_tags(client):
    for operation in (CS, VS):
        scope = {} if operation == CS else {"url": ICPC2_ALL}
        issue = check_outcome(client.get(operation, query_string={**scope, "system": ICPC2, "code": "K86",
                                                                  "displayLanguage": "-"}),
                              400, "processing", ["Invalid displayLanguage: '-'"])
        assert tx_codes({"issue": [issue]}) == ["invalid-display"]
    body = get(client, CS, system=ICPC2, code="K86", display="Ukompliceret hypertension",
               displayLanguage="da, en; q=0.5, *; q=0")
    assert value(body, "result") is True


HYPERTENSION = "http://example.org/fhir/ValueSet/hypertension"


def _hypertension(version: str, *codes: str) -> dict[str, Any]:
    return {"name": "tx-resource", "resource": {
        "resourceType": "ValueSet", "url": HYPERTENSION, "version": version, "status": "active",
        "compose": {"include": [{"system": ICPC2, "concept": [{"code": c} for c in codes]}]}}}


@pytest.mark.parametrize(("pinned", "result"), [("1", False), ("2", True)])
def test_default_valueset_version_pins_an_import_without_a_version(client, pinned, result):
    importing = {"resourceType": "ValueSet", "url": "http://example.org/fhir/ValueSet/blodtryk", "version": "1",
                 "status": "active", "compose": {"include": [{"valueSet": [HYPERTENSION]}]}}
    body = post(client, VS, _hypertension("1", "K86"), _hypertension("2", "K86", "K87"),
                {"name": "valueSet", "resource": importing}, {"name": "coding", "valueCoding": {
                    "system": ICPC2, "code": "K87"}},
                {"name": "default-valueset-version", "valueCanonical": f"{HYPERTENSION}|{pinned}"})
    assert value(body, "result") is result


def test_default_valueset_version_of_an_import_that_is_not_there(client):
    importing = {"resourceType": "ValueSet", "url": "http://example.org/fhir/ValueSet/blodtryk", "version": "1",
                 "status": "active", "compose": {"include": [{"valueSet": [HYPERTENSION]}]}}
    body = post(client, VS, _hypertension("1", "K86"), {"name": "valueSet", "resource": importing},
                {"name": "coding", "valueCoding": {"system": ICPC2, "code": "K86"}},
                {"name": "default-valueset-version", "valueCanonical": f"{HYPERTENSION}|3"})
    assert value(body, "result") is False
    assert value(body, "message") == f"A definition for the value Set '{HYPERTENSION}|3' could not be found"
    assert tx_codes(value(body, "issues")) == ["not-found"]


def test_circular_value_set_imports_are_refused(client):
    def importing(name: str, other: str) -> dict[str, Any]:
        return {"name": "tx-resource", "resource": {
            "resourceType": "ValueSet", "url": f"http://example.org/fhir/ValueSet/{name}", "version": "1",
            "status": "active", "compose": {"include": [{"valueSet": [f"http://example.org/fhir/ValueSet/{other}"]}]}}}

    response = client.post(VS, json={"resourceType": "Parameters", "parameter": [
        importing("a", "b"), importing("b", "a"), {"name": "url", "valueUri": "http://example.org/fhir/ValueSet/a"},
        {"name": "coding", "valueCoding": {"system": ICPC2, "code": "K86"}}]})
    issue = check_outcome(response, 400, "processing", ["circularity", "http://example.org/fhir/ValueSet/a"])
    assert tx_codes({"issue": [issue]}) == ["vs-invalid"]


def test_a_value_set_without_url_is_named_unidentified(client):
    value_set = {"resourceType": "ValueSet", "status": "active",
                 "compose": {"include": [{"system": ICPC2, "concept": [{"code": "K86"}]}]}}
    body = post(client, VS, {"name": "valueSet", "resource": value_set},
                {"name": "coding", "valueCoding": {"system": ICPC2, "code": "K87"}})
    assert value(body, "result") is False
    assert value(body, "message") == (f"The provided code '{ICPC2}#K87' was not found in the value set "
                                      "'(unidentified)'")


def test_a_supplement_is_not_a_code_system_to_validate_against(client):
    supplement = "http://hl7.dk/fhir/core/CodeSystem/icpc2E-DK"
    body = post(client, CS, {"name": "coding", "valueCoding": {"system": supplement, "code": "K86"}})
    assert value(body, "result") is False
    [issue] = issues(body)
    assert (issue["code"], issue["expression"]) == ("invalid", ["Coding.system"])
    assert tx_codes(value(body, "issues")) == ["invalid-data"]
    assert value(body, "message").startswith(f"CodeSystem {supplement}")
    assert value(body, "message").endswith("is a supplement, so can't be used as a value in Coding.system")
