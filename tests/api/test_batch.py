"""``POST /fhir`` with a ``batch`` Bundle: every entry answered as the single call answers it, in order, each with its
own status; a bad entry gets its own 4xx and never fails the others."""
from __future__ import annotations

import re
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.api.fhir_check import FHIR_JSON, check_outcome, check_resource, check_response, value

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
BATCH = "/fhir"

LOOKUP_K86 = f"CodeSystem/$lookup?system={ICPC2_OID}&code=K86"
VALIDATE_K999 = f"CodeSystem/$validate-code?system={ICPC2_OID}&code=K999"
EXPAND_FILTER = f"ValueSet/$expand?url={ICPC2_OID}?fhir_vs&filter=hovedpine&count=5"


def parameters(**values: Any) -> dict[str, Any]:
    kinds = {"system": "valueUri", "code": "valueCode", "codeA": "valueCode", "codeB": "valueCode",
             "url": "valueUri"}
    return {"resourceType": "Parameters",
            "parameter": [{"name": name, kinds.get(name, "valueString"): v} for name, v in values.items()]}


def get(url: str) -> dict[str, Any]:
    return {"request": {"method": "GET", "url": url}}


def post(url: str, resource: dict[str, Any] | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"request": {"method": "POST", "url": url}}
    if resource is not None:
        entry["resource"] = resource
    return entry


