"""ConceptMap/$translate against the real maps: ICPC-2 → ICD-10 in WHO and SKS form, back again, and the SKS ↔ WHO
code-form rule."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.fhir_check import check_outcome, check_response, matches, parts, value

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SKS = "urn:oid:1.2.208.176.2.4.12"
WICC_MAP = "https://termserver.dk/fhir/ConceptMap/icpc2e-icd10"
DK_MAP = "http://hl7.dk/fhir/core/ConceptMap/icpc2-icd10"
CODE_FORM_RULE = "urn:termserver:rule:sks-who-code-form"
TRANSLATE = "/fhir/ConceptMap/$translate"


def translate(client, **params: Any) -> dict[str, Any]:
    return check_response(client.get(TRANSLATE, query_string=params), 200, "Parameters")


def post(client, path: str, *parameters: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json={"resourceType": "Parameters", "parameter": list(parameters)},
                           content_type="application/fhir+json")
    return check_response(response, 200, "Parameters")


def targets(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {(system, code) for system, code, _ in matches(body)}


@pytest.mark.parametrize("system", [ICPC2_OID, ICPC2])
def test_k86_to_icd10_in_who_and_sks_form(client, system):
    body = translate(client, system=system, code="K86")
    assert value(body, "result") is True
    assert {(ICD10, "I10"), (SKS, "DI10")} <= targets(body)
    found = {(m["concept"]["system"], m["concept"]["code"]): m for m in parts(body, "match")}
    who = found[(ICD10, "I10")]
    assert who["equivalence"] == "equivalent"
    assert who["concept"]["display"] == "Essential (primary) hypertension"
    assert who["concept"]["version"] == "2019"
    assert who["originMap"] == f"{WICC_MAP}|7.0"
    assert found[(SKS, "DI10")]["concept"]["display"] == "Blodtryksforhøjelse af ukendt årsag"


@pytest.mark.parametrize(("target", "expected"), [(ICD10, "I10"), (SKS, "DI10")])
def test_targetsystem_keeps_one_form(client, target, expected):
    body = translate(client, system=ICPC2_OID, code="K86", targetsystem=target)
    assert value(body, "result") is True
    assert {system for system, _, _ in matches(body)} == {target}
    assert (target, expected) in targets(body)


@pytest.mark.parametrize(("params", "expected", "display", "equivalence"), [
    ({"system": ICD10, "code": "I10", "reverse": "true"}, "K86", "Ukompliceret hypertension", "equivalent"),
    ({"system": SKS, "code": "DI10", "targetsystem": ICPC2}, "K86", "Ukompliceret hypertension", "equivalent"),
    ({"system": SKS, "code": "DI10", "targetsystem": ICPC2, "reverse": "true"}, "K86", "Ukompliceret hypertension",
     "equivalent"),
    # the Danish map has R95 → J44.9 as narrower, so back from J44.9 the ICPC-2 rubric is wider
    ({"system": SKS, "code": "DJ449", "targetsystem": ICPC2}, "R95", "Kronisk obstruktiv lungesygdom", "wider"),
])
def test_back_to_icpc2(client, params, expected, display, equivalence):
    body = translate(client, **params)
    assert value(body, "result") is True
    assert {system for system, _, _ in matches(body)} == {ICPC2}
    match = next(m for m in parts(body, "match") if m["concept"]["code"] == expected)
    assert match["equivalence"] == equivalence
    assert match["concept"]["display"] == display


def test_danish_extension_goes_through_its_nearest_who_ancestor(client):
    body = translate(client, system=SKS, code="DE115A", targetsystem=ICPC2)
    assert value(body, "result") is True
    assert all(eq == "wider" for _, _, eq in matches(body))
    assert (ICPC2, "T90") in targets(body)


@pytest.mark.parametrize(("source", "code", "target", "expected"), [
    (SKS, "DJ449", ICD10, "J44.9"),
    (ICD10, "J44.9", SKS, "DJ449"),
    (SKS, "DI10", ICD10, "I10"),
    (ICD10, "E11", SKS, "DE11"),
])
def test_sks_and_who_code_forms(client, source, code, target, expected):
    body = translate(client, system=source, code=code, targetsystem=target)
    assert value(body, "result") is True
    [match] = parts(body, "match")
    assert (match["concept"]["system"], match["concept"]["code"]) == (target, expected)
    assert match["equivalence"] == "equivalent"
    assert match["originMap"] == CODE_FORM_RULE


def test_post_forms_agree_with_get(client):
    reference = translate(client, system=ICPC2_OID, code="K86")
    coding = {"system": ICPC2_OID, "code": "K86"}
    for body in (
        post(client, TRANSLATE, {"name": "system", "valueUri": ICPC2_OID}, {"name": "code", "valueCode": "K86"}),
        post(client, TRANSLATE, {"name": "coding", "valueCoding": coding}),
        post(client, TRANSLATE, {"name": "codeableConcept", "valueCodeableConcept": {"coding": [coding]}}),
        check_response(client.get(TRANSLATE, query_string={"coding": f"{ICPC2_OID}|K86"}), 200, "Parameters"),
    ):
        assert body == reference


def test_one_named_map(client):
    for body in (translate(client, system=ICPC2, code="K86", url=WICC_MAP),
                 translate(client, system=ICPC2, code="K86", url=f"{WICC_MAP}|7.0")):
        assert {m["originMap"] for m in parts(body, "match")} == {f"{WICC_MAP}|7.0"}
        assert targets(body) == {(ICD10, "I10"), (SKS, "DI10")}


def test_instance_form(client):
    bundle = check_response(client.get("/fhir/ConceptMap", query_string={"url": WICC_MAP}), 200, "Bundle")
    resource_id = bundle["entry"][0]["resource"]["id"]
    body = check_response(client.get(f"/fhir/ConceptMap/{resource_id}/$translate",
                                     query_string={"system": ICPC2, "code": "K86"}), 200, "Parameters")
    assert targets(body) == {(ICD10, "I10"), (SKS, "DI10")}
    other = check_response(client.get("/fhir/ConceptMap", query_string={"url": DK_MAP}), 200, "Bundle")
    dk = check_response(client.post(f"/fhir/ConceptMap/{other['entry'][0]['resource']['id']}/$translate",
                                    json={"resourceType": "Parameters", "parameter": [
                                        {"name": "coding", "valueCoding": {"system": ICPC2, "code": "K86"}}]}),
                        200, "Parameters")
    assert {m["originMap"] for m in parts(dk, "match")} == {f"{DK_MAP}|2026-06-08"}


def test_source_and_target_scopes_choose_the_maps(client):
    both = translate(client, system=ICPC2, code="K86", source=ICPC2, target=ICD10)
    assert {m["originMap"] for m in parts(both, "match")} == {f"{WICC_MAP}|7.0", f"{DK_MAP}|2026-06-08"}
    none = translate(client, system=ICPC2, code="K86", target="http://example.org/fhir/ValueSet/other")
    assert value(none, "result") is False
    assert "http://example.org/fhir/ValueSet/other" in value(none, "message")


@pytest.mark.parametrize("system", ["urn:oid:1.2.208.176.2.1", "http://npu-terminology.org"])
def test_npu_to_ucum(client, system):
    body = translate(client, system=system, code="NPU03011")
    [match] = parts(body, "match")
    assert (match["concept"]["system"], match["concept"]["code"]) == ("http://unitsofmeasure.org", "%")
    assert match["equivalence"] == "specializes"


def test_no_translation_is_a_result_not_an_error(client):
    body = translate(client, system=ICPC2, code="K86", targetsystem="http://unitsofmeasure.org")
    assert value(body, "result") is False
    assert "match" not in [p["name"] for p in body["parameter"]]
    assert "'K86'" in value(body, "message") and "http://unitsofmeasure.org" in value(body, "message")


@pytest.mark.parametrize(("params", "status", "mentions"), [
    ({"system": ICPC2_OID, "code": "K999"}, 404, ["'K999'", ICPC2_OID]),
    ({"system": "http://example.org/unknown", "code": "X"}, 404, ["http://example.org/unknown"]),
    ({"system": ICPC2, "code": "K86", "version": "6.0"}, 404, ["'6.0'", ICPC2]),
    ({"system": ICPC2, "code": "K86", "url": "http://example.org/ConceptMap/none"}, 404,
     ["http://example.org/ConceptMap/none"]),
    ({"system": ICPC2, "code": "K86", "reverse": "maybe"}, 400, ["'reverse'", "maybe"]),
    ({"code": "K86"}, 400, ["'system'"]),
])
def test_bad_input_is_an_error(client, params, status, mentions):
    check_outcome(client.get(TRANSLATE, query_string=params), status, None, mentions)
