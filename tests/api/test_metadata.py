"""GET /fhir/metadata: the CapabilityStatement, and TerminologyCapabilities listing every loaded system."""
from __future__ import annotations

import re

import pytest

from tests.api.fhir_check import check_outcome, check_response

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SKS = "urn:oid:1.2.208.176.2.4.12"
NPU = "urn:oid:1.2.208.176.2.1"
MCS = "urn:oid:1.2.208.184.100.8"

# every loaded code system (canonical URI, then the aliases clients send) → its versions
LOADED = {
    ICPC2: ["7.0"], "urn:oid:1.2.208.176.2.31": ["7.0"],
    ICD10: ["2019"],
    SKS: [None],  # SKS is published without a version
    NPU: ["7280.77"], "http://npu-terminology.org": ["7280.77"],
    MCS: ["1.0.0"], "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-observation-codes": ["1.0.0"],
    "https://terminology.medcom.dk/fhir/observation-code": ["1.0.0"],
}


@pytest.fixture(scope="module")
def terminology(app):
    return check_response(app.test_client().get("/fhir/metadata?mode=terminology"), 200,
                          "TerminologyCapabilities")


def versions_by_uri(terminology):
    return {entry["uri"]: [v.get("code") for v in entry["version"]] for entry in terminology["codeSystem"]}


def test_capability_statement(client):
    statement = check_response(client.get("/fhir/metadata"), 200, "CapabilityStatement")
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["kind"] == "instance"
    assert "application/fhir+json" in statement["format"]
    assert statement["instantiates"] == ["http://hl7.org/fhir/CapabilityStatement/terminology-server"]
    [rest] = statement["rest"]
    operations = {(r["type"], o["name"]) for r in rest["resource"] for o in r["operation"]}
    assert operations == {("CodeSystem", "lookup"), ("CodeSystem", "validate-code"), ("CodeSystem", "subsumes"),
                          ("CodeSystem", "batch-validate-code"), ("ValueSet", "expand"),
                          ("ValueSet", "validate-code"), ("ValueSet", "batch-validate-code"),
                          ("ConceptMap", "translate")}
    assert rest["interaction"] == [{"code": "batch"}]
    for resource in rest["resource"]:
        assert {i["code"] for i in resource["interaction"]} == {"read", "search-type"}
        assert {p["name"] for p in resource["searchParam"]} >= {"url", "version"}


def test_capability_statement_advertises_exactly_the_routes(client, app):
    statement = check_response(client.get("/fhir/metadata"), 200, "CapabilityStatement")
    advertised = {(r["type"], o["name"]) for r in statement["rest"][0]["resource"] for o in r["operation"]}
    routed = set()
    for rule in app.url_map.iter_rules():
        match = re.fullmatch(r"/fhir/(\w+)/(?:<resource_id>/)?\$([\w-]+)", rule.rule)
        if match:
            routed.add((match.group(1), match.group(2)))
    assert routed == advertised


def test_terminology_capabilities_lists_every_loaded_system_and_alias(terminology):
    listed = versions_by_uri(terminology)
    for uri, versions in LOADED.items():
        assert listed.get(uri) == versions, uri
    defaults = {entry["uri"]: [v["isDefault"] for v in entry["version"]] for entry in terminology["codeSystem"]}
    assert all(flags.count(True) == 1 for flags in defaults.values()), defaults


def test_terminology_capabilities_agrees_with_the_code_system_search(client, terminology):
    bundle = check_response(client.get("/fhir/CodeSystem"), 200, "Bundle")
    listed = versions_by_uri(terminology)
    stored = {(e["resource"]["url"], e["resource"].get("version")) for e in bundle["entry"]}
    # 9 from the releases + the synonym lexicon + 17 MedCom code systems from the terminology IG's FSH sources
    assert len(stored) == bundle["total"] == 27
    for url, version in stored:
        assert version in listed[url], (url, version)


def test_terminology_capabilities_expansion(terminology):
    assert terminology["kind"] == "instance"
    assert terminology["expansion"]["paging"] is True
    assert {p["name"] for p in terminology["expansion"]["parameter"]} >= {
        "filter", "count", "offset", "activeOnly", "includeDesignations", "displayLanguage"}


def test_unknown_mode(client):
    check_outcome(client.get("/fhir/metadata?mode=everything"), 400, "invalid", ["'everything'", "terminology"])
