"""The tx-ecosystem comparer (a port of the Java CompareUtilities), the runner's scrubbing and sorting, and the
R4/R5 conversion that comes before them: each rule with an answer that passes and one that fails."""
from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from termserver.conformance.compare import (JsonComparer, UnhandledTemplateError, dump_json, java_compare,
                                            java_split, normalize, parse_json, scrub_domain_resource,
                                            sort_parameters, sort_value_set)
from termserver.conformance.r5_to_r4 import EXT_VS_CONT_PROP, EXT_VS_EXP_PROP, r4_to_r5, r5_to_r4
from termserver.conformance.runner import _choose, _http_code_ok, _passes_modes, _passes_version, TxTestError


def compare(expected: Any, actual: Any, *, modes: tuple[str, ...] = ("general",), externals: Any = None,
            version: str = "4.0.1", pattern: bool = False) -> str | None:
    return JsonComparer(modes, externals, {"version": version}, pattern).compare("t1", expected, actual)


# -- primitives and objects -------------------------------------------------------------------------------------

@pytest.mark.parametrize("expected, actual, ok", [
    ("code1", "code1", True),
    ("code1", "code2", False),
    (True, True, True),
    (True, False, False),
    (Decimal("1.50"), Decimal("1.50"), True),
    (Decimal("1.50"), Decimal("1.5"), False),  # numbers compare by their JSON text
    (7, 7, True),
    (7, 8, False),
    (None, None, True),
    (None, "x", False),
    ("7", 7, False),  # property types differ
    ("<div>a</div>", "<div>b</div>", True),  # narrative is never compared
])
def test_primitives(expected: Any, actual: Any, ok: bool) -> None:
    assert (compare({"a": expected}, {"a": actual}) is None) == ok


def test_message_names_the_path_expected_and_actual() -> None:
    message = compare({"a": {"b": ["x", "y"]}}, {"a": {"b": ["x", "z"]}})
    assert message == 'string property values differ at .a.b[1]\nExpected:"y" for t1\nActual  :"z"'


def test_pattern_mode_message_is_one_line() -> None:
    message = compare({"a": "x"}, {"a": "y"}, pattern=True)
    assert message == 'string property values differ at .a. Expected:"x" for t1. Actual  :"y"'


def test_object_against_string_names_the_java_classes() -> None:
    message = compare({"a": {"b": 1}}, {"a": "text"})
    assert message is not None and message.startswith("properties differ at .a\n")
    assert 'Expected:"org.hl7.fhir.utilities.json.model.JsonObject"' in message
    assert 'Actual  :"org.hl7.fhir.utilities.json.model.JsonString"' in message


@pytest.mark.parametrize("actual, message", [
    ({"a": 1}, None),
    ({"a": 1, "b": 2}, "properties differ at : unexpected property b"),
    ({}, "properties differ at : missing property a"),
    ({"a": 1, "fhir_comments": ["x"]}, None),
])
def test_properties(actual: dict[str, Any], message: str | None) -> None:
    assert compare({"a": 1}, actual) == message


def test_pattern_mode_ignores_what_the_file_does_not_mention_but_not_what_it_does() -> None:
    assert compare({"a": 1}, {"a": 1, "b": 2}, pattern=True) is None
    assert compare({"a": 1}, {"b": 2}, pattern=True) == "properties differ at : missing property a"


# -- $optional-properties$, $count-arrays$ ---------------------------------------------------------------------

@pytest.mark.parametrize("actual, ok", [
    ({"a": 1}, True),
    ({"a": 1, "id": "x"}, True),
    ({"a": 1, "id": "y"}, True),
    ({"a": 1, "date": 5}, False),  # listed, but when present it is compared
    ({"id": "x"}, False),  # not listed, so required
])
def test_optional_properties(actual: dict[str, Any], ok: bool) -> None:
    expected = {"$optional-properties$": ["id", "date"], "a": 1, "id": "$id$", "date": "$date$"}
    assert (compare(expected, actual) is None) == ok


