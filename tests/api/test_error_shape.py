"""Every error is an OperationOutcome with a 4xx status and a message that names the thing: walk every route with
bad input (missing parameters, unknown systems, codes, versions and ids, malformed bodies, wrong methods) and the
routes that do not exist. Never a 500."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.fhir_check import check_outcome, check_resource
from tests.api.fhir_check import check_response

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
UNKNOWN_SYSTEM = "http://example.org/fhir/CodeSystem/unknown"

# every route the app serves → the methods it accepts (besides HEAD and OPTIONS); test_route_table_is_complete
# keeps this in step with app.url_map, so a new route cannot escape the walk
ROUTES = {
    "/fhir/CodeSystem/$lookup": {"GET", "POST"},
    "/fhir/CodeSystem/<resource_id>/$lookup": {"GET", "POST"},
    "/fhir/CodeSystem/$validate-code": {"GET", "POST"},
    "/fhir/CodeSystem/<resource_id>/$validate-code": {"GET", "POST"},
    "/fhir/CodeSystem/$subsumes": {"GET", "POST"},
    "/fhir/CodeSystem/<resource_id>/$subsumes": {"GET", "POST"},
    "/fhir/CodeSystem": {"GET"},
    "/fhir/CodeSystem/<resource_id>": {"GET"},
    "/fhir/ValueSet/$expand": {"GET", "POST"},
    "/fhir/ValueSet/<resource_id>/$expand": {"GET", "POST"},
    "/fhir/ValueSet/$validate-code": {"GET", "POST"},
    "/fhir/ValueSet/<resource_id>/$validate-code": {"GET", "POST"},
    "/fhir/ValueSet": {"GET"},
    "/fhir/ValueSet/<resource_id>": {"GET"},
    "/fhir/ConceptMap/$translate": {"GET", "POST"},
    "/fhir/ConceptMap/<resource_id>/$translate": {"GET", "POST"},
    "/fhir/ConceptMap": {"GET"},
    "/fhir/ConceptMap/<resource_id>": {"GET"},
    "/fhir/metadata": {"GET"},
    "/fhir/$versions": {"GET", "POST"},
    "/fhir": {"POST"},  # batch Bundles (test_batch.py)
    "/fhir/ValueSet/$batch-validate-code": {"GET", "POST"},  # GET only to say it needs POST
    "/fhir/CodeSystem/$batch-validate-code": {"GET", "POST"},
    "/fhir/$validate-codes": {"GET", "POST"},  # whole-resource code check (test_validate_codes.py); GET says POST
    "/api/search": {"GET"},
    "/static/<path:filename>": {"GET"},  # Flask's own: the web pages' script and style sheet
    "/": {"GET"},  # the web pages (tests/web): HTML, their own errors shown on the page
    "/code/<key>/<path:code>": {"GET"},
    "/check": {"GET", "POST"},
    "/healthz": {"GET"},  # operations (test_health.py): no parameters, nothing to get wrong but the method
    "/readyz": {"GET"},
    "/metrics": {"GET"},
}
# a stored resource of each type (there are no stored value sets), and one that does not exist
KNOWN_IDS = {"CodeSystem": ["icpc-2-7.0", "no-such-id"], "ValueSet": ["no-such-id"],
             "ConceptMap": ["icpc2etoicd10-7.0", "no-such-id"]}


def concrete_paths(rule: str) -> list[str]:
    if "<path:filename>" in rule:
        return [rule.replace("<path:filename>", "termserver.css")]
    if "<key>" in rule:
        return [rule.replace("<key>", "icpc2").replace("<path:code>", "K86")]
    if "<resource_id>" not in rule:
        return [rule]
    kind = rule.split("/")[2]
    return [rule.replace("<resource_id>", resource_id) for resource_id in KNOWN_IDS[kind]]


NO_INPUTS = {"/fhir/$versions"}  # operations without any required input: no call of them is "missing" one
# routes that take no parameters at all, so no request to them is a bad one (only a wrong method)
NO_PARAMETERS = {"health.healthz", "health.readyz", "health.metrics"}
# HTML pages for people: their bad input is shown on the page (tests/web/test_pages.py), not as an OperationOutcome
WEB_PAGES = {"web.search_page", "web.code_page", "web.check_page"}
WEB_RULES = {"/", "/code/<key>/<path:code>", "/check"}


def paths_for(methods: set[str] | None = None, operations_only: bool = False) -> list[str]:
    """Concrete paths of the API's routes (not the web pages') that take ``methods``."""
    return [path for rule, allowed in ROUTES.items() if rule not in WEB_RULES if methods is None or methods <= allowed
            if not operations_only or ("$" in rule and rule not in NO_INPUTS) for path in concrete_paths(rule)]


def test_route_table_is_complete(app):
    served = {rule.rule: set(rule.methods) - {"HEAD", "OPTIONS"} for rule in app.url_map.iter_rules()}
    assert served == ROUTES


# --- wrong methods and unknown routes ---------------------------------------------------------------------------

WRONG_METHODS = [(rule, path, method) for rule, allowed in ROUTES.items() for path in concrete_paths(rule)
                 for method in ("DELETE", "PUT", "PATCH", "POST") if method not in allowed]


@pytest.mark.parametrize(("rule", "path", "method"), WRONG_METHODS, ids=[f"{m} {p}" for _, p, m in WRONG_METHODS])
def test_wrong_method(client, rule, path, method):
    response = client.open(path, method=method, json={"resourceType": "Parameters"})
    check_outcome(response, 405, "not-supported", [method, path])
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= ROUTES[rule]


@pytest.mark.parametrize("path", [
    "/fhir", "/fhir/", "/fhir/Patient", "/fhir/Patient/1", "/fhir/CodeSystem/icpc-2-7.0/concepts",
    "/fhir/CodeSystem/$lookup/K86", "/fhir/ValueSet/$expand/extra", "/fhir/metadata/terminology",
    "/fhir/CodeSystem/icpc-2-7.0/$expand", "/static/termserver.css",
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_route(client, path, method):
    if (method, path) == ("POST", "/fhir"):  # the batch endpoint since issue #4: no body is a bad request
        check_outcome(client.open(path, method=method), 400, "invalid", ["Bundle", "batch"])
        return
    response = client.open(path, method=method)
    if response.status_code == 405:  # a real route that does not take this method
        check_outcome(response, 405, "not-supported", [method, path])
    else:
        check_outcome(response, 404, "not-found", [path])


# --- missing parameters -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", paths_for(operations_only=True))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_operation_without_parameters(client, path, method):
    body = {"resourceType": "Parameters"} if method == "POST" else None
    response = client.open(path, method=method, json=body)
    if "no-such-id" in path:
        check_outcome(response, 404, "not-found", ["no-such-id"])
    else:
        check_outcome(response, 400, "invalid")


# --- malformed bodies on every route that takes a POST ----------------------------------------------------------

def parameters(*items: Any) -> str:
    return json.dumps({"resourceType": "Parameters", "parameter": list(items)})


BAD_BODIES = [
    ("truncated-json", '{"resourceType": "Parameters", "parameter": [', ["Malformed JSON", "line 1"]),
    ("not-json", "code=K86", ["Malformed JSON"]),
    ("json-array", "[]", ["JSON object", "Parameters"]),
    ("json-string", '"K86"', ["JSON object"]),
    ("no-resource-type", json.dumps({"parameter": []}), ["Parameters.resourceType"]),
    ("wrong-resource-type", json.dumps({"resourceType": "Patient", "id": "1"}), ["Parameters", "Patient"]),
    ("parameter-not-a-list", json.dumps({"resourceType": "Parameters", "parameter": {"name": "code"}}),
     ["Parameters.parameter"]),
    ("parameter-not-an-object", parameters("code"), ["Parameters.parameter[0]"]),
    ("parameter-without-name", parameters({"valueCode": "K86"}), ["Parameters.parameter[0].name"]),
    ("number-as-code", parameters({"name": "code", "valueCode": 86}), ["'code'", "valueCode", "JSON type"]),
    ("string-as-boolean", parameters({"name": "activeOnly", "valueBoolean": "yes"}), ["'activeOnly'", "valueBoolean"]),
    ("string-as-coding", parameters({"name": "coding", "valueCoding": f"{ICPC2}|K86"}), ["'coding'", "valueCoding"]),
    ("two-values", parameters({"name": "code", "valueCode": "K86", "valueString": "K86"}),
     ["'code'", "valueCode", "valueString"]),
    ("bad-part", parameters({"name": "property", "part": [{"valueCode": "inclusion"}]}), ["'property'", "part[0]"]),
    ("resource-not-an-object", parameters({"name": "valueSet", "resource": "all of ICPC-2"}),
     ["Parameters.parameter[0].resource"]),
]


@pytest.mark.parametrize("path", paths_for({"POST"}))
@pytest.mark.parametrize(("case", "body", "mentions"), BAD_BODIES, ids=[case for case, _, _ in BAD_BODIES])
def test_malformed_body(client, path, case, body, mentions):
    response = client.post(path, data=body, content_type="application/fhir+json")
    if path == "/fhir":  # the batch endpoint takes a Bundle, not a Parameters: its messages say so
        mentions = ["Malformed JSON"] if "Malformed JSON" in mentions else ["Bundle"]
    if (path, case) == ("/fhir/$validate-codes", "wrong-resource-type"):  # any resource is its input: a Patient
        check_response(response, 200, "OperationOutcome")  # is a resource to check, not a malformed Parameters
        return
    check_outcome(response, 400, "invalid", mentions)


@pytest.mark.parametrize("path", paths_for({"POST"}))
@pytest.mark.parametrize("content_type", ["application/fhir+xml", "text/plain"])
def test_unsupported_media_type(client, path, content_type):
    response = client.post(path, data="<Parameters xmlns=\"http://hl7.org/fhir\"/>", content_type=content_type)
    check_outcome(response, 400, "not-supported", [content_type])


# --- messages that name the thing -------------------------------------------------------------------------------

def post_json(*items: Any) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(items)}


BAD_REQUESTS = [
    # (id, method, path, query, json body, status, issue code, what the message must name)
    ("lookup-unknown-code", "GET", "/fhir/CodeSystem/$lookup", {"system": ICPC2, "code": "K999"}, None, 404,
     "not-found", [f"Code 'K999' not found in code system '{ICPC2}'"]),
    ("lookup-unknown-code-oid", "GET", "/fhir/CodeSystem/$lookup", {"system": ICPC2_OID, "code": "K999"}, None,
     404, "not-found", [f"Code 'K999' not found in code system '{ICPC2_OID}'", ICPC2, "7.0"]),
    ("lookup-unknown-system", "GET", "/fhir/CodeSystem/$lookup", {"system": UNKNOWN_SYSTEM, "code": "K86"}, None,
     404, "not-found", [f"Code system '{UNKNOWN_SYSTEM}'"]),
    ("lookup-unknown-version", "GET", "/fhir/CodeSystem/$lookup", {"system": ICPC2, "code": "K86",
                                                                   "version": "2.0"}, None, 404, "not-found",
     ["Version '2.0'", ICPC2, "loaded: 7.0"]),
    ("lookup-no-system", "GET", "/fhir/CodeSystem/$lookup", {"code": "K86"}, None, 400, "invalid", ["'system'"]),
    ("lookup-no-code", "GET", "/fhir/CodeSystem/$lookup", {"system": ICPC2}, None, 400, "invalid", ["'code'"]),
    ("search-no-q", "GET", "/api/search", {"system": ICPC2}, None, 400, "invalid", ["'q'"]),
    ("search-blank-q", "GET", "/api/search", {"q": "  "}, None, 400, "invalid", ["'q'"]),
    ("search-unknown-system", "GET", "/api/search", {"q": "hoste", "system": UNKNOWN_SYSTEM}, None, 404,
     "not-found", [f"Code system '{UNKNOWN_SYSTEM}'"]),
    ("search-bad-limit", "GET", "/api/search", {"q": "hoste", "limit": "many"}, None, 400, "invalid",
     ["'limit'", "many"]),
    ("search-limit-too-big", "GET", "/api/search", {"q": "hoste", "limit": "5000"}, None, 400, "invalid",
     ["'limit'", "200"]),
    ("lookup-code-twice", "GET", "/fhir/CodeSystem/$lookup", {"system": ICPC2, "code": ["K86", "K87"]}, None, 400,
     "invalid", ["'code'", "only once"]),
    ("lookup-code-and-coding", "POST", "/fhir/CodeSystem/$lookup", None, post_json(
        {"name": "code", "valueCode": "K86"}, {"name": "coding", "valueCoding": {"system": ICPC2, "code": "K86"}}),
     400, "invalid", ["'code'", "'coding'"]),
    ("lookup-coding-without-system", "GET", "/fhir/CodeSystem/$lookup", {"coding": "K86"}, None, 400, "invalid",
     ["'coding'", "system|code", "'K86'"]),
    ("lookup-coding-without-code", "GET", "/fhir/CodeSystem/$lookup", {"coding": f"{ICPC2}|"}, None, 400,
     "invalid", ["'coding'", ICPC2]),
    ("lookup-coding-wrong-types", "POST", "/fhir/CodeSystem/$lookup", None, post_json(
        {"name": "coding", "valueCoding": {"system": ICPC2, "code": 86}}), 400, "invalid", ["coding.code"]),
    ("lookup-nul", "GET", "/fhir/CodeSystem/$lookup", {"system": ICPC2, "code": "K8\x006"}, None, 400, "invalid",
     ["'code'", "NUL"]),
    ("lookup-instance-unknown-id", "GET", "/fhir/CodeSystem/no-such-id/$lookup", {"code": "K86"}, None, 404,
     "not-found", ["CodeSystem/no-such-id"]),
    ("lookup-instance-other-system", "POST", "/fhir/CodeSystem/icpc-2-7.0/$lookup", None, post_json(
        {"name": "coding", "valueCoding": {"system": SKS, "code": "DJ449"}}), 400, "invalid", [SKS, ICPC2]),
    ("validate-no-code", "GET", "/fhir/CodeSystem/$validate-code", {"system": ICPC2}, None, 400, "invalid",
     ["coding", "codeableConcept", "code+system"]),  # tx.fhir.org's text names the inputs so
    ("validate-codeable-concept-in-url", "GET", "/fhir/CodeSystem/$validate-code", {"codeableConcept": "K86"},
     None, 400, "invalid", ["'codeableConcept'"]),
    ("validate-vs-no-url", "GET", "/fhir/ValueSet/$validate-code", {"system": ICPC2, "code": "K86"}, None, 400,
     "invalid", ["'url'", "'valueSet'"]),
    ("validate-vs-unknown", "GET", "/fhir/ValueSet/$validate-code", {
        "url": "http://example.org/fhir/ValueSet/none", "system": ICPC2, "code": "K86"}, None, 404, "not-found",
     ["http://example.org/fhir/ValueSet/none"]),
    ("validate-vs-instance-unknown-id", "GET", "/fhir/ValueSet/no-such-id/$validate-code", {
        "system": ICPC2, "code": "K86"}, None, 404, "not-found", ["ValueSet/no-such-id"]),
    ("validate-vs-not-a-value-set", "POST", "/fhir/ValueSet/$validate-code", None, post_json(
        {"name": "valueSet", "resource": {"resourceType": "CodeSystem", "status": "active"}},
        {"name": "system", "valueUri": ICPC2}, {"name": "code", "valueCode": "K86"}), 400, "invalid",
     ["'valueSet'", "ValueSet"]),
    ("expand-no-url", "GET", "/fhir/ValueSet/$expand", {"filter": "hovedpine"}, None, 400, "invalid",
     ["'url'", "'valueSet'"]),
    ("expand-unknown-url", "GET", "/fhir/ValueSet/$expand", {"url": "http://example.org/fhir/ValueSet/none"}, None,
     404, "not-found", ["http://example.org/fhir/ValueSet/none"]),
    ("expand-unknown-system", "GET", "/fhir/ValueSet/$expand", {"url": f"{UNKNOWN_SYSTEM}?fhir_vs"}, None, 404,
     "not-found", [UNKNOWN_SYSTEM]),
    ("expand-unknown-version", "GET", "/fhir/ValueSet/$expand", {"url": f"{ICPC2}?fhir_vs|2.0"}, None, 404,
     "not-found", ["'2.0'", ICPC2]),
    ("expand-unsupported-implicit", "GET", "/fhir/ValueSet/$expand", {"url": f"{ICPC2}?fhir_vs=refset/K"}, None,
     400, "not-supported", ["?fhir_vs=refset/K"]),
    ("expand-count-not-a-number", "GET", "/fhir/ValueSet/$expand", {"url": f"{ICPC2}?fhir_vs", "count": "ten"},
     None, 400, "invalid", ["'count'", "'ten'"]),
    ("expand-negative-offset", "GET", "/fhir/ValueSet/$expand", {"url": f"{ICPC2}?fhir_vs", "offset": "-5"}, None,
     400, "invalid", ["'offset'", "negative"]),
    ("expand-count-decimal", "POST", "/fhir/ValueSet/$expand", None, post_json(
        {"name": "url", "valueUri": f"{ICPC2}?fhir_vs"}, {"name": "count", "valueDecimal": 2.5}), 400, "invalid",
     ["'count'", "2.5"]),
    ("expand-active-only-not-boolean", "GET", "/fhir/ValueSet/$expand", {"url": f"{ICPC2}?fhir_vs",
                                                                         "activeOnly": "ja"}, None, 400, "invalid",
     ["'activeOnly'", "'ja'"]),
    ("expand-system-version", "GET", "/fhir/ValueSet/$expand", {"url": f"{ICPC2}?fhir_vs",
                                                                "system-version": "7.0"}, None, 400, "invalid",
     ["'system-version'", "system|version"]),
    ("expand-value-set-in-url", "GET", "/fhir/ValueSet/$expand", {"valueSet": "{}"}, None, 400, "invalid",
     ["'valueSet'", "POST"]),
    ("expand-url-and-value-set", "POST", "/fhir/ValueSet/$expand", None, post_json(
        {"name": "url", "valueUri": f"{ICPC2}?fhir_vs"},
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "status": "active"}}), 400, "invalid",
     ["'url'", "'valueSet'"]),
    ("expand-value-set-without-compose", "POST", "/fhir/ValueSet/$expand", None, post_json(
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "status": "active"}}), 400, "invalid",
     ["compose.include"]),
    ("expand-broken-filter", "POST", "/fhir/ValueSet/$expand", None, post_json(
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "status": "active", "compose": {
            "include": [{"system": ICPC2, "filter": [{"property": "concept", "op": "is-a"}]}]}}}), 400, "invalid",
     ["ValueSet.compose.include[0].filter[0]"]),
    ("expand-unsupported-filter", "POST", "/fhir/ValueSet/$expand", None, post_json(
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "status": "active", "compose": {
            "include": [{"system": ICPC2, "filter": [{"property": "concept", "op": "child-of", "value": "K"}]}]}}}),
     400, "not-supported", ["'child-of'", "ValueSet.compose.include[0].filter[0]"]),
    ("expand-too-costly", "GET", "/fhir/ValueSet/$expand", {"url": f"{SKS}?fhir_vs"}, None, 400, "too-costly",
     [f"{SKS}?fhir_vs", "24979"]),
    ("translate-no-system", "GET", "/fhir/ConceptMap/$translate", {"code": "K86"}, None, 400, "invalid",
     ["'system'", "'code'"]),
    ("translate-unknown-code", "GET", "/fhir/ConceptMap/$translate", {"system": ICPC2, "code": "K999"}, None, 404,
     "not-found", [f"Code 'K999' not found in code system '{ICPC2}'"]),
    ("translate-unknown-map", "GET", "/fhir/ConceptMap/no-such-id/$translate", {"system": ICPC2, "code": "K86"},
     None, 404, "not-found", ["ConceptMap/no-such-id"]),
    ("subsumes-unknown-code", "GET", "/fhir/CodeSystem/$subsumes", {"system": SKS, "codeA": "DJ44",
                                                                    "codeB": "DJ4499"}, None, 404, "not-found",
     ["'DJ4499'", SKS]),
    ("subsumes-two-systems", "POST", "/fhir/CodeSystem/$subsumes", None, post_json(
        {"name": "codingA", "valueCoding": {"system": SKS, "code": "DJ44"}},
        {"name": "codingB", "valueCoding": {"system": ICPC2, "code": "R95"}}), 400, "invalid", [SKS, ICPC2]),
    ("versions-not-parameters", "POST", "/fhir/$versions", {}, {"resourceType": "Patient"}, 400, "invalid",
     ["Parameters", "Patient"]),
    ("metadata-unknown-mode", "GET", "/fhir/metadata", {"mode": "full-please"}, None, 400, "invalid",
     ["'full-please'"]),
    ("read-unknown-code-system", "GET", "/fhir/CodeSystem/no-such-id", None, None, 404, "not-found",
     ["CodeSystem/no-such-id"]),
    ("read-unknown-concept-map", "GET", "/fhir/ConceptMap/no-such-id", None, None, 404, "not-found",
     ["ConceptMap/no-such-id"]),
    ("read-unknown-value-set", "GET", "/fhir/ValueSet/no-such-id", None, None, 404, "not-found",
     ["ValueSet/no-such-id"]),
    ("read-bad-summary", "GET", "/fhir/CodeSystem/icpc-2-7.0", {"_summary": "maybe"}, None, 400, "invalid",
     ["'_summary'", "'maybe'"]),
    ("read-map-bad-summary", "GET", "/fhir/ConceptMap/icpc2etoicd10-7.0", {"_summary": "all"}, None, 400,
     "invalid", ["'_summary'", "'all'"]),
    ("batch-parameters-not-bundle", "POST", "/fhir", None, post_json({"name": "code", "valueCode": "K86"}), 400,
     "invalid", ["Bundle", "'batch'", "not a Parameters", "/fhir/CodeSystem/$lookup"]),
    ("batch-transaction", "POST", "/fhir", None, {"resourceType": "Bundle", "type": "transaction"}, 400,
     "not-supported", ["Bundle.type 'transaction' is not supported", "'batch'"]),
    ("batch-validate-vs-no-validation", "POST", "/fhir/ValueSet/$batch-validate-code", None, post_json(
        {"name": "url", "valueUri": f"{ICPC2}?fhir_vs"}), 400, "invalid", ["'validation'", "$validate-code"]),
    ("batch-validate-cs-validation-in-url", "GET", "/fhir/CodeSystem/$batch-validate-code", {"validation": "K86"},
     None, 400, "invalid", ["'validation'", "POST"]),
    ("validate-codes-not-a-resource", "POST", "/fhir/$validate-codes", None, {"code": "K86"}, 400, "invalid",
     ["no resourceType", "FHIR resource"]),
]


@pytest.mark.parametrize(("method", "path", "query", "body", "status", "issue_code", "mentions"),
                         [case[1:] for case in BAD_REQUESTS], ids=[case[0] for case in BAD_REQUESTS])
def test_message_names_the_thing(client, method, path, query, body, status, issue_code, mentions):
    response = client.open(path, method=method, query_string=query, json=body)
    check_outcome(response, status, issue_code, mentions)


def test_bad_requests_cover_every_route(app):
    adapter = app.url_map.bind("localhost")
    covered = {adapter.match(path, method)[0] for _, method, path, *_ in BAD_REQUESTS}
    expected = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static", "codesystem.search",
                                                                        "valueset.search", "conceptmap.search"} \
        - NO_PARAMETERS - WEB_PAGES
    assert expected <= covered, expected - covered


def test_error_issue_carries_tx_issue_type_and_location(client):
    response = client.post("/fhir/ValueSet/$expand", json=post_json({"name": "valueSet", "resource": {
        "resourceType": "ValueSet", "status": "active", "compose": {"include": [{"system": 7}]}}}))
    issue = check_outcome(response, 400, "invalid", ["ValueSet.compose.include[0].system"])
    assert issue["details"]["coding"] == [{"system": "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type",
                                           "code": "vs-invalid"}]
    assert issue["expression"] == ["ValueSet.compose.include[0].system"]


def test_an_unexpected_failure_is_still_an_operation_outcome(client, monkeypatch):
    from termserver.services import codesystems

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("database on fire: secret connection string")

    monkeypatch.setattr(codesystems, "lookup_code", broken)
    response = client.get("/fhir/CodeSystem/$lookup", query_string={"system": ICPC2, "code": "K86"})
    assert response.status_code == 500
    assert response.mimetype == "application/fhir+json"
    outcome = check_resource(response.get_json(), "OperationOutcome")
    [issue] = outcome["issue"]
    assert (issue["severity"], issue["code"]) == ("fatal", "exception")
    assert "secret" not in issue["details"]["text"]
