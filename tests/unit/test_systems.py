"""Known systems, aliases and the SKS ↔ WHO code-form rule."""
from __future__ import annotations

import pytest

from termserver.config import load_settings
from termserver.systems import ICPC2, MCS, NPU, AliasTable, sks_to_who, who_to_sks


@pytest.mark.parametrize("sks, who", [("DJ449", "J44.9"), ("DE11", "E11"), ("DE115A", "E11.5A"),
                                      ("DI10", "I10"), ("DZ001", "Z00.1")])
def test_sks_and_who_forms(sks: str, who: str) -> None:
    assert sks_to_who(sks) == who
    assert who_to_sks(who) == sks


@pytest.mark.parametrize("code", ["J449", "D", "DJ4", "dj449", "D B001", "?", ""])
def test_codes_of_other_shapes_have_no_who_form(code: str) -> None:
    assert sks_to_who(code) is None


@pytest.mark.parametrize("alias, canonical", [
    ("urn:oid:1.2.208.176.2.31", ICPC2), (ICPC2, ICPC2), ("http://npu-terminology.org", NPU),
    ("http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-observation-codes", MCS),
    ("https://terminology.medcom.dk/fhir/observation-code", MCS)])
def test_alias_table(alias: str, canonical: str) -> None:
    assert AliasTable().canonical(alias) == canonical


def test_only_the_legacy_medcom_uri_is_retired() -> None:
    table = AliasTable()
    assert table.is_retired("https://terminology.medcom.dk/fhir/observation-code")
    assert not table.is_retired("urn:oid:1.2.208.176.2.31")


def test_extra_aliases_from_the_environment() -> None:
    settings = load_settings(environ={"TERMSERVER_SYSTEM_ALIASES": "urn:x:icpc=http://hl7.org/fhir/sid/icpc-2"})
    assert AliasTable(settings["SYSTEM_ALIASES"]).canonical("urn:x:icpc") == ICPC2


def test_a_malformed_alias_setting_names_the_variable() -> None:
    with pytest.raises(ValueError, match="TERMSERVER_SYSTEM_ALIASES"):
        load_settings(environ={"TERMSERVER_SYSTEM_ALIASES": "no-equals-sign"})