def test_optional_properties_star_makes_every_property_optional() -> None:
    assert compare({"$optional-properties$": ["*"], "a": 1, "b": 2}, {}) is None
    assert compare({"$optional-properties$": ["*"], "a": 1}, {"a": 2}) is not None


def test_optional_properties_lets_an_actual_property_the_file_does_not_have() -> None:
    assert compare({"$optional-properties$": ["id"], "a": 1}, {"a": 1, "id": "x"}) is None


@pytest.mark.parametrize("actual, ok", [
    ({"contains": [{"code": "x"}, {"code": "y"}]}, True),
    ({"contains": [{"code": "p"}, {"code": "q"}]}, True),
    ({"contains": [{"code": "x"}]}, False),
])
def test_count_arrays_compares_the_number_of_items_only(actual: dict[str, Any], ok: bool) -> None:
    expected = {"$optional-properties$": [], "$count-arrays$": ["contains"],
                "contains": [{"code": "a"}, {"code": "b"}]}
    assert (compare(expected, actual) is None) == ok


def test_a_missing_array_without_objects_counts_as_all_optional() -> None:
    # CompareUtilities.allOptional only looks at object items: an absent array of strings is accepted
    assert compare({"a": 1, "b": ["x"]}, {"a": 1}) is None
    assert compare({"a": 1, "b": [{"c": "x"}]}, {"a": 1}) == "properties differ at : missing property b"


# -- arrays, $optional$ and $only$ --------------------------------------------------------------------------------

def test_arrays_are_compared_in_order() -> None:
    assert compare({"a": ["x", "y"]}, {"a": ["x", "y"]}) is None
    assert compare({"a": ["x", "y"]}, {"a": ["y", "x"]}) is not None


@pytest.mark.parametrize("actual, message", [
    (["x"], "array item count differs at .a\nExpected:\"2\" for t1\nActual  :\"1\""),
    (["x", "y", "z"], "array item count differs at .a\nExpected:\"2\" for t1\nActual  :\"3\""),
])
def test_array_counts(actual: list[str], message: str) -> None:
    assert compare({"a": ["x", "y"]}, {"a": actual}) == message


OPTIONAL_ITEM = [{"name": "a"}, {"$optional$": True, "name": "b"}]


@pytest.mark.parametrize("actual, ok", [
    ([{"name": "a"}], True),
    ([{"name": "a"}, {"name": "b"}], True),
    ([{"name": "a"}, {"name": "c"}], False),
    ([{"name": "b"}], False),
])
def test_optional_array_item(actual: list[Any], ok: bool) -> None:
    assert (compare({"p": OPTIONAL_ITEM}, {"p": actual}) is None) == ok


def test_an_unmatched_extra_item_is_an_unexpected_node() -> None:
    expected = {"p": [{"$optional$": True, "name": "b"}, {"name": "a"}]}
    assert compare(expected, {"p": [{"name": "a"}, {"name": "c"}]}) == \
        "Unexpected Node found in array at '.p' at index 1"


def test_a_missing_required_item_is_reported_from_its_index() -> None:
    expected = {"p": [{"name": "a"}, {"$optional$": True, "name": "b"}, {"name": "c"}]}
    assert compare(expected, {"p": [{"name": "a"}, {"name": "b"}]}) == \
        "One or more array items did not match at .p starting at index 2"


def test_an_array_of_optional_items_may_be_absent() -> None:
    assert compare({"a": 1, "p": [{"$optional$": "tx.fhir.org", "name": "b"}]}, {"a": 1}) is None
    assert compare({"a": 1, "p": [{"name": "b"}]}, {"a": 1}) == "properties differ at : missing property p"


