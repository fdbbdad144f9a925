"""``ValueSet/$batch-validate-code`` and ``CodeSystem/$batch-validate-code`` in the form the HL7 Java validator
(``BaseWorkerContext.validateCodeBatch`` → ``batchValidateVS``) and tx.fhir.org use: one ``validation`` parameter per
code, each a ``Parameters`` as for a single ``$validate-code``, top-level parameters as defaults. Every answer must
equal the single call's, and a bad validation never fails the batch."""
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
SKS = "urn:oid:1.2.208.176.2.4.12"
VS_BATCH = "/fhir/ValueSet/$batch-validate-code"
CS_BATCH = "/fhir/CodeSystem/$batch-validate-code"
VS = "/fhir/ValueSet/$validate-code"
CS = "/fhir/CodeSystem/$validate-code"
SUPPLIED = "urn:uuid:6a4c0a5e-2f3b-4b7e-9d55-0c1f4c3e8d21"
TX_TESTS = Path(__file__).resolve().parents[3] / "shared" / "tx-tests" / "tests"

URL = {"name": "url", "valueUri": ICPC2_ALL}


def coding(code: str, display: str | None = None, system: str = ICPC2_OID) -> dict[str, Any]:
    return {"name": "coding", "valueCoding": {"system": system, "code": code,
                                              **({"display": display} if display is not None else {})}}


def validation(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"name": "validation", "resource": {"resourceType": "Parameters", "parameter": list(parameters)}}


def batch(client, *parameters: dict[str, Any], path: str = VS_BATCH) -> list[dict[str, Any]]:
    """The validation results, in order (each already checked as FHIR by check_response's recursion)."""
    body = check_response(client.post(path, json={"resourceType": "Parameters", "parameter": list(parameters)}),
                          200, "Parameters")
    assert set(names(body)) <= {"validation"}
    return [p["resource"] for p in body["parameter"]]


def single(client, path: str, *parameters: dict[str, Any]) -> dict[str, Any]:
    """The answer of one $validate-code (a Parameters, or the OperationOutcome of an error)."""
    return check_response(client.post(path, json={"resourceType": "Parameters", "parameter": list(parameters)}),
                          None)


def supplied_value_set(version: str = "1", *codes: str) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": SUPPLIED, "version": version, "status": "active",
            "compose": {"include": [{"system": ICPC2_OID, "concept": [{"code": c} for c in codes or ("K86", "K87")]}]}}


# --- every answer is the single call's ------------------------------------------------------------------------

def test_good_bad_code_and_bad_display_answer_as_single_calls(client):
    own = [[coding("K86")], [coding("K999")], [coding("K86", "Forkert")],
           [{"name": "system", "valueUri": ICPC2_OID}, {"name": "code", "valueCode": "K87"}],
           [{"name": "codeableConcept", "valueCodeableConcept": {"coding": [coding("R95")["valueCoding"]]}}]]
    results = batch(client, URL, *(validation(*p) for p in own))
    assert results == [single(client, VS, *p, URL) for p in own]
    assert [value(r, "result") for r in results] == [True, False, False, True, True]
    # tx.fhir.org's order, then our note on the alias the codings use (urn:oid:1.2.208.176.2.31)
    assert tx_codes(value(results[1], "issues")) == ["invalid-code", "not-in-vs", "process-note"]
    assert tx_codes(value(results[2], "issues")) == ["invalid-display", "process-note"]


def test_a_bad_validation_is_an_operation_outcome_in_its_place(client):
    bad = [{"name": "codingX", "valueCoding": coding("K86")["valueCoding"]}]
    results = batch(client, URL, validation(coding("K86")), validation(*bad), validation(coding("K999")))
    assert [r["resourceType"] for r in results] == ["Parameters", "OperationOutcome", "Parameters"]
    assert results[1] == single(client, VS, *bad, URL)
    check_outcome(client.post(VS, json={"resourceType": "Parameters", "parameter": [*bad, URL]}), 400, "invalid",
                  ["coding", "codeableConcept", "code+system", "code+inferSystem"])  # as tx.fhir.org names them
    assert results[0] == single(client, VS, coding("K86"), URL)
    assert results[2] == single(client, VS, coding("K999"), URL)


@pytest.mark.parametrize("resource", ["K86", {"resourceType": "Bundle"}, None],
                         ids=["string", "not-parameters", "missing"])
