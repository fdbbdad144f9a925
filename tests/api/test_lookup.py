"""CodeSystem/$lookup against the real releases: ICPC-2, SKS, WHO ICD-10, NPU and MCS, under every URI they are sent
with, in every request form (GET, POST Parameters, coding, instance)."""
from __future__ import annotations

import pytest

from tests.api.fhir_check import check_outcome, check_response, designations, parts, properties, value

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
NPU = "urn:oid:1.2.208.176.2.1"
NPU_INTERNATIONAL = "http://npu-terminology.org"
MCS = "urn:oid:1.2.208.184.100.8"
MCS_IG = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-observation-codes"
MCS_LEGACY = "https://terminology.medcom.dk/fhir/observation-code"

LOOKUP = "/fhir/CodeSystem/$lookup"


def lookup(client, system: str, code: str, **params: str) -> dict:
    response = client.get(LOOKUP, query_string={"system": system, "code": code, **params})
    return check_response(response, 200, "Parameters")


def post_parameters(client, path: str, *parameters: dict) -> dict:
    response = client.post(path, json={"resourceType": "Parameters", "parameter": list(parameters)},
                           content_type="application/fhir+json")
    return check_response(response, 200, "Parameters")


def find_id(client, kind: str, url: str) -> str:
    bundle = check_response(client.get(f"/fhir/{kind}", query_string={"url": url}), 200, "Bundle")
    assert bundle["total"] == 1, bundle
    return bundle["entry"][0]["resource"]["id"]


@pytest.mark.parametrize("system", [ICPC2_OID, ICPC2])
def test_icpc2_k86_under_both_uris(client, system):
    body = lookup(client, system, "K86")
    assert value(body, "name") == "ICPC-2"
    assert value(body, "version") == "7.0"
    assert value(body, "code") == "K86"
    assert value(body, "system") == system
    assert value(body, "display") == "Ukompliceret hypertension"
    assert value(body, "abstract") is False
    english = [d["value"] for d in designations(body) if d.get("language") == "en"]
    assert "Hypertension uncomplicated" in english
    danish = [d["value"] for d in designations(body) if d.get("language") == "da" and "use" not in d]
    assert danish == ["Ukompliceret hypertension"]
    # the synonym lexicon's terms are designations too, marked with their use
    synonyms = [d["value"] for d in designations(body)
                if d.get("use", {}).get("code") == "synonym" and d.get("language") == "da"]
    assert "højt blodtryk" in synonyms
    inclusion = properties(body, "inclusion")
    assert len(inclusion) == 1
    assert "essential hypertension" in inclusion[0]["value"]
    assert "hypertension with complications K87" in properties(body, "exclusion")[0]["value"]
    assert [p["value"] for p in properties(body, "parent")] == ["K"]
    assert properties(body, "child") == []  # a rubric has no children
    assert properties(body, "inactive") == [{"code": "inactive", "value": False}]


def test_icpc2_chapter_lists_its_children(client):
    body = lookup(client, ICPC2_OID, "K")
    assert value(body, "display") == "Hjerte-kar"
    assert value(body, "abstract") is True
    assert properties(body, "parent") == []
    children = {p["value"]: p.get("description") for p in properties(body, "child")}
    assert {"K01", "K29", "K70", "K86", "K87", "K99"} <= set(children)
    assert all(code.startswith("K") for code in children)
    assert children["K86"] == "Hypertension uncomplicated"


@pytest.mark.parametrize(("params", "display"), [
    ({}, "Ukompliceret hypertension"),
    ({"displayLanguage": "da"}, "Ukompliceret hypertension"),
    ({"displayLanguage": "en"}, "Hypertension uncomplicated"),
    ({"displayLanguage": "en-GB"}, "Hypertension uncomplicated"),
    ({"displayLanguage": "sv"}, "Blodtryckssjukdom utan komplikationer"),
])
def test_display_language(client, params, display):
    assert value(lookup(client, ICPC2_OID, "K86", **params), "display") == display


def test_accept_language_header_chooses_the_display(client):
    response = client.get(LOOKUP, query_string={"system": ICPC2_OID, "code": "K86"},
                          headers={"Accept-Language": "en;q=0.9"})
    assert value(check_response(response, 200, "Parameters"), "display") == "Hypertension uncomplicated"


@pytest.mark.parametrize(("asked", "returned"), [
    ("inclusion", ["inclusion"]),
    ("parent,exclusion", ["parent", "exclusion"]),
])
def test_property_parameter_limits_the_properties(client, asked, returned):
    body = lookup(client, ICPC2, "K86", property=asked)
    assert [p["code"] for p in parts(body, "property")] == returned


def _without_system(body: dict) -> list:
    return [p for p in body["parameter"] if p["name"] != "system"]