@pytest.mark.parametrize("flag, modes, optional", [
    (True, ("general",), True),
    (False, ("general",), False),
    ("true", ("general",), False),  # a string is a mode name
    ("!tx.fhir.org", ("general",), True),
    ("!tx.fhir.org", ("general", "tx.fhir.org"), False),
    ("tx.fhir.org", ("general",), False),
    ("tx.fhir.org", ("tx.fhir.org",), True),
    ("version:4", ("general",), True),
    ("version:5", ("general",), False),
    ("warning:version", ("general",), True),
])
def test_optional_filters(flag: Any, modes: tuple[str, ...], optional: bool) -> None:
    expected = {"p": [{"name": "a"}, {"$optional$": flag, "name": "b"}]}
    assert (compare(expected, {"p": [{"name": "a"}]}, modes=modes) is None) == optional


def test_a_warning_optional_item_that_is_missing_leaves_a_warning() -> None:
    comparer = JsonComparer(("general",), None, {"version": "4.0.1"})
    assert comparer.compare("t1", {"p": [{"name": "a"}, {"$optional$": "warning:version", "name": "b"}]},
                            {"p": [{"name": "a"}]}) is None
    assert comparer.warnings == ["version"]


@pytest.mark.parametrize("version, actual, ok", [
    ("4.0.1", [{"name": "a"}, {"name": "b"}], True),
    ("4.0.1", [{"name": "a"}], False),  # required where the filter passes
    ("5.0.0", [{"name": "a"}], True),
    ("5.0.0", [{"name": "a"}, {"name": "b"}], False),  # prohibited where it does not
])
def test_only_items(version: str, actual: list[Any], ok: bool) -> None:
    expected = {"p": [{"name": "a"}, {"$only$": "version:4", "name": "b"}]}
    message = compare(expected, {"p": actual}, version=version)
    assert (message is None) == ok
    if version == "5.0.0" and not ok:
        assert message == "prohibited item found at .p[1] (name = b): this is only allowed when 'version:4'"


def test_only_property_is_prohibited_when_its_filter_fails() -> None:
    expected = {"a": 1, "b": {"$only$": "version:4", "c": 1}}
    assert compare(expected, {"a": 1}, version="5.0.0") is None
    assert compare(expected, {"a": 1, "b": {"c": 1}}, version="5.0.0") == \
        "properties differ at : prohibited property b (only allowed when 'version:4')"
    assert compare(expected, {"a": 1, "b": {"c": 1}}, version="4.0.1") is None


# -- templates --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("template, good, bad", [
    ("$$", "anything", None),
    ("$id$", "a-1.b", "a b"),
    ("$instant$", "2026-01-01T10:00:00.123Z", "2026-01-01"),
    ("$date$", "2026-01-01", "01-01-2026"),
    ("$uuid$", "urn:uuid:8acdbfdc-e9d2-11ed-a05b-0242ac120003", "8acdbfdc-e9d2-11ed-a05b-0242ac120003"),
    ("$string$", "text", " text"),
    ("$url$", "http://localhost:8080/fhir/metadata", "localhost/fhir"),
    ("$token$", "active", "not a token"),
    ("$semver$", "1.2.3-beta.1", "01.2.3"),
    ("$semver$", "1.2", "1"),
    ("$version$", "4.0.1", "5.0.0"),
    ("$choice:business-rule|not-found$", "not-found", "invalid"),
    ("$fragments:Supplement|http://x$", "The supplement http://x is missing", "The supplement is missing"),
])
def test_templates(template: str, good: str, bad: str | None) -> None:
    assert compare({"a": template}, {"a": good}) is None
    if bad is not None:
        assert compare({"a": template}, {"a": bad}) is not None


def test_version_is_substituted_in_longer_strings() -> None:
    expected = {"a": "http://hl7.org/fhir/administrative-gender|$version$"}
    assert compare(expected, {"a": "http://hl7.org/fhir/administrative-gender|4.0.1"}) is None
    assert compare(expected, {"a": "http://hl7.org/fhir/administrative-gender|5.0.0"}) is not None


def test_external_uses_the_externals_string_when_given() -> None:
    expected = {"a": "$external:1:code1x$"}
    assert compare(expected, {"a": "Unknown code 'code1x'"}, externals={"1": "Unknown code 'code1x'"}) is None
    message = compare(expected, {"a": "code1x is unknown"}, externals={"1": "Unknown code 'code1x'"})
    assert message == ('string property values differ at .a\nExpected:"Unknown code \'code1x\'" (Ext) for t1\n'
                       'Actual  :"code1x is unknown"')