def test_a_validation_that_is_not_a_parameters(client, resource):
    broken = {"name": "validation", **({"resource": resource} if isinstance(resource, dict) else
                                       {"valueString": resource} if resource else {})}
    results = batch(client, URL, validation(coding("K86")), broken, validation(coding("K87")))
    issue = results[1]["issue"][0]
    assert (results[1]["resourceType"], issue["code"]) == ("OperationOutcome", "invalid")
    assert "Parameters.parameter[2]" in issue["details"]["text"] and "Parameters" in issue["details"]["text"]
    assert [value(r, "result") for r in (results[0], results[2])] == [True, True]


def test_an_unknown_value_set_is_an_outcome_per_validation_not_a_failed_batch(client):
    unknown = {"name": "url", "valueUri": "http://example.org/fhir/ValueSet/none"}
    results = batch(client, unknown, validation(coding("K86")), validation(coding("K87")))
    assert results == [single(client, VS, coding(code), unknown) for code in ("K86", "K87")]
    assert [r["issue"][0]["code"] for r in results] == ["not-found", "not-found"]


# --- top-level parameters are defaults ------------------------------------------------------------------------

def test_own_parameters_win_over_the_top_level(client):
    english = {"name": "displayLanguage", "valueCode": "en"}
    danish = {"name": "displayLanguage", "valueCode": "da"}
    only_k87 = {"name": "valueSet", "resource": supplied_value_set("1", "K87")}
    results = batch(client, URL, english, validation(coding("K86")), validation(coding("K86"), danish),
                    validation(coding("K86"), only_k87))
    assert results == [single(client, VS, coding("K86"), URL, english),
                       single(client, VS, coding("K86"), danish, URL),
                       single(client, VS, coding("K86"), only_k87, english)]
    assert [value(r, "display") for r in results[:2]] == ["Hypertension uncomplicated", "Ukompliceret hypertension"]
    assert value(results[2], "result") is False and tx_codes(value(results[2], "issues")) == ["not-in-vs"]


def test_booleans_sent_as_strings_are_read_as_booleans(client):
    """As tx.fhir.org reads them (the HL7 test batch-validate-bad sends "true" and "false"): the top-level lenient
    default, overridden by a validation's own "false"."""
    lenient = {"name": "lenient-display-validation", "valueBoolean": "true"}
    strict = {"name": "lenient-display-validation", "valueBoolean": "false"}
    results = batch(client, URL, lenient, validation(coding("K86", "Forkert")),
                    validation(coding("K86", "Forkert"), strict))
    assert results == [single(client, VS, coding("K86", "Forkert"), URL, {**lenient, "valueBoolean": True}),
                       single(client, VS, coding("K86", "Forkert"), URL, {**strict, "valueBoolean": False})]
    assert [value(r, "result") for r in results] == [True, False]
    assert [value(r, "issues")["issue"][0]["severity"] for r in results] == ["warning", "error"]


def test_code_system_batch_with_a_shared_system_and_version(client):
    system, version = {"name": "system", "valueUri": ICPC2_OID}, {"name": "version", "valueString": "7.0"}
    code = (lambda c: {"name": "code", "valueCode": c})
    sks = coding("DJ449", system=SKS)
    results = batch(client, system, version, validation(code("K86")), validation(code("K999")),
                    validation(code("K86"), {"name": "display", "valueString": "Forkert"}), validation(sks),
                    path=CS_BATCH)
    assert results == [single(client, CS, code("K86"), system, version), single(client, CS, code("K999"), system,
                                                                                version),
                       single(client, CS, code("K86"), {"name": "display", "valueString": "Forkert"}, system, version),
                       single(client, CS, sks)]  # a coding of its own takes no shared system or version
    assert [value(r, "result") for r in results] == [True, False, False, True]


def test_without_a_value_set_each_code_is_checked_in_its_code_system(client):
    # what the Java validator sends when it has no value set (org.hl7.fhir.core #2460), answered as tx.fhir.org does
    own = [coding("K86"), coding("DJ449", system=SKS), coding("K999")]
    results = batch(client, *(validation(c) for c in own))
    assert results == [single(client, CS, c) for c in own]
    assert [value(r, "result") for r in results] == [True, True, False]


