"""Read and search of CodeSystem, ValueSet and ConceptMap: summaries by default for big resources (a 25,000-concept
system is never sent unasked), everything on ``_summary=false``."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.fhir_check import check_outcome, check_response

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
WICC_MAP = "https://termserver.dk/fhir/ConceptMap/icpc2e-icd10"
UCUM_MAP = "http://ehealth.sundhed.dk/ConceptMap/conceptmap-obs-code-to-ucum"
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "As requested, resource is not fully detailed."}


def search(client, kind: str, **params: str) -> dict[str, Any]:
    return check_response(client.get(f"/fhir/{kind}", query_string=params), 200, "Bundle")


def read(client, kind: str, resource_id: str, **params: str) -> tuple[dict[str, Any], int]:
    response = client.get(f"/fhir/{kind}/{resource_id}", query_string=params)
    return check_response(response, 200, kind), len(response.get_data())


def only_id(bundle: dict[str, Any]) -> str:
    assert bundle["total"] == 1, bundle
    return bundle["entry"][0]["resource"]["id"]


def test_search_all_code_systems_sends_summaries(client):
    bundle = search(client, "CodeSystem")
    assert bundle["type"] == "searchset"
    # 9 from the releases + the synonym lexicon + 17 MedCom code systems from the terminology IG's FSH sources
    assert bundle["total"] == 27
    urls = {entry["resource"]["url"] for entry in bundle["entry"]}
    assert {ICPC2, SKS, "http://hl7.org/fhir/sid/icd-10", "urn:oid:1.2.208.176.2.1",
            "urn:oid:1.2.208.184.100.8"} <= urls
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert "concept" not in resource
        assert resource["meta"]["tag"] == [SUBSETTED]
        assert entry["fullUrl"].endswith(f"/fhir/CodeSystem/{resource['id']}")
        assert entry["search"] == {"mode": "match"}


@pytest.mark.parametrize("params", [
    {"url": ICPC2}, {"url": ICPC2_OID}, {"url": f"{ICPC2}|7.0"}, {"url": ICPC2, "version": "7.0"},
    {"name": "ICPC-2"}, {"title": "primary care, 2nd edition (ICPC-2e)"},
])
def test_search_code_system(client, params):
    bundle = search(client, "CodeSystem", **params)
    assert only_id(bundle) == "icpc-2-7.0"
    assert bundle["entry"][0]["resource"]["url"] == ICPC2


@pytest.mark.parametrize("params", [{"url": "http://example.org/none"}, {"url": ICPC2, "version": "6.0"},
                                    {"name": "Snomed"}])
def test_search_without_matches(client, params):
    bundle = search(client, "CodeSystem", **params)
    assert bundle["total"] == 0
    assert "entry" not in bundle


def test_a_25k_concept_system_is_not_dumped_unasked(client):
    resource_id = only_id(search(client, "CodeSystem", url=SKS))
    summary, size = read(client, "CodeSystem", resource_id)
    assert summary["count"] == 24979
    assert summary["content"] == "complete"
    assert "concept" not in summary
    assert summary["meta"]["tag"] == [SUBSETTED]
    assert size < 5000
    full, size = read(client, "CodeSystem", resource_id, _summary="false")
    assert len(full["concept"]) == 24979
    assert "meta" not in full
    dj449 = next(c for c in full["concept"] if c["code"] == "DJ449")
    assert dj449["display"] == "Kronisk obstruktiv lungesygdom UNS"
    assert {"code": "parent", "valueCode": "DJ44"} in dj449["property"]


def test_a_small_system_is_read_whole(client):
    icpc, _ = read(client, "CodeSystem", "icpc-2-7.0")
    assert icpc["url"] == ICPC2
    assert icpc["version"] == "7.0"
    assert {"system": "urn:ietf:rfc:3986", "value": ICPC2_OID} in icpc["identifier"]
    assert len(icpc["concept"]) == icpc["count"] == 752
    k86 = next(c for c in icpc["concept"] if c["code"] == "K86")
    assert k86["display"] == "Hypertension uncomplicated"
    assert {"code": "parent", "valueCode": "K"} in k86["property"]
    summary, _ = read(client, "CodeSystem", "icpc-2-7.0", _summary="true")
    assert "concept" not in summary and summary["meta"]["tag"] == [SUBSETTED]


def test_search_and_read_agree(client):
    for entry in search(client, "CodeSystem")["entry"]:
        resource = entry["resource"]
        again, _ = read(client, "CodeSystem", resource["id"], _summary="true")
        assert again == resource


def test_concept_maps(client):
    bundle = search(client, "ConceptMap")
    assert bundle["total"] == 3
    assert all("group" not in entry["resource"] for entry in bundle["entry"])
    wicc_id = only_id(search(client, "ConceptMap", url=WICC_MAP))
    summary, size = read(client, "ConceptMap", wicc_id)
    assert "group" not in summary and summary["meta"]["tag"] == [SUBSETTED]
    assert (summary["sourceUri"], summary["targetUri"]) == (ICPC2, "http://hl7.org/fhir/sid/icd-10")
    assert size < 5000
    full, _ = read(client, "ConceptMap", wicc_id, _summary="false")
    [group] = full["group"]
    k86 = next(e for e in group["element"] if e["code"] == "K86")
    assert {t["code"] for t in k86["target"]} == {"I10"}
    ucum, _ = read(client, "ConceptMap", only_id(search(client, "ConceptMap", url=UCUM_MAP)))
    assert sum(len(g["element"]) for g in ucum["group"]) == 23  # small: whole by default


def test_value_sets(client):
    bundle = search(client, "ValueSet")
    assert bundle["total"] == 26  # the MedCom terminology IG's value sets; implicit ones are not resources
    urls = {entry["resource"]["url"] for entry in bundle["entry"]}
    assert "http://medcomfhir.dk/ig/terminology/ValueSet/npu-observation-codes-valueset" in urls
    check_outcome(client.get("/fhir/ValueSet/no-such-value-set"), 404, "not-found", ["ValueSet/no-such-value-set"])


@pytest.mark.parametrize("kind", ["CodeSystem", "ValueSet", "ConceptMap"])
def test_read_unknown_id(client, kind):
    check_outcome(client.get(f"/fhir/{kind}/does-not-exist"), 404, "not-found", [f"{kind}/does-not-exist"])