def test_external_without_externals_checks_the_fragments() -> None:
    assert compare({"a": "$external:1:code1x|simple$"}, {"a": "code1x not in Simple"}) is None
    message = compare({"a": "$external:1:code1x|simple$"}, {"a": "not found"})
    assert message is not None and "Contains all of [code1x, simple] (because no external string provided for 1)" \
        in message
    assert compare({"a": "$external:2$"}, {"a": "anything"}) is None


def test_external_fragments_stop_at_the_next_colon_like_the_java_split() -> None:
    # "$external:1:http://x/ValueSet/a$" splits on every ':', so only "http" is checked
    assert compare({"a": "$external:1:http://x/ValueSet/a$"}, {"a": "see http://other"}) is None


def test_unknown_template_is_an_error() -> None:
    with pytest.raises(UnhandledTemplateError):
        compare({"a": "$nonsense$"}, {"a": "x"})


# -- pattern mode arrays ----------------------------------------------------------------------------------------

def test_pattern_mode_finds_expected_items_in_order_among_others() -> None:
    expected = {"rest": [{"mode": "server", "operation": [{"name": "expand"}, {"name": "lookup"}]}]}
    actual = {"rest": [{"mode": "server", "operation": [{"name": "closure"}, {"name": "expand"}, {"name": "lookup"},
                                                         {"name": "translate"}]}]}
    assert compare(expected, actual, pattern=True) is None
    reversed_ = {"rest": [{"mode": "server", "operation": [{"name": "lookup"}, {"name": "expand"}]}]}
    message = compare(expected, reversed_, pattern=True)
    assert message is not None
    assert message.startswith("The expected item at .rest at index 0 was not found: \r\n  The expected item at "
                              ".rest[0].operation at index 1 was not found")


# -- sorting and scrubbing (TxTesterSorters, TxTesterScrubbers) --------------------------------------------------

def test_sort_parameters_by_name_and_message_pieces() -> None:
    actual = {"resourceType": "Parameters", "parameter": [
        {"name": "result", "valueBoolean": False},
        {"name": "message", "valueString": "b problem; a problem"},
        {"name": "issues", "resource": {"resourceType": "OperationOutcome", "issue": [
            {"severity": "warning", "code": "invalid"}, {"severity": "error", "code": "invalid"}]}},
    ]}
    sort_parameters(actual)
    assert [p["name"] for p in actual["parameter"]] == ["issues", "message", "result"]
    assert actual["parameter"][1]["valueString"] == "a problem; b problem"
    assert [i["severity"] for i in actual["parameter"][0]["resource"]["issue"]] == ["error", "warning"]


def test_sort_parameters_orders_properties_by_code_and_parts_by_name() -> None:
    actual = {"resourceType": "Parameters", "parameter": [
        {"name": "property", "part": [{"name": "value", "valueCode": "x"}, {"name": "code", "valueCode": "status"}]},
        {"name": "property", "part": [{"name": "code", "valueCode": "parent"}, {"name": "value", "valueCode": "y"}]},
        {"name": "display", "valueString": "D"},
    ]}
    sort_parameters(actual)
    assert [p["name"] for p in actual["parameter"]] == ["display", "property", "property"]
    assert actual["parameter"][1]["part"][0]["valueCode"] == "parent"
    assert [p["name"] for p in actual["parameter"][2]["part"]] == ["code", "value"]


def test_sorted_actual_matches_a_file_stored_in_sorted_order() -> None:
    expected = {"resourceType": "Parameters", "parameter": [{"name": "code", "valueCode": "c"},
                                                            {"name": "result", "valueBoolean": True}]}
    actual = {"resourceType": "Parameters", "parameter": [{"name": "result", "valueBoolean": True},
                                                          {"name": "code", "valueCode": "c"}]}
    assert compare(expected, actual) is not None
    normalize(actual)
    assert compare(expected, actual) is None