def bundle(*entries: Any, kind: str = "batch") -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def check_batch_response(response: Any, count: int) -> list[tuple[str, dict[str, Any]]]:
    """A ``batch-response`` Bundle with ``count`` entries, each a status line and a resource that passes the FHIR
    checks; returns them as (status, resource)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == FHIR_JSON
    body = response.get_json()
    get_fhir_model_class("Bundle").parse_obj(body)
    assert body["resourceType"] == "Bundle" and body["type"] == "batch-response"
    assert "total" not in body  # bdl-1: total only in a searchset or history
    entries = body.get("entry", [])
    assert len(entries) == count
    out = []
    for entry in entries:
        status = entry["response"]["status"]
        assert re.fullmatch(r"[1-5]\d\d [A-Za-z ]+", status), status
        out.append((status, check_resource(entry["resource"])))
    return out


def batch(client, *entries: Any, **headers: str) -> list[tuple[str, dict[str, Any]]]:
    return check_batch_response(client.post(BATCH, json=bundle(*entries), headers=headers), len(entries))


def single(client, method: str, url: str, resource: dict[str, Any] | None = None, status: int = 200,
           **headers: str) -> dict[str, Any]:
    """The answer of the same request sent on its own."""
    path, _, query = url.partition("?")
    response = client.open(f"/fhir/{path}", method=method, query_string=query, json=resource, headers=headers)
    return check_response(response, status)


def without_expansion_stamp(value_set: dict[str, Any]) -> dict[str, Any]:
    """An expansion without its identifier and timestamp, which differ between any two calls."""
    expansion = {k: v for k, v in value_set["expansion"].items() if k not in ("identifier", "timestamp")}
    return {**value_set, "expansion": expansion}


# --- round trip -------------------------------------------------------------------------------------------------

def test_mixed_operations_in_order_with_a_bad_entry_in_the_middle(client):
    translate = parameters(system=SKS, code="DJ449")
    subsumes = parameters(system=SKS, codeA="DJ44", codeB="DJ449")
    answers = batch(client, get(LOOKUP_K86), get(VALIDATE_K999), post("ConceptMap/$translate", translate),
                    get("Patient/1"), get(EXPAND_FILTER), post("CodeSystem/$subsumes", subsumes))
    assert [status for status, _ in answers] == ["200 OK", "200 OK", "200 OK", "400 Bad Request", "200 OK",
                                                 "200 OK"]
    lookup, validation, translation, bad, expansion, subsumption = (resource for _, resource in answers)
    assert lookup == single(client, "GET", LOOKUP_K86)
    assert value(lookup, "display") == "Ukompliceret hypertension"
    assert validation == single(client, "GET", VALIDATE_K999)
    assert value(validation, "result") is False
    assert translation == single(client, "POST", "ConceptMap/$translate", translate)
    assert value(translation, "result") is True
    assert bad["issue"][0]["code"] == "not-supported"
    assert "Bundle.entry[3].request.url 'Patient/1'" in bad["issue"][0]["details"]["text"]
    assert bad["issue"][0]["expression"] == ["Bundle.entry[3].request.url"]
    assert without_expansion_stamp(expansion) == without_expansion_stamp(single(client, "GET", EXPAND_FILTER))
    assert expansion["expansion"]["contains"][0]["code"] == "N01"
    assert subsumption == single(client, "POST", "CodeSystem/$subsumes", subsumes)
    assert value(subsumption, "outcome") == "subsumes"


def test_get_and_post_entries_give_the_same_answer(client):
    answers = batch(client, get(LOOKUP_K86), post("CodeSystem/$lookup", parameters(system=ICPC2_OID, code="K86")),
                    post(f"CodeSystem/$lookup?system={ICPC2_OID}&code=K86", None))
    assert answers[0] == answers[1] == answers[2]


def test_order_is_kept(client):
    codes = ["K86", "R95", "A01", "N01", "K87", "T90", "L84", "P76"]
    answers = batch(client, *(get(f"CodeSystem/$lookup?system={ICPC2}&code={code}") for code in codes))
    assert [value(resource, "code") for _, resource in answers] == codes


def test_an_operation_error_is_that_entry_alone(client):
    unknown = f"CodeSystem/$lookup?system={ICPC2_OID}&code=K999"
    answers = batch(client, get(LOOKUP_K86), get(unknown), post("ValueSet/$expand", {"resourceType": "Patient"}),
                    get(LOOKUP_K86))
    assert [status for status, _ in answers] == ["200 OK", "404 Not Found", "400 Bad Request", "200 OK"]
    assert answers[1][1] == single(client, "GET", unknown, status=404)
    assert "Code 'K999' not found" in answers[1][1]["issue"][0]["details"]["text"]
    assert answers[2][1] == single(client, "POST", "ValueSet/$expand", {"resourceType": "Patient"}, status=400)
    assert answers[0] == answers[3]


def test_an_unexpected_failure_is_that_entry_alone(client, monkeypatch):
    from termserver.services import codesystems

    real = codesystems.lookup_code

    def broken_for_k87(ctx: Any, request: Any) -> Any:
        if request.code == "K87":
            raise RuntimeError("database on fire")
        return real(ctx, request)

    monkeypatch.setattr(codesystems, "lookup_code", broken_for_k87)
    answers = batch(client, get(LOOKUP_K86), get(f"CodeSystem/$lookup?system={ICPC2}&code=K87"), get(LOOKUP_K86))
    assert [status for status, _ in answers] == ["200 OK", "500 Internal Server Error", "200 OK"]
    assert answers[1][1]["issue"][0]["code"] == "exception"
    assert "on fire" not in answers[1][1]["issue"][0]["details"]["text"]


def test_accept_language_reaches_every_entry(client):
    [(_, english)] = batch(client, get(LOOKUP_K86), **{"Accept-Language": "en"})
    assert english == single(client, "GET", LOOKUP_K86, **{"Accept-Language": "en"})
    assert value(english, "display") == "Hypertension uncomplicated"


@pytest.mark.parametrize("url", [
    LOOKUP_K86,
    f"/fhir/{LOOKUP_K86}",
    f"http://localhost/fhir/{LOOKUP_K86}",
    f"https://localhost/fhir/{LOOKUP_K86}",
    LOOKUP_K86.replace("$", "%24"),
    "CodeSystem/icpc-2-7.0/$lookup?code=K86",
], ids=["relative", "absolute-path", "absolute-url", "absolute-https", "percent-encoded", "instance"])
def test_url_forms(client, url):
    [(status, resource)] = batch(client, get(url))
    assert status == "200 OK"
    assert value(resource, "display") == "Ukompliceret hypertension"


def test_absolute_full_url_is_accepted(client):
    entry = {"fullUrl": "http://localhost/fhir/Parameters/lookup-k86", **post(
        "CodeSystem/$lookup", parameters(system=ICPC2_OID, code="K86"))}
    [(status, resource)] = batch(client, entry)
    assert (status, resource) == ("200 OK", single(client, "GET", LOOKUP_K86))


def test_empty_batch(client):
    response = client.post(BATCH, json=bundle())
    assert check_batch_response(response, 0) == []
    assert check_batch_response(client.post(BATCH, json={"resourceType": "Bundle", "type": "batch"}), 0) == []


# --- bad entries: each its own 4xx, naming the entry ------------------------------------------------------------

BAD_ENTRIES = [
    ("not-an-object", "K86", "400 Bad Request", "invalid", ["Bundle.entry[1]", "request"]),
    ("no-request", {"resource": parameters(code="K86")}, "400 Bad Request", "invalid",
     ["Bundle.entry[1].request is missing"]),
    ("no-method", {"request": {"url": LOOKUP_K86}}, "400 Bad Request", "invalid",
     ["Bundle.entry[1].request.method"]),
    ("put", {"request": {"method": "PUT", "url": LOOKUP_K86}}, "405 Method Not Allowed", "not-supported",
     ["Bundle.entry[1].request.method 'PUT'", "GET or POST"]),
    ("no-url", {"request": {"method": "GET"}}, "400 Bad Request", "invalid", ["Bundle.entry[1].request.url"]),
    ("patient", get("Patient/1"), "400 Bad Request", "not-supported",
     ["Bundle.entry[1].request.url 'Patient/1'", "CodeSystem: $lookup"]),
    ("other-host", get(f"https://tx.fhir.org/r4/{LOOKUP_K86}"), "400 Bad Request", "not-supported",
     ["Bundle.entry[1].request.url", "tx.fhir.org", "not on this server"]),
    ("not-fhir-base", get("http://localhost/api/search?q=hoste"), "400 Bad Request", "not-supported",
     ["Bundle.entry[1].request.url", "not on this server"]),
    ("operation-not-offered", get(f"CodeSystem/$expand?system={ICPC2}"), "400 Bad Request", "not-supported",
     ["Bundle.entry[1].request.url 'CodeSystem/$expand", "ValueSet: $expand"]),
    ("read", get("CodeSystem/icpc-2-7.0"), "400 Bad Request", "not-supported", ["'CodeSystem/icpc-2-7.0'"]),
    ("nested-batch", post("ValueSet/$batch-validate-code", parameters(url=ICPC2)), "400 Bad Request",
     "not-supported", ["ValueSet/$batch-validate-code"]),
    ("get-with-resource", {**get(LOOKUP_K86), "resource": parameters(code="K86")}, "400 Bad Request", "invalid",
     ["Bundle.entry[1].resource", "POST"]),
    ("resource-not-an-object", {"request": {"method": "POST", "url": "CodeSystem/$lookup"}, "resource": "K86"},
     "400 Bad Request", "invalid", ["Bundle.entry[1].resource"]),
]


@pytest.mark.parametrize(("entry", "status", "issue_code", "mentions"), [case[1:] for case in BAD_ENTRIES],
                         ids=[case[0] for case in BAD_ENTRIES])
def test_a_bad_entry_gets_its_own_error(client, entry, status, issue_code, mentions):
    answers = batch(client, get(LOOKUP_K86), entry, get(VALIDATE_K999))
    assert [s for s, _ in answers] == ["200 OK", status, "200 OK"]
    outcome = answers[1][1]
    assert outcome["resourceType"] == "OperationOutcome"
    issue = outcome["issue"][0]
    assert (issue["severity"], issue["code"]) == ("error", issue_code)
    for fragment in mentions:
        assert fragment in issue["details"]["text"], (fragment, issue["details"]["text"])
    assert answers[0][1] == single(client, "GET", LOOKUP_K86)


# --- a body that is not a batch: the whole request is a 4xx ---------------------------------------------------

BAD_BUNDLES = [
    ("parameters", parameters(code="K86"), 400, "invalid", ["Bundle", "not a Parameters", "/fhir/CodeSystem/$lookup"]),
    ("no-resource-type", {"type": "batch", "entry": []}, 400, "invalid", ["Bundle.resourceType is missing"]),
    ("transaction", bundle(get(LOOKUP_K86), kind="transaction"), 400, "not-supported",
     ["Bundle.type 'transaction' is not supported", "'batch'"]),
    ("collection", bundle(get(LOOKUP_K86), kind="collection"), 400, "invalid",
     ["Bundle.type must be 'batch', not 'collection'"]),
    ("no-type", {"resourceType": "Bundle", "entry": [get(LOOKUP_K86)]}, 400, "invalid",
     ["Bundle.type must be 'batch', not missing"]),
    ("entry-not-a-list", {"resourceType": "Bundle", "type": "batch", "entry": get(LOOKUP_K86)}, 400, "invalid",
     ["Bundle.entry must be a list"]),
    ("too-many", bundle(*[get(LOOKUP_K86)] * 101), 400, "too-costly", ["101 entries", "(100)", "split"]),
]


@pytest.mark.parametrize(("body", "status", "issue_code", "mentions"), [case[1:] for case in BAD_BUNDLES],
                         ids=[case[0] for case in BAD_BUNDLES])
def test_a_body_that_is_not_a_batch(client, body, status, issue_code, mentions):
    check_outcome(client.post(BATCH, json=body), status, issue_code, mentions)


def test_the_limit_is_the_module_constant(client):
    from termserver.services.batch import MAX_BATCH_ENTRIES

    check_batch_response(client.post(BATCH, json=bundle(*[get(LOOKUP_K86)] * MAX_BATCH_ENTRIES)),
                         MAX_BATCH_ENTRIES)


@pytest.mark.parametrize(("data", "content_type", "status", "issue_code", "mentions"), [
    ("", "application/fhir+json", 400, "invalid", ["needs a body", "Bundle"]),
    ('{"resourceType": "Bundle", ', "application/fhir+json", 400, "invalid", ["Malformed JSON"]),
    ("<Bundle/>", "application/fhir+xml", 400, "not-supported", ["application/fhir+xml"]),
])
def test_unreadable_bodies(client, data, content_type, status, issue_code, mentions):
    check_outcome(client.post(BATCH, data=data, content_type=content_type), status, issue_code, mentions)


def test_get_is_not_allowed(client):
    response = client.get(BATCH)
    check_outcome(response, 405, "not-supported", ["GET", "/fhir"])
    assert response.headers["Allow"].replace(" ", "").split(",").count("POST") == 1