# --- tx-resource value sets -----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [SUPPLIED, f"{SUPPLIED}|1"])
def test_a_supplied_value_set_is_used_for_its_url(client, url):
    supplied = supplied_value_set()
    tx_resource = {"name": "tx-resource", "resource": supplied}
    results = batch(client, tx_resource, {"name": "url", "valueUri": url}, validation(coding("K86")),
                    validation(coding("R95")))
    as_value_set = {"name": "valueSet", "resource": supplied}
    assert results == [single(client, VS, coding("K86"), as_value_set), single(client, VS, coding("R95"),
                                                                               as_value_set)]
    assert value(results[0], "result") is True
    assert value(results[1], "result") is False and tx_codes(value(results[1], "issues")) == ["not-in-vs"]
    assert SUPPLIED in value(results[1], "message")


def test_a_supplied_value_set_inside_one_validation(client):
    tx_resource = {"name": "tx-resource", "resource": supplied_value_set()}
    url = {"name": "url", "valueUri": SUPPLIED}
    results = batch(client, validation(coding("K87"), url, tx_resource), validation(coding("K87"), url))
    assert value(results[0], "result") is True
    assert results[1]["resourceType"] == "OperationOutcome" and SUPPLIED in results[1]["issue"][0]["details"]["text"]


def test_a_supplied_value_set_of_another_version_is_not_used(client):
    tx_resource = {"name": "tx-resource", "resource": supplied_value_set("2")}
    [result] = batch(client, tx_resource, {"name": "url", "valueUri": f"{SUPPLIED}|1"}, validation(coding("K86")))
    assert result == single(client, VS, coding("K86"), {"name": "url", "valueUri": f"{SUPPLIED}|1"})
    assert result["issue"][0]["code"] == "not-found"


# --- whole-request errors -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [VS_BATCH, CS_BATCH])
def test_get_says_it_needs_post(client, path):
    check_outcome(client.get(path, query_string={"url": ICPC2_ALL}), 400, "invalid", ["'validation'", "POST"])


@pytest.mark.parametrize("path", [VS_BATCH, CS_BATCH])
def test_no_validation(client, path):
    check_outcome(client.post(path, json={"resourceType": "Parameters", "parameter": [URL]}), 400, "invalid",
                  ["at least one 'validation'"])


def test_too_many_validations(client):
    from termserver.services.batch import MAX_BATCH_VALIDATIONS

    body = {"resourceType": "Parameters", "parameter": [URL] + [validation(coding("K86"))] *
            (MAX_BATCH_VALIDATIONS + 1)}
    check_outcome(client.post(VS_BATCH, json=body), 400, "too-costly",
                  [f"{MAX_BATCH_VALIDATIONS + 1} 'validation'", f"({MAX_BATCH_VALIDATIONS})", "split"])


def test_query_parameters_on_a_post_are_defaults_too(client):
    body = {"resourceType": "Parameters", "parameter": [validation(coding("K86")), validation(coding("K999"))]}
    response = client.post(VS_BATCH, query_string={"url": ICPC2_ALL}, json=body)
    results = [p["resource"] for p in check_response(response, 200, "Parameters")["parameter"]]
    assert [value(r, "result") for r in results] == [True, False]
    assert results[0] == single(client, VS, coding("K86"), URL)


# --- the HL7 terminology tests (suite "batch" of ../shared/tx-tests) ------------------------------------------

def _json_booleans(item: Any) -> Any:
    """The HL7 request files write some booleans as strings ("true"); the Java runner parses them into booleans
    before sending, so the wire carries JSON booleans."""
    if isinstance(item, dict):
        return {k: (v == "true" if k == "valueBoolean" and isinstance(v, str) else _json_booleans(v))
                for k, v in item.items()}
    if isinstance(item, list):
        return [_json_booleans(i) for i in item]
    return item


def _read(name: str) -> Any:
    return json.loads((TX_TESTS / name).read_text(encoding="utf-8-sig"))


@pytest.fixture(scope="module")
def simple_app(tmp_path_factory):
    """An app with an empty store: the HL7 test code system ``simple`` (the suite's setup) comes with each request
    as a tx-resource, as the HL7 runner sends it."""
    if not (TX_TESTS / "batch").is_dir():
        pytest.skip(f"HL7 tx-tests not found at {TX_TESTS}")
    from termserver import create_app
    from tests.conftest import make_test_database_url

    url = make_test_database_url(tmp_path_factory, "txsimple")
    application = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    yield application
    application.extensions["termserver.engine"].dispose()


def hl7_request(case: str) -> dict[str, Any]:
    """The request as the HL7 runner (TxTester.batchValidate) sends it: the test's Parameters, then the suite's
    setup resources as tx-resource, then the default profile parameters."""
    request = _json_booleans(_read(f"batch/{case}-request-bundle.json"))
    request["parameter"] += [{"name": "tx-resource", "resource": _read("simple/codesystem-simple.json")}]
    request["parameter"] += _read("parameters-default.json")["parameter"]
    return request