def test_sort_value_set_expansion() -> None:
    vs = {"resourceType": "ValueSet", "expansion": {
        "parameter": [{"name": "used-codesystem", "valueUri": "b"}, {"name": "excludeNested", "valueBoolean": True},
                      {"name": "used-codesystem", "valueUri": "a"}],
        "property": [{"code": "b", "uri": "http://b"}, {"code": "a"}],
        "contains": [{"code": "code2", "contains": [{"code": "z"}, {"code": "y"}]}, {"code": "code10"},
                     {"code": "code1", "designation": [{"language": "de", "value": "x"},
                                                       {"language": "da", "value": "y"}]}],
    }}
    sort_value_set(vs)
    exp = vs["expansion"]
    assert [(p["name"], p.get("valueUri")) for p in exp["parameter"]] == \
        [("excludeNested", None), ("used-codesystem", "a"), ("used-codesystem", "b")]
    assert [p["code"] for p in exp["property"]] == ["a", "b"]  # no uri sorts first
    assert [c["code"] for c in exp["contains"]] == ["code1", "code10", "code2"]
    assert [c["code"] for c in exp["contains"][2]["contains"]] == ["y", "z"]
    assert [d["language"] for d in exp["contains"][0]["designation"]] == ["da", "de"]


def test_scrub_removes_narrative_meta_and_diagnostics() -> None:
    outcome = {"resourceType": "OperationOutcome", "text": {"status": "generated", "div": "<div/>"}, "meta": {},
               "issue": [{"severity": "error", "code": "not-found", "details": {"text": "x"}, "diagnostics": "d"},
                         {"severity": "information", "code": "informational", "diagnostics": "X-Request-Id: 1"}]}
    normalize(outcome)
    assert outcome == {"resourceType": "OperationOutcome",
                       "issue": [{"severity": "error", "code": "not-found", "details": {"text": "x"}}]}


def test_loose_scrub_keeps_managed_extensions_and_everything_in_compose() -> None:
    other = {"url": "http://example.org/ext", "valueString": "x"}
    managed = {"url": "http://hl7.org/fhir/StructureDefinition/itemWeight", "valueDecimal": 1}
    vs = {"resourceType": "ValueSet", "extension": [other, managed],
          "compose": {"include": [{"system": "s", "extension": [other]}]},
          "expansion": {"contains": [{"code": "a", "extension": [other, {"url": "relative"}]}]}}
    tight = copy.deepcopy(vs)
    scrub_domain_resource(tight, tight=True)
    assert tight == vs
    scrub_domain_resource(vs, tight=False)
    assert vs["extension"] == [managed]
    assert vs["compose"]["include"][0]["extension"] == [other]
    assert vs["expansion"]["contains"][0]["extension"] == [{"url": "relative"}]


def test_java_string_order_and_split() -> None:
    assert java_compare("B", "a") < 0 and java_compare("a", "a") == 0
    assert java_compare("\uffff", "\U0001F600") > 0  # UTF-16: a surrogate sorts before U+FFFF
    assert java_split("a|b||", "|") == ["a", "b"]
    assert java_split("ab", "|") == ["ab"]


def test_numbers_keep_their_text() -> None:
    assert dump_json(parse_json('{"a": 1.50, "b": 2}'), indent=None) == '{"a": 1.50, "b": 2}'


# -- R5 <-> R4 --------------------------------------------------------------------------------------------------

def test_r4_answer_becomes_r5_before_comparing() -> None:
    r4 = {"resourceType": "ValueSet", "status": "active", "unknownElement": 1, "expansion": {
        "extension": [{"url": EXT_VS_EXP_PROP, "extension": [{"url": "code", "valueCode": "status"},
                                                             {"url": "uri", "valueUri": "http://p"}]}],
        "contains": [{"code": "a", "display": "", "extension": [
            {"url": EXT_VS_CONT_PROP, "extension": [{"url": "code", "valueCode": "status"},
                                                    {"url": "value[x]", "valueCode": "retired"}]}]}]}}
    assert r4_to_r5(r4) == {"resourceType": "ValueSet", "status": "active", "expansion": {
        "property": [{"code": "status", "uri": "http://p"}],
        "contains": [{"code": "a", "property": [{"code": "status", "valueCode": "retired"}]}]}}