def test_get_post_coding_and_instance_forms_agree(client):
    reference = lookup(client, ICPC2_OID, "K86")
    resource_id = find_id(client, "CodeSystem", ICPC2_OID)
    assert resource_id == find_id(client, "CodeSystem", ICPC2)
    coding = {"system": ICPC2_OID, "code": "K86"}
    same = [
        check_response(client.get(LOOKUP, query_string={"coding": f"{ICPC2_OID}|K86"}), 200, "Parameters"),
        post_parameters(client, LOOKUP, {"name": "system", "valueUri": ICPC2_OID},
                        {"name": "code", "valueCode": "K86"}),
        post_parameters(client, LOOKUP, {"name": "coding", "valueCoding": coding}),
        check_response(client.post(LOOKUP, data={"system": ICPC2_OID, "code": "K86"}), 200, "Parameters"),
    ]
    for body in same:
        assert body == reference
    instance = [
        check_response(client.get(f"/fhir/CodeSystem/{resource_id}/$lookup?code=K86"), 200, "Parameters"),
        post_parameters(client, f"/fhir/CodeSystem/{resource_id}/$lookup", {"name": "code", "valueCode": "K86"}),
    ]
    for body in instance:
        assert value(body, "system") == ICPC2  # the instance's own canonical URL
        assert _without_system(body) == _without_system(reference)


def test_version_pin(client):
    assert value(lookup(client, ICPC2, "K86", version="7.0"), "version") == "7.0"
    response = client.get(LOOKUP, query_string={"system": ICPC2, "code": "K86", "version": "6.0"})
    check_outcome(response, 404, "not-found", ["'6.0'", ICPC2, "7.0"])


def test_sks_dj449(client):
    body = lookup(client, SKS, "DJ449")
    assert value(body, "display") == "Kronisk obstruktiv lungesygdom UNS"
    assert value(body, "system") == SKS
    parents = properties(body, "parent")
    assert [(p["value"], p["description"]) for p in parents] == [("DJ44", "Kronisk obstruktiv lungesygdom")]
    children = {p["value"] for p in properties(lookup(client, SKS, "DJ44"), "child")}
    assert {"DJ440", "DJ441", "DJ448", "DJ449"} <= children


def test_who_icd10_j449_english_display_with_danish_designation(client):
    body = lookup(client, ICD10, "J44.9")
    assert value(body, "display") == "Chronic obstructive pulmonary disease, unspecified"
    assert value(body, "version") == "2019"
    danish = [d["value"] for d in designations(body) if d.get("language") == "da"]
    assert danish == ["Kronisk obstruktiv lungesygdom UNS"]
    assert [p["value"] for p in properties(body, "parent")] == ["J44"]
    danish_display = lookup(client, ICD10, "J44.9", displayLanguage="da")
    assert value(danish_display, "display") == "Kronisk obstruktiv lungesygdom UNS"


@pytest.mark.parametrize("system", [NPU, NPU_INTERNATIONAL])
@pytest.mark.parametrize(("code", "display", "english", "consumer"), [
    ("NPU03011", "Hb(Fe; O2-bind.; aB)—Oxygen(O2); mætn. = ?", "Hb(Fe; O2-bind.; aB)—Oxygen(O2); sat. = ?",
     "Iltmætning"),
    ("NPU19748", "P—C-reaktivt protein; massek. = ? mg/L", "P—C-reactive protein; mass c. = ? mg/L",
     "C-reaktivt protein"),
])
def test_npu(client, system, code, display, english, consumer):
    body = lookup(client, system, code)
    assert value(body, "name") == "NPU"
    assert value(body, "version") == "7280.77"
    assert value(body, "system") == system
    assert value(body, "display") == display
    found = designations(body)
    assert english in [d["value"] for d in found if d.get("language") == "en"]
    assert consumer in [d["value"] for d in found if d.get("use", {}).get("code") == "consumer"]
    assert properties(body, "inactive") == [{"code": "inactive", "value": False}]


def test_npu_retired_code_is_inactive(client):
    body = lookup(client, NPU, "NPU01360")
    assert properties(body, "inactive") == [{"code": "inactive", "value": True}]
    assert [p["value"] for p in properties(body, "status")] == ["retired"]


@pytest.mark.parametrize("system", [MCS, MCS_IG, MCS_LEGACY])
def test_mcs(client, system):
    body = lookup(client, system, "MCS88122")
    assert value(body, "version") == "1.0.0"
    assert value(body, "system") == system
    assert value(body, "display") == "Respirationsfrekvens;Pt"
    assert value(body, "definition") == "Pt—Respiration; frekvens = ? X 1/min"
    assert [p["value"] for p in properties(body, "phmr-unit")] == ["x1/min"]


def test_designations_name_the_supplement_they_come_from(client):
    """The Danish title comes from the Danish ICPC-2 supplement, which the answer names (designation.source and
    used-supplement, as tx.fhir.org does); the code system's own English display is a designation too."""
    response = client.get("/fhir/CodeSystem/$lookup", query_string={"system": "http://hl7.org/fhir/sid/icpc-2",
                                                                    "code": "K86"})
    parameters = check_response(response, 200, "Parameters")["parameter"]
    designations = [{part["name"]: next(v for k, v in part.items() if k.startswith("value")) for part in p["part"]}
                    for p in parameters if p["name"] == "designation"]
    danish = "http://hl7.dk/fhir/core/CodeSystem/icpc2E-DK"
    assert {"language": "da", "source": danish, "value": "Ukompliceret hypertension"} in designations
    assert designations[0] == {"language": "en", "value": "Hypertension uncomplicated", "use": {
        "system": "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra", "code": "preferredForLanguage",
        "display": "Preferred For Language"}}
    used = [p["valueCanonical"] for p in parameters if p["name"] == "used-supplement"]
    assert danish in used and "https://termserver.dk/fhir/CodeSystem/lexicon/synonyms-da" in used
