"""CodeSystem/$subsumes over the SKS, WHO ICD-10 and ICPC-2 hierarchies, in every request form."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.fhir_check import check_outcome, check_response, value

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SKS = "urn:oid:1.2.208.176.2.4.12"
SUBSUMES = "/fhir/CodeSystem/$subsumes"

CASES = [
    (SKS, "DJ44", "DJ449", "subsumes"),
    (SKS, "DJ449", "DJ44", "subsumed-by"),
    (SKS, "DJ44", "DJ44", "equivalent"),
    (SKS, "DJ44", "DI10", "not-subsumed"),
    (SKS, "DJ449", "DJ440", "not-subsumed"),  # siblings
    (SKS, "D", "DJ449", "subsumes"),          # through more than one level
    (ICD10, "J44", "J44.9", "subsumes"),
    (ICD10, "J44.9", "I10", "not-subsumed"),
    (ICPC2_OID, "K", "K86", "subsumes"),
    (ICPC2, "K86", "K", "subsumed-by"),
    (ICPC2, "K86", "K87", "not-subsumed"),
]


def outcome(response: Any) -> str:
    return value(check_response(response, 200, "Parameters"), "outcome")


@pytest.mark.parametrize(("system", "code_a", "code_b", "expected"), CASES)
def test_get(client, system, code_a, code_b, expected):
    assert outcome(client.get(SUBSUMES, query_string={"system": system, "codeA": code_a, "codeB": code_b})) \
        == expected


@pytest.mark.parametrize(("system", "code_a", "code_b", "expected"), CASES[:4])
def test_post_codes_and_codings(client, system, code_a, code_b, expected):
    def post(*parameters: dict[str, Any]) -> str:
        return outcome(client.post(SUBSUMES, json={"resourceType": "Parameters", "parameter": list(parameters)}))

    assert post({"name": "system", "valueUri": system}, {"name": "codeA", "valueCode": code_a},
                {"name": "codeB", "valueCode": code_b}) == expected
    assert post({"name": "codingA", "valueCoding": {"system": system, "code": code_a}},
                {"name": "codingB", "valueCoding": {"system": system, "code": code_b}}) == expected


def test_instance_form(client):
    bundle = check_response(client.get("/fhir/CodeSystem", query_string={"url": SKS}), 200, "Bundle")
    resource_id = bundle["entry"][0]["resource"]["id"]
    response = client.get(f"/fhir/CodeSystem/{resource_id}/$subsumes", query_string={"codeA": "DJ44",
                                                                                     "codeB": "DJ449"})
    assert outcome(response) == "subsumes"


@pytest.mark.parametrize(("params", "status", "mentions"), [
    ({"system": SKS, "codeA": "DJ44", "codeB": "DX999999"}, 404, ["'DX999999'", SKS]),
    ({"system": "http://example.org/unknown", "codeA": "A", "codeB": "B"}, 404, ["http://example.org/unknown"]),
    ({"system": SKS, "codeA": "DJ44"}, 400, ["codeB"]),
    ({"codeA": "DJ44", "codeB": "DJ449"}, 400, ["'system'"]),
    ({"codingA": f"{SKS}|DJ44", "codingB": f"{ICD10}|J44"}, 400, [SKS, ICD10]),
])
def test_bad_input_is_an_error(client, params, status, mentions):
    check_outcome(client.get(SUBSUMES, query_string=params), status, None, mentions)
