"""The HL7 message texts (``termserver/services/messages.py``): formatted as Java ``MessageFormat`` formats them, and
equal, character for character, to what the HL7 terminology conformance tests expect from tx.fhir.org."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from termserver.services import messages
from termserver.services.messages import TEMPLATES, is_known, plural, text

TX_TESTS = Path(__file__).resolve().parents[3] / "shared" / "tx-tests" / "tests"
MESSAGE_ID = "http://hl7.org/fhir/StructureDefinition/operationoutcome-message-id"
TX_MESSAGES = "messages-tx.fhir.org.json"  # the texts tx.fhir.org produced, for the "$external:n$" placeholders

SIMPLE = "http://hl7.org/fhir/test/CodeSystem/simple"
VERSION = "http://hl7.org/fhir/test/CodeSystem/version"
SIMPLE_ALL = "http://hl7.org/fhir/test/ValueSet/simple-all|5.0.0"


def tx_tests() -> Path:
    if not TX_TESTS.is_dir():
        pytest.skip(f"the HL7 tx-tests are not at {TX_TESTS}")
    return TX_TESTS


def load(relative: str) -> Any:
    # several response files start with a byte order mark
    with open(tx_tests() / relative, encoding="utf-8-sig") as f:
        return json.load(f)


def issues(node: Any) -> Iterator[tuple[str, str | None]]:
    """(message-id, details.text) of every issue anywhere in ``node`` that carries a message-id."""
    if isinstance(node, dict):
        ids = [e.get("valueString") for e in node.get("extension") or []
               if isinstance(e, dict) and e.get("url") == MESSAGE_ID]
        if ids and "details" in node:
            yield ids[0], node["details"].get("text")
        for value in node.values():
            yield from issues(value)
    elif isinstance(node, list):
        for value in node:
            yield from issues(value)


def expected_message_ids() -> set[str]:
    """Every message-id in the expected responses; ``$choice:A|B$`` (either will do) counts as both."""
    found: set[str] = set()
    for folder, _, files in os.walk(tx_tests()):
        for name in files:
            if name.endswith(".json") and not name.startswith("messages-"):
                for message_id, _ in issues(load(os.path.relpath(Path(folder) / name, TX_TESTS))):
                    if message_id.startswith("$choice:") and message_id.endswith("$"):
                        found.update(message_id[len("$choice:"):-1].split("|"))
                    else:
                        found.add(message_id)
    return found


# (response file, message-id in it, key, plural count or None, arguments)
RESPONSE_CASES = [
    ("notSelectable/validate-prop-true-true-param-false-response-parameters.json", "ABSTRACT_CODE_NOT_ALLOWED",
     "ABSTRACT_CODE_NOT_ALLOWED", None, ("http://hl7.org/fhir/test/CodeSystem/notSelectable-prop", "codeNS")),
    ("extensions/validate-coding-bad-supplement-url-response-outcome.json", "CODESYSTEM_CS_NO_SUPPLEMENT",
     "CODESYSTEM_CS_NO_SUPPLEMENT", None, ("http://hl7.org/fhir/test/CodeSystem/supplement|0.1.1",)),
    ("tx.fhir.org/hgvs-expand-all-response-outcome.json", "CODESYSTEM_NOT_ENUMERABLE",
     "CODESYSTEM_NOT_ENUMERABLE", None, ("http://varnomen.hgvs.org",)),
    ("case/case-coding-insensitive-code1-2-response-parameters.json", "CODE_CASE_DIFFERENCE",
     "CODE_CASE_DIFFERENCE", None, ("CODE1", "code1", "http://hl7.org/fhir/test/CodeSystem/case-insensitive|0.1.0")),
    ("deprecated/validate-deprecating-2-response-parameters.json", "CONCEPT_DEPRECATED_IN_VALUESET",
     "CONCEPT_DEPRECATED_IN_VALUESET", None,
     ("http://hl7.org/fhir/test/CodeSystem/draft", "code3", "deprecated",
      "http://hl7.org/fhir/test/ValueSet/deprecating|5.0.0")),
    ("bugs/validate-no-system-response.json", "Coding_has_no_system__cannot_validate",
     "Coding_has_no_system__cannot_validate", None, ()),
    ("extensions/validate-code-inactive-response-outcome.json", "DEPRECATED_CONCEPT_FOUND",
     "DEPRECATED_CONCEPT_FOUND", None, ("deprecated", "code5")),
    ("bugs/validate-3166-d-response.json", "Display_Name_Not_Fixed_use_Supplement",
     "Display_Name_Not_Fixed_use_Supplement", 1,
     ("urn:iso:std:iso:3166", "XY", "'User-assigned' (en)", "Weird Country", "--")),
    ("overload/validate-bad-v1code2-wrongdisplay-response.json", "Display_Name_for__should_be_one_of__instead_of",
     "Display_Name_for__should_be_one_of__instead_of", 1,
     ("http://hl7.org/fhir/test/CodeSystem/overload", "code2", "'Display 2' (en)", "Display #2", "--")),
    ("batch/batch-validate-response-bundle.json", "INACTIVE_CONCEPT_FOUND",
     "INACTIVE_CONCEPT_FOUND", None, ("retired and inactive", "code2")),
    ("display/validation-wrong-de-en-bad-response-outcome.json", "INVALID_DISPLAY_NAME",
     "INVALID_DISPLAY_NAME", None, ("-",)),
    ("deprecated/validate-not-withdrawn-response-parameters.json", "MSG_DEPRECATED",
     "MSG_DEPRECATED", None, ("http://hl7.org/fhir/test/CodeSystem/deprecated|0.1.0", "", "CodeSystem")),
    ("deprecated/validate-not-withdrawn-response-parameters.json", "MSG_WITHDRAWN",
     "MSG_WITHDRAWN", None, ("http://hl7.org/fhir/test/ValueSet/withdrawn|5.0.0", "", "ValueSet")),
    ("deprecated/validate-draft-response-parameters.json", "MSG_DRAFT",
     "MSG_DRAFT", None, ("http://hl7.org/fhir/test/CodeSystem/draft|0.1.0", "", "CodeSystem")),
    ("deprecated/validate-experimental-response-parameters.json", "MSG_EXPERIMENTAL",
     "MSG_EXPERIMENTAL", None, ("http://hl7.org/fhir/test/CodeSystem/experimental|0.1.0", "", "CodeSystem")),
    ("display/validation-wrong-de-en-response-parameters.json", "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR",
     "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR", None,
     ("XCode1", "http://hl7.org/fhir/test/CodeSystem/lang-en", "code1", "de", "Code1")),
    ("display/validation-right-de-en-response-parameters.json", "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK",
     "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK", None,
     ("Code1", "http://hl7.org/fhir/test/CodeSystem/lang-en", "code1", "de")),
    ("batch/batch-validate-bad-response-bundle.json", "None_of_the_provided_codes_are_in_the_value_set_one",
     "None_of_the_provided_codes_are_in_the_value_set", 1,
     ("urn:uuid:80458796-b204-4d17-ac1c-8443dd8cb35b", f"'{SIMPLE}#code3 ('xx')'")),
    ("inactive/validate-inactive-2a-response-parameters.json", "STATUS_CODE_WARNING_CODE",
     "STATUS_CODE_WARNING_CODE", None, ("not active", "codeInactive")),
    ("bugs/validate-sct-msg-4-response.json", "TX_GENERAL_CC_ERROR_MESSAGE",
     "TX_GENERAL_CC_ERROR_MESSAGE", None, ("http://hl7.org/fhir/ValueSet/medication-form-codes|4.0.1",)),
    ("validation/simple-coding-bad-system-local-response-parameters.json", "Terminology_TX_System_Relative",
     "Terminology_TX_System_Relative", None, ()),
    ("validation/simple-coding-bad-system2-response-parameters.json", "Terminology_TX_System_ValueSet2",
     "Terminology_TX_System_ValueSet2", None, ("http://hl7.org/fhir/test/ValueSet/simple-all",)),
    ("errors/errors-broken-filter-expand-response.json", "UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE",
     "UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE", None, (SIMPLE, "concept", "is-a")),
    ("bugs/validate-x12-bad-response.json", "UNKNOWN_CODESYSTEM",
     "UNKNOWN_CODESYSTEM", None, ("https://codesystem.x12.org/005010/1338",)),
    ("version/simple-codeableconcept-bad-version1-response-parameters.json", "UNKNOWN_CODESYSTEM_VERSION",
     "UNKNOWN_CODESYSTEM_VERSION", None, (SIMPLE, "1.0.0", "0.1.0")),
    ("version/vs-expand-v-wb-check-response-outcome.json", "UNKNOWN_CODESYSTEM_VERSION_EXP",
     "UNKNOWN_CODESYSTEM_VERSION_EXP", None, (VERSION, "1", "1.0.0 or 1.2.0")),
    ("version/simple-codeableconcept-bad-version2-response-parameters.json", "UNKNOWN_CODESYSTEM_VERSION_NONE",
     "UNKNOWN_CODESYSTEM_VERSION_NONE", None, ("http://hl7.org/fhir/test/CodeSystem/simpleXX", "1.0.4234", "")),
    ("fragment/fragment-code-bad-code-response-parameters.json", "UNKNOWN_CODE_IN_FRAGMENT",
     "UNKNOWN_CODE_IN_FRAGMENT", None, ("code1x", "http://hl7.org/fhir/test/CodeSystem/fragment", "0.1.0")),
    ("errors/errors-combination-bad-response.json", "Unable_to_resolve_system__value_set_has_multiple_matches",
     "Unable_to_resolve_system__value_set_has_multiple_matches", None,
     ("code1", "http://hl7.org/fhir/test/ValueSet/combination|5.0.0",
      "[http://hl7.org/fhir/test/CodeSystem/simple1, http://hl7.org/fhir/test/CodeSystem/simple2]")),
    ("sct/validate-code-implied-1b-response.json", "Unable_to_resolve_value_Set_",
     "Unable_to_resolve_value_Set_", None, ("http://snomed.info/sct?fhir_vs=isa/4106070063",)),
    ("bugs/validate-lang-case-response.json", "Unknown_Code_in",
     "Unknown_Code_in", None, ("en-us", "urn:ietf:bcp:47")),
    ("validation/cs-code-bad-code-response-parameters.json", "Unknown_Code_in_Version",
     "Unknown_Code_in_Version", None, ("code1x", SIMPLE, "0.1.0")),
    # SNOMED CT names the edition, under the same message-id
    ("bugs/validate-sct-parse-response.json", "Unknown_Code_in_Version",
     "Unknown_Code_in_Version_SCT", None,
     ("freetext", "http://snomed.info/sct", "http://snomed.info/sct/900000000000207008/version/20250201",
      "International Edition")),
    ("parameters/parameters-expand-supplement-bad-response.json", "VALUESET_SUPPLEMENT_MISSING",
     "VALUESET_SUPPLEMENT_MISSING", 1, ("http://hl7.org/fhir/test/CodeSystem/supplement-X",)),
    ("bugs/expand-cpt-response.json", "VALUESET_TOO_COSTLY",
     "VALUESET_TOO_COSTLY", None, ("undefined", ">3000")),
    ("version/code-v10-vs1wb-check-response-parameters.json", "VALUESET_VALUE_MISMATCH",
     "VALUESET_VALUE_MISMATCH", None, (VERSION, "1", "1.0.0")),
    ("version/code-vbb-vs10-force-response-parameters.json", "VALUESET_VALUE_MISMATCH_CHANGED",
     "VALUESET_VALUE_MISMATCH_CHANGED", None, (VERSION, "1.0.x", "1.0.0", "2.4.0")),
    # an include without a version: the template shows '' for it
    ("version/code-vbb-vsnn-check-response-parameters.json", "VALUESET_VALUE_MISMATCH_CHANGED",
     "VALUESET_VALUE_MISMATCH_CHANGED", None, (VERSION, "1.0.x", "", "2.4.0")),
    ("version/code-vbb-vsnn-response-parameters.json", "VALUESET_VALUE_MISMATCH_DEFAULT",
     "VALUESET_VALUE_MISMATCH_DEFAULT", None, (VERSION, "1.2.0", "", "2.4.0")),
    ("version/code-v10-vs20-check-response-parameters.json", "VALUESET_VERSION_CHECK",
     "VALUESET_VERSION_CHECK", None, (VERSION, "1.2.0", "1.0.x")),
]

# (entry in messages-tx.fhir.org.json, number, key, plural count or None, arguments)
TX_FHIR_ORG_CASES = [
    ("big/expand-circle-outcome.json", "1", "VALUESET_CIRCULAR_REFERENCE", None,
     ("http://hl7.org/fhir/test/ValueSet/big-circle-1|5.0.0",
      "[http://hl7.org/fhir/test/ValueSet/big-circle-1|5.0.0, http://hl7.org/fhir/test/ValueSet/big-circle-2|5.0.0]")),
    ("valueset-version/expand-indirect-expand-zero-pinned-wrong-response-outcome.json", "1",
     "VS_EXP_IMPORT_UNK_PINNED", None, ("http://hl7.org/fhir/test/ValueSet/vs-version", "3.0.0")),
    ("validation/simple-code-bad-version1-response-parameters.json", "2",
     "UNABLE_TO_CHECK_IF_THE_PROVIDED_CODES_ARE_IN_THE_VALUE_SET_CS", None, (SIMPLE_ALL, f"{SIMPLE}|1.0.0")),
    ("validation/simple-code-implied-bad-code-response-parameters.json", "2",
     "UNABLE_TO_INFER_CODESYSTEM", None, ("code1x", SIMPLE_ALL)),
    ("validation/simple-code-bad-code-response-parameters.json", "1",
     "None_of_the_provided_codes_are_in_the_value_set", 1, (SIMPLE_ALL, f"'{SIMPLE}#code1x'")),
    ("validation/simple-code-bad-code-response-parameters.json", "2",
     "Unknown_Code_in_Version", None, ("code1x", SIMPLE, "0.1.0")),
    ("validation/simple-code-bad-system-response-parameters.json", "2",
     "UNKNOWN_CODESYSTEM", None, ("http://hl7.org/fhir/test/CodeSystem/simplex",)),
    ("validation/simple-code-bad-display-ws-response-parameters.json", "1",
     "Display_Name_WS_for__should_be_one_of__instead_of", 1,
     (VERSION, "code1", "'Display 1 (1.0)' (en)", "Display  1 (1.0)", "--")),
    ("validation/simple-coding-bad-language-header-response-parameters.json", "1",
     "Display_Name_for__should_be_one_of__instead_of", 1,
     ("http://hl7.org/fhir/test/CodeSystem/en-multi", "code1", "'Display 1' (en)", "Anzeige 1", "en, en-AU; q=0.4")),
    ("validation/complex-codeableconcept-vsonly-response-parameters.json", "2",
     "TX_GENERAL_CC_ERROR_MESSAGE", None, (SIMPLE_ALL,)),
    ("big/expand-no-limit-outcome.json", "1", "VALUESET_TOO_COSTLY", None,
     ("http://hl7.org/fhir/test/ValueSet/big|5.0.0", ">1000")),
    ("validation/simple-code-bad-valueSet-response-outcome.json", "1",
     "Unable_to_resolve_value_Set_", None, ("http://hl7.org/fhir/test/ValueSet/simple-allX",)),
    ("inactive/validate-inactive-3a-response-parameters.json", "1",
     "None_of_the_provided_codes_are_in_the_value_set", 1,
     ("http://hl7.org/fhir/test/ValueSet/inactive-all-active|5.0.0",
      "'http://hl7.org/fhir/test/CodeSystem/inactive#codeRetired'")),
]


def render(key: str, count: int | None, args: tuple[object, ...]) -> str:
    return text(key, *args) if count is None else plural(key, count, *args)


# --- the conformance tests' own texts ---------------------------------------------------------------------------

@pytest.mark.parametrize("relative, message_id, key, count, args", RESPONSE_CASES,
                         ids=[f"{c[2]}:{c[0]}" for c in RESPONSE_CASES])
def test_text_equals_the_expected_response(relative, message_id, key, count, args):
    expected = {t for mid, t in issues(load(relative)) if mid == message_id}
    assert expected, f"no {message_id} issue in {relative}"
    assert render(key, count, args) in expected


@pytest.mark.parametrize("entry, number, key, count, args", TX_FHIR_ORG_CASES,
                         ids=[f"{c[2]}:{c[0]}#{c[1]}" for c in TX_FHIR_ORG_CASES])
def test_text_equals_what_tx_fhir_org_said(entry, number, key, count, args):
    assert render(key, count, args) == load(TX_MESSAGES)[entry][number]


def test_every_message_id_in_the_expected_responses_has_a_template():
    found = expected_message_ids()
    assert len(found) > 30  # the walk saw the tests, not an empty folder
    assert sorted(m for m in found if not is_known(m)) == []


def test_plural_message_ids_are_the_base_key():
    # the extension carries the base; the keys are its _one/_other forms
    found = expected_message_ids()
    for base in ("Display_Name_for__should_be_one_of__instead_of", "VALUESET_SUPPLEMENT_MISSING",
                 "INACTIVE_DISPLAY_FOUND"):
        assert base in found and base not in TEMPLATES and is_known(base)


# --- MessageFormat rules ----------------------------------------------------------------------------------------

def test_doubled_quote_is_one_quote():
    assert text("Unknown_Code_in", "x", "http://s") == "Unknown code 'x' in the CodeSystem 'http://s'"


def test_empty_argument_between_quotes():
    assert text("VALUESET_VALUE_MISMATCH_CHANGED", "s", "1.0.x", "", "2") == (
        "The code system 's' version '1.0.x' resulting from the version '' in the ValueSet include is different "
        "to the one in the value ('2')")


def test_lone_quote_makes_a_literal_section(monkeypatch):
    monkeypatch.setitem(messages.TEMPLATES, "T_QUOTED", "'{0}' is {0}, it''s ''{1}''")
    assert text("T_QUOTED", "x", "y") == "{0} is x, it's 'y'"
    # ''' is a quote and then the start of a literal section, in which '' is still one quote: as in Java
    monkeypatch.setitem(messages.TEMPLATES, "T_TRIPLE", "'''{0}'''")
    assert text("T_TRIPLE", "x") == "'{0}'"


def test_missing_arguments_stay_as_written_and_extra_ones_are_ignored():
    assert text("UNKNOWN_CODESYSTEM_VERSION", "s", "1") == (
        "A definition for CodeSystem 's' version '1' could not be found, so the code cannot be validated. "
        "Valid versions: {2}")
    assert text("Terminology_TX_System_Relative", "ignored") == TEMPLATES["Terminology_TX_System_Relative"]


def test_arguments_render_as_java_shows_them():
    assert text("Terminology_TX_Display_Wrong", None) == "Display should be 'null'"
    assert text("Terminology_TX_Display_Wrong", True) == "Display should be 'true'"
    assert text("Terminology_TX_Display_Wrong", 1000) == "Display should be '1000'"


def test_trailing_blank_of_a_template_is_dropped():
    assert TEMPLATES["Display_Name_Not_Fixed_use_Supplement_one"].endswith(" ")
    assert not plural("Display_Name_Not_Fixed_use_Supplement", 1, "s", "c", "'d'", "x", "--").endswith(" ")


@pytest.mark.parametrize("count, expected", [
    (1, "Required supplement not found: a"),
    (0, "Required supplements not found: a"),
    (2, "Required supplements not found: a"),
])
def test_plural_picks_one_or_other_and_passes_the_count_as_argument_0(count, expected):
    assert plural("VALUESET_SUPPLEMENT_MISSING", count, "a") == expected


def test_plural_count_fills_argument_0():
    assert plural("None_of_the_provided_codes_are_in_the_value_set", 2, "vs", "'a', 'b'") == (
        "None of the provided codes ['a', 'b'] are in the value set 'vs'")
    assert plural("Display_Name_for__should_be_one_of__instead_of", 2, "s", "c", "'A', 'B'", "X", "en") == (
        "Wrong Display Name 'X' for s#c. Valid display is one of 2 choices: 'A', 'B' (for the language(s) 'en')")


def test_unknown_key_is_a_key_error():
    with pytest.raises(KeyError, match="NO_SUCH_KEY"):
        text("NO_SUCH_KEY")
    with pytest.raises(KeyError):
        plural("UNKNOWN_CODESYSTEM", 1, "s")  # not a plural key


def test_every_template_is_a_valid_pattern_and_formats_without_arguments():
    for key in TEMPLATES:
        assert "''" not in text(key), key  # every doubled quote collapses
        assert text(key) == text(key).strip(), key


def test_plural_keys_come_in_pairs():
    for key in TEMPLATES:
        for suffix, other in (("_one", "_other"), ("_other", "_one")):
            if key.endswith(suffix):
                assert key[: -len(suffix)] + other in TEMPLATES, key
