"""MedCom's value sets (loaded from the terminology IG's FSH): the NPU national analysis repertoire and the MCS
observation codes, under their current URLs and the URLs they had before MedCom's 2025 refactor."""
from __future__ import annotations

import os
from typing import Any

import pytest

from tests.api.fhir_check import check_response, tx_codes, value
from tests.conftest import REPO

IG = "http://medcomfhir.dk/ig/terminology"
NPU_VS = f"{IG}/ValueSet/npu-observation-codes-valueset"
NPU_VS_OLD = f"{IG}/ValueSet/NPUObservationCodesValueSet"
MCS_VS = f"{IG}/ValueSet/medcom-observation-valueset"
MCS_VS_OLD = f"{IG}/ValueSet/MedComObservationValueSet"
NPU = "urn:oid:1.2.208.176.2.1"
MCS = "urn:oid:1.2.208.184.100.8"
MCS_ALIASES = [MCS, f"{IG}/CodeSystem/medcom-observation-codes", "https://terminology.medcom.dk/fhir/observation-code"]
# analyses of the repertoire that the Nordic list (NLK) our NPU is built from does not have
NOT_IN_OUR_NPU = ["NPU02319", "NPU21578", "NPU16328", "NPU18542"]
EXPAND = "/fhir/ValueSet/$expand"
VALIDATE = "/fhir/ValueSet/$validate-code"


@pytest.fixture(autouse=True, scope="module")
def _medcom_sources() -> None:
    folder = REPO.parent / "shared" / "fhir-examples" / "dk-medcom-terminology" / "input" / "fsh"
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"MedCom's FSH sources not found: CI must have {folder}")
        pytest.skip(f"MedCom's FSH sources not found in {folder}")


def expand(client, **params: Any) -> dict[str, Any]:
    return check_response(client.get(EXPAND, query_string=params), 200, "ValueSet")


def validate(client, url: str, system: str, code: str, **params: str) -> dict[str, Any]:
    return check_response(client.get(VALIDATE, query_string={"url": url, "system": system, "code": code,
                                                              **params}), 200, "Parameters")


def warnings(expansion: dict[str, Any]) -> list[str]:
    return [p["valueString"] for p in expansion.get("parameter", []) if p["name"] == "warning"]


@pytest.mark.parametrize("url", [NPU_VS, NPU_VS_OLD])
def test_expand_the_npu_repertoire(client, url):
    value_set = expand(client, url=url, includeDefinition="true")  # the compose only with includeDefinition
    assert (value_set["url"], value_set["version"]) == (NPU_VS, "1.8.1")
    assert len(value_set["compose"]["include"][0]["concept"]) == 35
    expansion = value_set["expansion"]
    # 35 analyses listed; the 4 our NPU lacks are not expanded (as tx.fhir.org: an expansion has no warning for
    # them; the load names them, test_the_load_names_the_repertoire_codes_our_npu_lacks)
    assert expansion["total"] == len(expansion["contains"]) == 35 - len(NOT_IN_OUR_NPU)
    assert not warnings(expansion)
    displays = {entry["code"]: entry["display"] for entry in expansion["contains"]}
    assert not set(NOT_IN_OUR_NPU) & set(displays)
    assert all(entry["system"] == NPU for entry in expansion["contains"])
    # MedCom's Danish NPU names, where our NPU has the English ones from the Nordic list
    assert displays["NPU03429"] == "P—Natrium-ion; stofk. = ? mmol/L"
    assert displays["NPU19748"] == "P—C-reaktivt protein; massek. = ? mg/L"
    assert list(displays)[:3] == ["DNK05473", "DNK05472", "NPU21692"]  # MedCom's order


def test_the_load_names_the_repertoire_codes_our_npu_lacks(app):
    from loaders.medcom_fsh import check_stored_value_sets
    from termserver.systems import AliasTable

    with app.extensions["termserver.sessions"]() as session:
        lines = check_stored_value_sets(session, AliasTable(), [NPU_VS])
    named = [code for code in NOT_IN_OUR_NPU if any(f"code {code} is not in NPU" in line for line in lines)]
    assert named == NOT_IN_OUR_NPU, lines


@pytest.mark.parametrize("url", [NPU_VS, NPU_VS_OLD])
@pytest.mark.parametrize("code, member", [("NPU19748", True), ("DNK05472", True), ("NPU03011", False)])
def test_validate_code_in_the_npu_repertoire(client, url, code, member):
    body = validate(client, url, NPU, code)
    assert value(body, "result") is member
    if not member:  # a valid NPU code (O2 saturation, arterial blood) outside the repertoire
        assert tx_codes(value(body, "issues")) == ["not-in-vs"]


def test_a_repertoire_code_missing_from_our_npu_is_not_valid(client):
    body = validate(client, NPU_VS, NPU, "NPU02319")
    assert value(body, "result") is False
    assert tx_codes(value(body, "issues")) == ["invalid-code", "not-in-vs"]  # tx.fhir.org's order


@pytest.mark.parametrize("url", [MCS_VS, MCS_VS_OLD])
@pytest.mark.parametrize("system", MCS_ALIASES)
def test_validate_mcs_codes_under_every_mcs_uri(client, url, system):
    body = validate(client, url, system, "MCS88125")
    assert value(body, "result") is True
    assert value(body, "display") == "TOBS score;Pt"


@pytest.mark.parametrize("url", [MCS_VS, MCS_VS_OLD])
def test_expand_the_mcs_value_set(client, url):
    expansion = expand(client, url=url)["expansion"]
    assert [(e["system"], e["code"]) for e in expansion["contains"]] == [
        (MCS, "MCS88122"), (MCS, "MCS88125"), (MCS, "MCS88126"), (MCS, "MCS88147")]
    assert not warnings(expansion)


def test_an_mcs_code_outside_the_value_set(client):
    body = validate(client, MCS_VS, MCS, "MCS88100")
    assert value(body, "result") is False


@pytest.mark.parametrize("url", [NPU_VS, NPU_VS_OLD, f"{NPU_VS}|1.8.1"])
def test_search_and_read_by_url(client, url):
    bundle = check_response(client.get("/fhir/ValueSet", query_string={"url": url}), 200, "Bundle")
    assert bundle["total"] == 1
    resource = bundle["entry"][0]["resource"]
    assert (resource["id"], resource["url"]) == ("npu-observation-codes-valueset-1.8.1", NPU_VS)
    assert "aliases" not in resource
    read = check_response(client.get(f"/fhir/ValueSet/{resource['id']}"), 200, "ValueSet")
    assert read["compose"]["include"][0]["system"] == NPU
    assert len(read["compose"]["include"][0]["concept"]) == 35


def test_every_value_set_of_the_ig_is_served(client):
    bundle = check_response(client.get("/fhir/ValueSet"), 200, "Bundle")
    assert bundle["total"] == 26
    assert all(entry["resource"]["url"].startswith(f"{IG}/ValueSet/") for entry in bundle["entry"])


def test_a_value_set_of_medcoms_own_code_systems(client):
    expansion = expand(client, url=f"{IG}/ValueSet/medcom-messaging-messageTypes")["expansion"]
    assert [e["code"] for e in expansion["contains"]] == [
        "empty-message", "care-communication-message", "hospital-notification-message", "acknowledgement-message",
        "homecareobservation-message"]
    assert expansion["contains"][1]["display"] == "Care Communication Message"