@pytest.fixture(scope="module")
def hl7_answers(simple_app) -> dict[str, list[dict[str, Any]]]:
    client = simple_app.test_client()
    answers = {}
    for case in ("batch-validate", "batch-validate-bad"):
        body = check_response(client.post(VS_BATCH, json=hl7_request(case)), 200, "Parameters")
        answers[case] = [p["resource"] for p in body["parameter"]]
    return answers


def _optional(item: dict[str, Any]) -> bool:
    return "$optional$" in item


def _same_issue(have: dict[str, Any], want: dict[str, Any]) -> bool:
    """Same severity, type, tx-issue-type, message id and expression; texts are each server's own."""
    return (all(have.get(key) == want.get(key) for key in ("severity", "code", "expression"))
            and have["details"].get("coding") == want["details"].get("coding")
            and [e["valueString"] for e in have.get("extension", [])]
            == [e["valueString"] for e in want.get("extension", [])])


def _sorted_issues(actual: dict[str, Any]) -> list[dict[str, Any]]:
    """The answer's issues in the order the HL7 runner compares them (TxTesterSorters: severity, type, expression,
    text), the order the expected files are stored in."""
    outcome = copy.deepcopy(value(actual, "issues") or {"issue": []})
    sort_operation_outcome(outcome)
    return list(outcome["issue"])


def assert_hl7_shape(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert actual["resourceType"] == expected["resourceType"], (actual, expected)
    if expected["resourceType"] == "OperationOutcome":
        [have], [want] = actual["issue"], expected["issue"]
        choices = want["code"].strip("$").removeprefix("choice:").split("|")
        assert have["severity"] == want["severity"] and have["code"] in choices, have
        return
    expected_names = [p["name"] for p in expected["parameter"]]
    got = names(actual)
    assert [n for n in expected_names if n in got] == got, (got, expected_names)
    assert {p["name"] for p in expected["parameter"] if not _optional(p)} <= set(got), (got, expected_names)
    for name in ("code", "display", "result", "inactive", "status", "system", "version"):
        want = next((p for p in expected["parameter"] if p["name"] == name), None)
        if want is not None and name in got:
            assert value(actual, name) == next(v for k, v in want.items() if k.startswith("value")), name
    found = _sorted_issues(actual)
    for want in (value(expected, "issues") or {"issue": []})["issue"]:
        if found and _same_issue(found[0], want):
            found.pop(0)
        else:
            assert _optional(want), (want, found)
    assert not found, f"issues the HL7 tests do not expect: {found}"


HL7_VALIDATIONS = [
    ("batch-validate", 0, None),
    ("batch-validate", 1, None),
    ("batch-validate", 2, None),
    ("batch-validate-bad", 0, None),
    ("batch-validate-bad", 1, None),
    ("batch-validate-bad", 2, None),
]


@pytest.mark.parametrize(("case", "index"), [
    pytest.param(case, index, marks=[pytest.mark.xfail(reason=why, strict=True)] if why else [])
    for case, index, why in HL7_VALIDATIONS], ids=[f"{case}-{index}" for case, index, _ in HL7_VALIDATIONS])
def test_matches_the_hl7_batch_test(hl7_answers, case, index):
    expected = [p["resource"] for p in _read(f"batch/{case}-response-bundle.json")["parameter"]]
    assert len(hl7_answers[case]) == len(expected)
    assert_hl7_shape(hl7_answers[case][index], expected[index])


@pytest.mark.parametrize("case", ["batch-validate", "batch-validate-bad"])
def test_the_hl7_batch_answers_as_single_calls(simple_app, hl7_answers, case):
    from termserver.services.batch import SubRequest, plan_batch_validation

    client = simple_app.test_client()
    planned = plan_batch_validation(hl7_request(case)["parameter"], "ValueSet")
    assert all(isinstance(p, SubRequest) for p in planned)
    singles = [check_response(client.post(p.path, json=p.body), None) for p in planned if isinstance(p, SubRequest)]
    assert hl7_answers[case] == singles
    # every call carries the request's tx-resources (the code system 'simple' is in no store)
    assert all(any(q["name"] == "tx-resource" for q in p.body["parameter"]) for p in planned
               if isinstance(p, SubRequest) and p.body)
