"""POST /fhir/$validate-codes: every Coding of a resource or Bundle checked against the real releases, one
OperationOutcome back, with repair hints.

The MedCom ConditionList test examples (../shared/fhir-examples/dk-medcom-conditionlist/docs/assets/TestExamples)
are checked file by file against expectations written out by hand below, from reading the files; a
HomeCareObservation message built from the IG's FSH examples (tests/data/homecare) is checked with MedCom's
repertoire value sets present and absent.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.api.fhir_check import TX_ISSUE_TYPE, check_outcome, check_response

PATH = "/fhir/$validate-codes"
SUGGESTION = "https://termserver.dk/fhir/StructureDefinition/code-suggestion"
SKS = "urn:oid:1.2.208.176.2.4.12"
ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
NPU = "urn:oid:1.2.208.176.2.1"
MCS = "urn:oid:1.2.208.184.100.8"
MCS_IG = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-observation-codes"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
CONDITION_LIST = "http://medcomfhir.dk/ig/conditionlist/StructureDefinition/"
EXAMPLES = (Path(__file__).resolve().parents[3] / "shared" / "fhir-examples" / "dk-medcom-conditionlist" / "docs"
            / "assets" / "TestExamples" / "Receive")
HOMECARE = Path(__file__).resolve().parents[1] / "data" / "homecare"


def check(client, body: Any, **kwargs: Any) -> list[dict[str, Any]]:
    """POST ``body``, check the answer is a valid OperationOutcome and return its issues."""
    response = client.post(PATH, json=body, **kwargs)
    return check_response(response, 200, "OperationOutcome")["issue"]


def tx_code(issue: dict[str, Any]) -> str:
    [coding] = [c for c in issue["details"]["coding"] if c["system"] == TX_ISSUE_TYPE]
    return coding["code"]


def suggested(issue: dict[str, Any]) -> list[str]:
    return [e["valueCoding"]["code"] for e in issue.get("extension", []) if e["url"] == SUGGESTION]


def problems(issues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in issues if i["severity"] != "information"]


# --- the done-when case -----------------------------------------------------------------------------------------

def condition(number: int, *codings: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-00000000000{number}", "resource": {
        "resourceType": "Condition", "id": f"c{number}", "meta": {"profile": [CONDITION_LIST +
                                                                              "medcom-conditionlist-condition"]},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": "active"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                  "code": "problem-list-item"}]}, {"coding": [{"system": SNOMED,
                                                                               "code": "15240007"}]}],
        "code": {"coding": list(codings)}, "subject": {"reference": "Patient/p1"}, "recordedDate": "2024-01-12"}}


def condition_list(*conditions: dict[str, Any]) -> dict[str, Any]:
    composition = {"fullUrl": "urn:uuid:00000000-0000-0000-0000-000000000000", "resource": {
        "resourceType": "Composition", "id": "comp", "meta": {"profile": [CONDITION_LIST +
                                                                          "medcom-conditionlist-composition"]},
        "status": "final", "type": {"coding": [{"system": LOINC, "code": "11450-4",
                                                "display": "Problem list - Reported"}]},
        "subject": {"reference": "Patient/p1"}, "date": "2024-01-12T09:23:00+01:00", "author": [
            {"reference": "Organization/o1"}], "title": "Diagnoseoversigt for 0511699884",
        "section": [{"entry": [{"reference": f"Condition/{c['resource']['id']}"} for c in conditions]}]}}
    patient = {"fullUrl": "urn:uuid:00000000-0000-0000-0000-00000000000a", "resource": {
        "resourceType": "Patient", "id": "p1", "identifier": [{"system": "urn:oid:1.2.208.176.1.2",
                                                               "value": "0511699884"}]}}
    return {"resourceType": "Bundle", "meta": {"profile": [CONDITION_LIST + "medcom-conditionlist-bundle"]},
            "type": "document", "timestamp": "2024-01-12T09:23:00+01:00",
            "entry": [composition, patient, *conditions]}


DONE_WHEN = condition_list(
    condition(1, {"system": SKS, "code": "m431", "display": "Spondylolisthesis"}),
    condition(2, {"system": SKS, "code": "D93.00", "display": "Asthma bronchiale"}),
    condition(3, {"system": ICPC2_OID, "code": "A00", "display": "A   ALMENT OG USPECIFICERET"}),
    condition(4, {"system": ICPC2_OID, "code": "K86", "display": "Ukompliceret hypertension"}),
)


def test_done_when_three_errors_with_hints(client):
    issues = check(client, DONE_WHEN)
    assert [(i["severity"], i["code"], tx_code(i)) for i in issues] == [("error", "code-invalid", "invalid-code")] * 3
    assert [i["expression"] for i in issues] == [[f"Bundle.entry[{n}].resource.code.coding[0]"] for n in (2, 3, 4)]
    m431, asthma, chapter = issues
    assert suggested(m431) == ["DM431"]
    assert "Did you mean DM431 'Spondylolistese' (SKS)?" in m431["details"]["text"]
    assert suggested(asthma)[:2] == ["DJ45", "DJ459"]
    assert "DJ45 'Astma' (SKS)" in asthma["details"]["text"]
    assert "chapter header, not a codeable rubric" in chapter["details"]["text"]
    assert "'A00'" in chapter["details"]["text"] and "chapter A 'Almen og uspecificeret'" in chapter["details"]["text"]
    # hints come under the URI the ConditionList slice fixes, so a sender can use them as they are
    assert {e["valueCoding"]["system"] for i in issues for e in i.get("extension", [])} == {SKS}
    assert m431["extension"][0]["valueCoding"] == {"system": SKS, "code": "DM431", "display": "Spondylolistese"}


def test_the_same_resource_in_parameters(client):
    direct = check(client, DONE_WHEN)
    wrapped = check(client, {"resourceType": "Parameters", "parameter": [{"name": "resource",
                                                                          "resource": DONE_WHEN}]})
    assert wrapped == direct


# --- the MedCom ConditionList test examples ---------------------------------------------------------------------

def entry(number: int, path: str) -> str:
    return f"Bundle.entry[{number}].resource.{path}"


CHAPTER = "chapter header, not a codeable rubric"
NO_CODE = "has no code"
# expected problems per example (Selftest and Livetest send the same codings): severity, tx-issue-type,
# FHIRPath, the codes offered first (in order) and a fragment of the message. Worked out from the files:
# - SKS codes are upper case (DE119A, DE660B, DB342A); the examples' lower-case suffix letters are unknown codes
# - ICPC-2 has no component 00: A00/F00 are chapter placeholders
# - codes like '?', '0', '4', 'D?', 'DD-' are not codes; codings with a system and no code carry no meaning
# - T90's display differs from 'Diabetes type 2' only in case; other foreign displays are unrecognised
R1_DIABETES = [("error", "invalid-code", entry(4, "code.coding[0]"), ["DE119A"], "Unknown code 'DE119a'")]
R1_T90_CASE = [("warning", "invalid-display", entry(4, "code.coding[1].display"), [],
                "differs from 'Diabetes type 2' only in case")]
R1_OBESITY = [("error", "invalid-code", entry(5, "code.coding[0]"), ["DE660B"], "Unknown code 'DE660b'")]
EXPECTED = {
    "TestExample_R1(1)": [],
    "TestExample_invalid": [],  # invalid against the profile (no status category), not in its codes
    "TestExample_R1(2)": R1_DIABETES + R1_T90_CASE + R1_OBESITY,
    "TestExample_R1(3)": R1_DIABETES + R1_OBESITY,  # 'Diabetes type 2' spelled right here
    "TestExample_R1(4)": R1_DIABETES + R1_T90_CASE + R1_OBESITY + [
        ("error", "invalid-code", entry(7, "code.coding[0]"), ["DB342A"], "Unknown code 'DB342a'")],
    "TestExample_R1(5)": R1_DIABETES + R1_T90_CASE + R1_OBESITY + [
        ("error", "invalid-code", entry(6, "code.coding[0]"), ["DB342A"], "Unknown code 'DB342a'")],
    "TestExample_MissingContent": [
        ("error", "invalid-code", entry(3, "code.coding[0]"), ["DB001B"], "Unknown code 'DD5400'"),
        ("error", "invalid-code", entry(3, "code.coding[1]"), ["S71"], "Unknown code '0'"),
        ("error", "invalid-code", entry(4, "code.coding[0]"), [], "'D' followed by the ICD-10 code"),
        ("error", "invalid-code", entry(4, "code.coding[1]"), [], "chapter letter and two digits"),
        ("error", "invalid-code", entry(5, "code.coding[0]"), ["DM431"], "Unknown code 'm431'"),
        ("error", "invalid-code", entry(5, "code.coding[1]"), ["L84"], "Unknown code '?'"),
        ("error", "invalid-code", entry(6, "code.coding[0]"), ["DJ45", "DJ459"], "Unknown code 'D93.00'"),
        ("error", "invalid-code", entry(6, "code.coding[1]"), ["R96"], "Unknown code '4'"),
        ("error", "invalid-code", entry(7, "code.coding[0]"), [], "Unknown code 'DD-'"),
        ("error", "invalid-code", entry(7, "code.coding[1]"), [], CHAPTER),
        ("warning", "invalid-data", entry(8, "code.coding[0]"), [], NO_CODE),
        ("error", "invalid-code", entry(8, "code.coding[1]"), [], CHAPTER),
        ("error", "invalid-code", entry(9, "code.coding[0]"), [], CHAPTER),
        ("warning", "invalid-data", entry(10, "code.coding[0]"), ["X76"], NO_CODE),
        ("error", "invalid-code", entry(10, "code.coding[1]"), ["DC509"], "Unknown code 'C509'"),
        ("warning", "invalid-data", entry(11, "code.coding[0]"), ["P74"], NO_CODE),
        ("warning", "invalid-data", entry(11, "code.coding[1]"), ["DF419"], NO_CODE),
        ("error", "invalid-code", entry(12, "code.coding[0]"), ["DM501"], "Unknown code 'M501'"),
        # entry[13] has no code at all: allowed (the IG's 5th example)
        ("error", "invalid-code", entry(14, "code.coding[0]"), [], "Unknown code '?'"),  # T93 beside it is right
        ("error", "invalid-code", entry(15, "code.coding[0]"), ["DA869"], "Unknown code 'a869'"),
        ("warning", "invalid-display", entry(15, "code.coding[1].display"), [], "expected 'Meningit/encefalit'"),
        ("warning", "invalid-display", entry(16, "code.coding[0].display"), [], "expected 'Hepatitisvaccination'"),
        ("error", "invalid-code", entry(17, "code.coding[0]"), ["DB001"], "Unknown code 'D B001'"),
        # entry[18] DD10 with its own display: right
        ("error", "invalid-code", entry(19, "code.coding[0]"), [], "chapter F 'Øje', a " + CHAPTER),
        ("warning", "invalid-display", entry(20, "code.coding[0].display"), [],
         "expected 'Andre sygdomme i urinvejene'"),
        ("warning", "invalid-display", entry(20, "code.coding[1].display"), [],
         "expected 'Blærebetændelse/urinvejsinfekt IKA'"),
    ],
}
EXAMPLE_FILES = sorted(EXAMPLES.glob("*/*.json")) if EXAMPLES.is_dir() else []


def test_every_example_has_expectations():
    if not EXAMPLE_FILES:
        pytest.skip(f"MedCom test examples not found at {EXAMPLES}")
    assert len(EXAMPLE_FILES) == 14
    assert {f.stem.removesuffix("L") for f in EXAMPLE_FILES} == set(EXPECTED)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[f"{f.parent.name}/{f.name}" for f in EXAMPLE_FILES])
def test_condition_list_example(client, path):
    issues = check(client, json.loads(path.read_text(encoding="utf-8")))
    expected = EXPECTED[path.stem.removesuffix("L")]
    found = problems(issues)
    assert [(i["severity"], tx_code(i), i["expression"]) for i in found] == [
        (severity, tx, [where]) for severity, tx, where, _, _ in expected]
    for issue, (_, _, _, codes, fragment) in zip(found, expected):
        assert suggested(issue)[:len(codes)] == codes, issue["details"]["text"]
        assert fragment in issue["details"]["text"]
    if not expected:
        [summary] = issues
        assert summary["severity"] == "information" and tx_code(summary) == "process-note"
        assert summary["details"]["text"].startswith("All 2 codings checked, no problems")
        assert "http://loinc.org (1)" in summary["details"]["text"]  # named as not checked, not flagged


# --- ConditionList: the slices ----------------------------------------------------------------------------------

def test_condition_code_without_icpc_or_sks_is_an_error(client):
    # the IG's 6th example: SNOMED CT only
    issues = check(client, condition_list(condition(1, {"system": SNOMED, "code": "238131007",
                                                        "display": "Overweight"})))
    [issue] = issues
    assert (issue["severity"], issue["code"], tx_code(issue)) == ("error", "business-rule", "code-rule")
    assert issue["expression"] == ["Bundle.entry[2].resource.code"]
    assert ICPC2_OID in issue["details"]["text"] and SKS in issue["details"]["text"]


def test_icpc_under_its_canonical_url_does_not_fill_the_slice(client):
    issues = check(client, condition_list(condition(1, {"system": ICPC2, "code": "T82", "display": "Fedme"})))
    [issue] = issues
    assert issue["expression"] == ["Bundle.entry[2].resource.code"]
    assert f"'{ICPC2}' names the same code system but does not fill the slice: use '{ICPC2_OID}'" in \
        issue["details"]["text"]


def test_condition_without_code_and_conditions_outside_a_condition_list(client):
    bundle = condition_list(condition(1))
    del bundle["entry"][2]["resource"]["code"]
    assert problems(check(client, bundle)) == []
    plain = {"resourceType": "Condition", "code": {"coding": [{"system": SNOMED, "code": "238131007"}]}}
    assert problems(check(client, plain)) == []


def test_code_without_system_in_a_condition_list(client):
    # the IG's 7th example: a code with no system
    issues = check(client, condition_list(condition(1, {"code": "ACB"})))
    assert [(i["severity"], i["expression"]) for i in issues] == [
        ("error", ["Bundle.entry[2].resource.code"]), ("warning", ["Bundle.entry[2].resource.code.coding[0]"])]
    assert "Coding has no system" in issues[1]["details"]["text"]


# --- one coding, each rule --------------------------------------------------------------------------------------

def observation(*codings: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"coding": list(codings)}}


@pytest.mark.parametrize(("coding", "severity", "tx", "where", "fragment"), [
    ({"system": ICPC2, "code": "A"}, "error", "code-rule", "", "is a chapter header, not a codeable rubric"),
    ({"system": "http://hl7.org/fhir/sid/icd-10", "code": "A00-A09"}, "error", "code-rule", "",
     "is a chapter or block header"),
    ({"system": SKS, "code": "D"}, "error", "code-rule", "", "root of the classification"),
    ({"system": SKS, "code": "DJ40-DJ47"}, "error", "invalid-code", "", "a chapter or block header, not a codeable"),
    ({"system": ICPC2, "code": "K87", "display": "Ukompliceret hypertension"}, "error", "invalid-display",
     ".display", "is the display of another concept: K86 'Ukompliceret hypertension'"),
    ({"system": ICPC2, "code": "K86", "display": "ukompliceret  Hypertension"}, "warning", "invalid-display",
     ".display", "only in case, spacing or punctuation"),
    ({"system": SKS, "code": "DJ449", "display": "KOL"}, "warning", "invalid-display", ".display",
     "expected 'Kronisk obstruktiv lungesygdom UNS'"),
    ({"system": ICPC2, "code": "K86", "version": "6.0"}, "error", "version-error", ".version", "'6.0'"),
    ({"system": ICPC2}, "warning", "invalid-data", "", "has no code"),
    ({"code": "K86"}, "warning", "invalid-data", "", "Coding has no system"),
    ({"system": ICPC2, "code": 86}, "error", "invalid-data", ".code", "must be a JSON string"),
])
def test_rule(client, coding, severity, tx, where, fragment):
    [issue] = check(client, observation(coding))
    assert (issue["severity"], tx_code(issue)) == (severity, tx)
    assert issue["expression"] == ["Observation.code.coding[0]" + where]
    assert fragment in issue["details"]["text"]


def test_accepted_displays(client):
    assert problems(check(client, observation(
        {"system": ICPC2, "code": "K86", "display": "Ukompliceret hypertension"},  # the Danish display
        {"system": ICPC2, "code": "K86", "display": "Hypertension uncomplicated"},  # the English one
        {"system": ICPC2_OID, "code": "T90", "display": "Diabetes non-insulin dependent"},
        {"system": SKS, "code": "DJ449", "display": "Kronisk obstruktiv lungesygdom UNS"},
        {"system": NPU, "code": "NPU19748", "display": "P—C-reaktivt protein; massek. = ? mg/L"},
        {"system": MCS, "code": "MCS88122", "display": "Pt—Respiration; frekvens = ? X 1/min"}))) == []


def test_inactive_code(client):
    [issue] = check(client, observation({"system": NPU, "code": "NPU01360"}))
    assert (issue["severity"], tx_code(issue)) == ("warning", "code-comment")
    assert "is inactive" in issue["details"]["text"]


def test_systems_not_hosted_here(client):
    issues = check(client, observation(
        {"system": SNOMED, "code": "38341003"}, {"system": LOINC, "code": "8480-6"},
        {"system": "http://example.org/local-codes", "code": "X1"},
        {"system": "http://example.org/local-codes", "code": "X2"},
        {"system": "urn:oid:1.2.208.176.2.4", "code": "DJ449"}, {"system": "http://hl7.org/fhir/sid/icpc2",
                                                                 "code": "K86"}))
    # well-known systems are not checked and not flagged; an unknown one once, with every coding that uses it
    assert [(i["severity"], tx_code(i), i["expression"]) for i in issues] == [
        ("warning", "not-found", ["Observation.code.coding[2].system", "Observation.code.coding[3].system"]),
        ("warning", "not-found", ["Observation.code.coding[4].system"]),
        ("warning", "not-found", ["Observation.code.coding[5].system"])]
    assert "Did you mean 'urn:oid:1.2.208.176.2.4.12'?" in issues[1]["details"]["text"]
    assert f"Did you mean '{ICPC2}'?" in issues[2]["details"]["text"]


def test_retired_system_uri(client):
    legacy = "https://terminology.medcom.dk/fhir/observation-code"
    issues = check(client, observation({"system": legacy, "code": "MCS88122"}, {"system": legacy, "code": "MCS88125"}))
    [issue] = issues
    assert (issue["severity"], tx_code(issue)) == ("warning", "status-check")
    assert issue["expression"] == ["Observation.code.coding[0].system", "Observation.code.coding[1].system"]
    assert f"use '{MCS}'" in issue["details"]["text"]


# --- finding codings --------------------------------------------------------------------------------------------

def test_codings_are_found_structurally_with_exact_paths(client):
    bad = {"system": ICPC2_OID, "code": "k86"}
    resource = {
        "resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "DELETE", "url": "Condition/1"}},
            {"resource": {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
                "resourceType": "Observation", "status": "final",
                "meta": {"tag": [{"system": "http://example.org/workflow", "code": "todo"}],
                         "security": [dict(bad)]},
                "contained": [{"resourceType": "Condition", "code": {"coding": [dict(bad)]}}],
                "code": {"coding": [dict(bad)], "text": "k86"},
                "identifier": [{"system": ICPC2_OID, "value": "k86"}],
                "valueQuantity": {"value": 1, "unit": "k86", "system": "http://unitsofmeasure.org", "code": "k86"},
                "component": [{"code": {"coding": [dict(bad)]}, "valueCodeableConcept": {"coding": [dict(bad)]}}],
                "extension": [{"url": "http://example.org/ext", "valueCoding": dict(bad)}],
                "note": [{"text": "K86"}],
            }}]}, "request": {"method": "POST", "url": "Bundle"}},
            {"resource": {"resourceType": "Encounter", "status": "finished", "class": dict(bad)},
             "request": {"method": "POST", "url": "Encounter"}},
            {"resource": {"resourceType": "ValueSet", "status": "active", "compose": {"include": [
                {"system": ICPC2_OID, "concept": [{"code": "k86"}]}]}, "expansion": {
                "timestamp": "2024-01-01", "contains": [dict(bad)]}}, "request": {"method": "POST", "url": "ValueSet"}},
        ]}
    issues = check(client, resource)
    observation_path = "Bundle.entry[1].resource.entry[0].resource"
    assert [i["expression"] for i in issues] == [
        [f"{observation_path}.meta.security[0]"],
        [f"{observation_path}.contained[0].code.coding[0]"],
        [f"{observation_path}.code.coding[0]"],
        [f"{observation_path}.component[0].code.coding[0]"],
        [f"{observation_path}.component[0].value.ofType(CodeableConcept).coding[0]"],
        [f"{observation_path}.extension[0].value.ofType(Coding)"],
        ["Bundle.entry[2].resource.class"],
    ]
    assert all(suggested(i) == ["K86"] for i in issues)
    # the suggestion keeps the URI the sender used
    assert issues[0]["extension"][0]["valueCoding"]["system"] == ICPC2_OID


def test_no_codings(client):
    [issue] = check(client, {"resourceType": "Patient", "identifier": [{"system": "urn:oid:1.2.208.176.1.2",
                                                                       "value": "0511699884"}]})
    assert (issue["severity"], issue["code"]) == ("information", "informational")
    assert issue["details"]["text"] == "No codings found: nothing to check"


# --- HomeCareObservation ----------------------------------------------------------------------------------------

def homecare(name: str) -> dict[str, Any]:
    return json.loads((HOMECARE / name).read_text(encoding="utf-8"))


NPU_VS = "http://medcomfhir.dk/ig/terminology/ValueSet/npu-observation-codes-valueset"
MCS_VS = "http://medcomfhir.dk/ig/terminology/ValueSet/medcom-observation-valueset"


def repertoire(_ctx: Any, url: str) -> Any:
    """MedCom's two value sets as dk-medcom-terminology's FSH defines them (the codes these tests send)."""
    from termserver.services.resource_check import ValueSetMembers

    if url == NPU_VS:
        return ValueSetMembers(url, "1.8.1", {(NPU, code): display for code, display in [
            ("NPU22089", "P(kB)—Glucose; stofk. = ? mmol/L"), ("NPU19748", "P—C-reaktivt protein; massek. = ? mg/L"),
            ("NPU21692", "Hjerte—Systole; frekv. = ? × 1/min"), ("DNK05472", "Arm—Blodtryk(systolisk); tryk = ? mmHg"),
            ("NPU08676", "Pt—Legeme; temp. = ? °C"), ("NPU02319", "B—Hæmoglobin(Fe); stofk. = ? mmol/L")]})
    return ValueSetMembers(url, "1.8.1", {(MCS, code): display for code, display in [
        ("MCS88122", "Pt—Respiration; frekvens = ? X 1/min"),
        ("MCS88125", "Pt—Tidlig Opsporing af Begyndende Sygdom (TOBS) score; antal (værdi 0-15) = ?"),
        ("MCS88126", "Pt—Bevidsthedsniveau; arb.antal(værdi 0-3) = ?")]})


def not_loaded(_ctx: Any, _url: str) -> None:
    return None


def observation_entry(number: int, where: str = "") -> str:
    return f"Bundle.entry[{number}].resource.code.coding[0]{where}"


def test_homecare_message_with_the_repertoire(client, monkeypatch):
    from termserver.services import resource_check

    monkeypatch.setattr(resource_check, "value_set_members", repertoire)
    [summary] = check(client, homecare("homecare-message.json"))
    assert summary["details"]["text"].startswith("All ")
    issues = check(client, homecare("homecare-message-dirty.json"))
    assert [(i["severity"], tx_code(i), i["expression"]) for i in issues] == [
        ("warning", "invalid-display", [observation_entry(4, ".display")]),  # the consumer name
        ("warning", "invalid-display", [observation_entry(5, ".display")]),  # the MCS short name
        ("warning", "not-in-vs", [observation_entry(6)]),  # oxygen saturation: not in the repertoire
        ("warning", "status-check", [observation_entry(7, ".system")]),  # MedCom's retired URI
        ("error", "invalid-code", [observation_entry(8)]),  # MCS88999 does not exist
        ("warning", "invalid-code", [observation_entry(9)]),  # NPU02319: listed by MedCom, missing from NLK
    ]
    texts = [i["details"]["text"] for i in issues]
    assert "full Danish NPU name 'P—C-reaktivt protein; massek. = ? mg/L', not 'C-reaktivt protein'" in texts[0]
    assert "'Pt—Respiration; frekvens = ? X 1/min'" in texts[1]
    assert NPU_VS in texts[2] and "preferred" in texts[2]
    assert "the release is incomplete" in texts[5]


def test_homecare_message_without_the_repertoire(client, monkeypatch):
    from termserver.services import resource_check

    monkeypatch.setattr(resource_check, "value_set_members", not_loaded)
    issues = check(client, homecare("homecare-message.json"))
    assert [(i["severity"], i.get("expression")) for i in issues] == [
        ("information", [observation_entry(n) for n in (4, 5, 7, 8, 10)]),  # the NPU codings
        ("information", [observation_entry(n) for n in (6, 9, 11)]),  # the MCS codings
        ("information", None)]
    assert f"Value set '{NPU_VS}' is not loaded" in issues[0]["details"]["text"]
    assert f"Value set '{MCS_VS}' is not loaded" in issues[1]["details"]["text"]
    assert issues[2]["details"]["text"].startswith("All ")
    dirty = check(client, homecare("homecare-message-dirty.json"))
    assert [(i["severity"], tx_code(i), i["expression"][0]) for i in problems(dirty)] == [
        ("warning", "invalid-display", observation_entry(4, ".display")),  # the full name is known without it
        ("warning", "invalid-display", observation_entry(5, ".display")),
        ("warning", "status-check", observation_entry(7, ".system")),
        ("error", "invalid-code", observation_entry(8)),
        ("error", "invalid-code", observation_entry(9)),  # nothing says NPU02319 exists
    ]


def test_homecare_message_against_the_store(client):
    """Whatever the store holds of MedCom's value sets, the IG's own codes raise no problem."""
    assert problems(check(client, homecare("homecare-message.json"))) == []


# --- bad requests -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "content_type", "status", "issue_code", "mentions"), [
    ("", "application/fhir+json", 400, "invalid", ["body is empty"]),
    ("{\"resourceType\": ", "application/fhir+json", 400, "invalid", ["Malformed JSON"]),
    ("[]", "application/fhir+json", 400, "invalid", ["JSON object"]),
    ("{\"code\": \"K86\"}", "application/json", 400, "invalid", ["no resourceType"]),
    ("{\"resourceType\": \"Parameters\", \"parameter\": [{\"name\": \"code\", \"valueCode\": \"K86\"}]}",
     "application/fhir+json", 400, "invalid", ["'resource'"]),
    ("{\"resourceType\": \"Parameters\", \"parameter\": [{\"name\": \"resource\", \"valueString\": \"x\"}]}",
     "application/fhir+json", 400, "invalid", ["'resource'", "must be a resource"]),
    ("<Bundle xmlns=\"http://hl7.org/fhir\"/>", "application/fhir+xml", 400, "not-supported",
     ["application/fhir+xml"]),
])
def test_bad_body(client, data, content_type, status, issue_code, mentions):
    check_outcome(client.post(PATH, data=data, content_type=content_type), status, issue_code, mentions)


def test_get_explains_post(client):
    check_outcome(client.get(PATH), 400, "invalid", ["POST"])


def test_too_deep(client):
    nested: dict[str, Any] = {"code": "x"}
    for _ in range(200):
        nested = {"extension": [{"url": "http://x", "valueReference": nested}]}
    check_outcome(client.post(PATH, json={"resourceType": "Basic", **nested}), 400, "invalid", ["deeper"])


def test_large_condition_list_is_one_outcome(client):
    conditions = [copy.deepcopy(condition(i % 10, {"system": SKS, "code": "DJ449"})) for i in range(300)]
    conditions[150]["resource"]["code"]["coding"][0]["code"] = "dj449"
    issues = check(client, condition_list(*conditions))
    [issue] = issues
    assert issue["expression"] == ["Bundle.entry[152].resource.code.coding[0]"]
    assert suggested(issue) == ["DJ449"]