def test_r5_request_loses_what_r4_cannot_carry() -> None:
    r5 = {"resourceType": "Parameters", "parameter": [
        {"name": "tx-resource", "resource": {
            "resourceType": "CodeSystem", "url": "http://cs", "versionAlgorithmCoding": {"code": "semver"},
            "title:de": "Titel", "concept": [{"code": "a", "designation": [{"value": "A", "additionalUse": []}]}]}},
        {"name": "tx-resource", "resource": {
            "resourceType": "ValueSet", "compose": {"include": [{"system": "http://cs", "filter": [
                {"property": "concept", "op": "child-of", "value": "a"}]}]}}},
        {"name": "count", "valueInteger64": "5"}]}
    assert r5_to_r4(r5) == {"resourceType": "Parameters", "parameter": [
        {"name": "tx-resource", "resource": {"resourceType": "CodeSystem", "url": "http://cs",
                                             "concept": [{"code": "a", "designation": [{"value": "A"}]}]}},
        {"name": "tx-resource", "resource": {"resourceType": "ValueSet", "compose": {"include": [
            {"system": "http://cs", "filter": [{"property": "concept", "value": "a"}]}]}}},
        {"name": "count"}]}


def test_concept_map_relationship_becomes_equivalence() -> None:
    r5 = {"resourceType": "ConceptMap", "sourceScopeUri": "http://vs1", "group": [{
        "source": "http://cs1|1.0", "target": "http://cs2",
        "element": [{"code": "a", "target": [{"code": "b", "relationship": "source-is-narrower-than-target"},
                                             {"code": "c"}]},
                    {"code": "d", "noMap": True}],
        "unmapped": {"mode": "use-source-code", "relationship": "equivalent"}}]}
    assert r5_to_r4(r5) == {"resourceType": "ConceptMap", "sourceUri": "http://vs1", "group": [{
        "source": "http://cs1", "sourceVersion": "1.0", "target": "http://cs2",
        "element": [{"code": "a", "target": [{"code": "b", "equivalence": "wider"},
                                             {"code": "c", "equivalence": "relatedto"}]},
                    {"code": "d", "target": [{"equivalence": "unmatched"}]}],
        "unmapped": {"mode": "provided"}}]}


# -- runner rules -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expected, code, ok", [
    ("2xx", 200, True), ("2xx", 404, False), ("4xx", 422, True), ("4xx", 500, False), ("422", 422, True),
    ("422", 400, False)])
def test_http_status_class(expected: str, code: int, ok: bool) -> None:
    assert _http_code_ok(expected, code) == ok


def test_unknown_http_code_string_is_a_test_error() -> None:
    with pytest.raises(TxTestError):
        _http_code_ok("4xxx", 400)


@pytest.mark.parametrize("item, ok", [
    ({}, True), ({"mode": "general"}, True), ({"mode": "tx.fhir.org"}, False), ({"modes": ["x", "general"]}, True)])
def test_modes(item: dict[str, Any], ok: bool) -> None:
    assert _passes_modes(item, ("general",)) == ok


@pytest.mark.parametrize("wanted, ok", [("4.0", True), ("5.0", False), ("!4.0", False), ("!5.0", True)])
def test_fhir_version_filter(wanted: str, ok: bool) -> None:
    assert _passes_version({"version": wanted}, "4.0.1") == ok


def test_response_for_a_mode_is_chosen_when_that_mode_is_on() -> None:
    test = {"response": "a.json", "response:flat": "b.json"}
    assert _choose(test, "response", ("general",)) == "a.json"
    assert _choose(test, "response", ("general", "flat")) == "b.json"
