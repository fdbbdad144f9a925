"""ValueSet/$expand against the real releases: text filter, paging, totals, activeOnly, designations, languages,
value sets sent in the request, and the size guard."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.fhir_check import check_outcome, check_response, tx_codes

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
ICPC2_ALL = f"{ICPC2_OID}?fhir_vs"
SKS_ALL = "urn:oid:1.2.208.176.2.4.12?fhir_vs"
NPU_ALL = "urn:oid:1.2.208.176.2.1?fhir_vs"
EXPAND = "/fhir/ValueSet/$expand"
ICPC2_CODES = 752  # 726 ICPC-2e rubrics and process codes, 17 chapters, 9 Danish extra codes
SKS_CODES = 24979


def expand(client, **params: Any) -> dict[str, Any]:
    return check_response(client.get(EXPAND, query_string=params), 200, "ValueSet")["expansion"]


def codes(expansion: dict[str, Any]) -> list[str]:
    return [entry["code"] for entry in expansion.get("contains", [])]


def expansion_parameters(expansion: dict[str, Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for parameter in expansion.get("parameter", []):
        found.setdefault(parameter["name"], []).extend(v for k, v in parameter.items() if k.startswith("value"))
    return found


@pytest.mark.parametrize("url", [ICPC2_ALL, f"{ICPC2}?fhir_vs"])
def test_filter_hovedpine_ranks_n01_first(client, url):
    response = client.get(EXPAND, query_string={"url": url, "filter": "hovedpine"})
    value_set = check_response(response, 200, "ValueSet")
    assert value_set["url"] == url
    expansion = value_set["expansion"]
    assert codes(expansion)[0] == "N01"
    assert expansion["contains"][0]["display"] == "Hovedpine"
    assert expansion["total"] == len(expansion["contains"])
    # every concept whose own display has the word comes before those found through other terms (an ICD-10 text
    # mapped to the rubric, an English inclusion term) — except exact matches: N03 has the mapped ICD-10 text
    # "Hovedpine" (R51) word for word, and exact matches of any term rank above partial ones
    by_display = [e["code"] for e in expansion["contains"] if "hovedpine" in e["display"].lower()]
    assert {"N01", "N90", "N95"} <= set(by_display)
    other = [c for c in codes(expansion) if c not in by_display]
    positions = {code: i for i, code in enumerate(codes(expansion))}
    assert max(positions[c] for c in by_display if c != "N01") < min((positions[c] for c in other
                                                                      if c != "N03"), default=99)
    assert all(entry["system"] == url.split("?")[0] for entry in expansion["contains"])
    assert expansion_parameters(expansion)["filter"] == ["hovedpine"]
    assert expansion_parameters(expansion)["used-codesystem"] == [f"{ICPC2}|7.0"]


@pytest.mark.parametrize(("text", "first"), [
    ("Hovedpine", "N01"),
    ("HOVEDPINE", "N01"),
    ("K86", "K86"),                      # an exact code ranks first
    ("ukompliceret hypertension", "K86"),
    ("hypertension ukompliceret", "K86"),  # words in any order
    ("hyperten ukompl", "K86"),            # word starts
])
def test_filter_ranking(client, text, first):
    assert codes(expand(client, url=ICPC2_ALL, filter=text))[0] == first


def test_filter_in_english(client):
    expansion = expand(client, url=ICPC2_ALL, filter="headache", displayLanguage="en")
    assert codes(expansion)[0] == "N01"
    assert expansion["contains"][0]["display"] == "Headache"


def test_filter_matching_nothing(client):
    expansion = expand(client, url=ICPC2_ALL, filter="xyzzyqq")
    assert expansion["total"] == 0
    assert "contains" not in expansion


def test_whole_small_system_without_count(client):
    expansion = expand(client, url=ICPC2_ALL, excludeNested="true")
    assert expansion["total"] == ICPC2_CODES == len(expansion["contains"])
    assert len(set(codes(expansion))) == ICPC2_CODES
    assert {"K86", "N01", "A30", "D86"} <= set(codes(expansion))
    chapter = next(entry for entry in expansion["contains"] if entry["code"] == "K")
    assert chapter["abstract"] is True


def test_whole_system_nests_codes_under_their_chapters(client):
    """Without excludeNested a whole-system expansion is a tree (as tx.fhir.org answers): the 17 chapters and the
    40 process codes shared by every chapter at the top, each rubric under its chapter."""
    expansion = expand(client, url=ICPC2_ALL)
    assert expansion["total"] == ICPC2_CODES
    roots = codes(expansion)
    assert roots[:17] == list("ABDFHKLNPRSTUWXYZ") and len(roots) == 17 + 40 and "-30" in roots
    chapter = next(entry for entry in expansion["contains"] if entry["code"] == "K")
    assert {"K86", "K74"} <= {child["code"] for child in chapter["contains"]}
    assert all(not child["code"].startswith(("A", "D")) for child in chapter["contains"])

    def count(entries: list[dict[str, Any]]) -> int:
        return sum(1 + count(entry.get("contains", [])) for entry in entries)

    assert count(expansion["contains"]) == ICPC2_CODES


@pytest.mark.parametrize("count", [100, 333])
def test_paging_walks_the_whole_expansion_once(client, count):
    whole = codes(expand(client, url=ICPC2_ALL, excludeNested="true"))
    paged: list[str] = []
    for offset in range(0, ICPC2_CODES, count):
        page = expand(client, url=ICPC2_ALL, count=count, offset=offset)
        assert page["total"] == ICPC2_CODES
        assert page.get("offset", 0) == offset
        assert len(page["contains"]) == min(count, ICPC2_CODES - offset)
        paged += codes(page)
    assert paged == whole


def test_paging_is_stable_on_a_large_system(client):
    first = expand(client, url=SKS_ALL, count=10, offset=0)
    again = expand(client, url=SKS_ALL, count=10, offset=0)
    shifted = expand(client, url=SKS_ALL, count=10, offset=5)
    assert codes(first) == codes(again)
    assert codes(shifted)[:5] == codes(first)[5:]
    assert first["total"] == shifted["total"] == SKS_CODES


def test_large_system_expands_in_release_order(client):
    assert codes(expand(client, url=SKS_ALL, count=4)) == ["D", "DA00", "DA000", "DA001"]


_WHOLE: dict[str | None, dict[str, Any]] = {}  # filter → the unpaged expansion, fetched once per session


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(count=st.integers(min_value=0, max_value=60), offset=st.integers(min_value=0, max_value=ICPC2_CODES + 10),
       text=st.sampled_from([None, "smerte", "hypertension", "K", "ondt i"]))
def test_pages_never_exceed_count_and_slice_the_expansion(app, count, offset, text):
    client = app.test_client()
    query = {"url": ICPC2_ALL, "excludeNested": "true", **({"filter": text} if text else {})}
    if text not in _WHOLE:
        _WHOLE[text] = expand(client, **query, count=1000)
    whole = _WHOLE[text]
    page = expand(client, **query, count=count, offset=offset)
    assert page["total"] == whole["total"]
    assert len(page.get("contains", [])) <= count
    assert codes(page) == codes(whole)[offset:offset + count]


def test_count_zero_gives_only_the_total(client):
    expansion = expand(client, url=ICPC2_ALL, count=0)
    assert expansion["total"] == ICPC2_CODES
    assert "contains" not in expansion


def test_too_big_without_count_is_too_costly(client):
    issue = check_outcome(client.get(EXPAND, query_string={"url": SKS_ALL}), 400, "too-costly",
                          [SKS_ALL, str(SKS_CODES), "count"])
    assert issue["severity"] == "error"


def test_too_big_with_count_pages(client):
    expansion = expand(client, url=SKS_ALL, count=10)
    assert len(expansion["contains"]) == 10
    assert expansion["total"] == SKS_CODES
    assert all(entry["system"] == "urn:oid:1.2.208.176.2.4.12" for entry in expansion["contains"])


def test_a_page_larger_than_the_limit_is_too_costly(client, app):
    limit = app.config["TERMSERVER"]["EXPAND_LIMIT"]
    check_outcome(client.get(EXPAND, query_string={"url": SKS_ALL, "count": limit + 1}), 400, "too-costly",
                  [f"count={limit + 1}", str(limit)])
    small = expand(client, url=ICPC2_ALL, count=limit + 1, excludeNested="true")  # small: no limit hit
    assert len(small["contains"]) == ICPC2_CODES


def test_active_only(client):
    assert expand(client, url=NPU_ALL, count=0)["total"] == 9741
    assert expand(client, url=NPU_ALL, count=0, activeOnly="true")["total"] == 8901
    everything = expand(client, url=NPU_ALL, filter="benzodiazepine")
    retired = next(entry for entry in everything["contains"] if entry["code"] == "NPU01360")
    assert retired["inactive"] is True
    active = expand(client, url=NPU_ALL, filter="benzodiazepine", activeOnly="true")
    assert "NPU01360" not in codes(active)
    assert active["total"] == everything["total"] - sum(1 for e in everything["contains"] if e.get("inactive"))
    assert all("inactive" not in entry for entry in active["contains"])
    assert expansion_parameters(active)["activeOnly"] == [True]


def test_include_designations(client):
    plain = expand(client, url=ICPC2_ALL, filter="K86", count=1)
    assert "designation" not in plain["contains"][0]
    rich = expand(client, url=ICPC2_ALL, filter="K86", count=1, includeDesignations="true")
    entry = rich["contains"][0]
    assert entry["code"] == "K86"
    found = {(d.get("language"), d["value"]) for d in entry["designation"]}
    # the Danish text is the display; designations list the others (as tx.fhir.org: the shown one is not repeated)
    assert entry["display"] == "Ukompliceret hypertension"
    assert ("en", "Hypertension uncomplicated") in found and ("da", "Ukompliceret hypertension") not in found


@pytest.mark.parametrize(("language", "display"), [
    (None, "Ukompliceret hypertension"),
    ("en", "Hypertension uncomplicated"),
    ("nb", "Hypertensjon ukomplisert"),
])
def test_display_language(client, language, display):
    params = {"url": ICPC2_ALL, "filter": "K86", "count": 1, **({"displayLanguage": language} if language else {})}
    assert expand(client, **params)["contains"][0]["display"] == display


def test_implicit_is_a_value_set(client):
    expansion = expand(client, url=f"{ICPC2}?fhir_vs=isa/K", excludeNested="true")
    found = codes(expansion)
    assert found[0] == "K"
    assert {"K01", "K86", "K99"} <= set(found)
    assert all(code.startswith("K") for code in found)
    assert expansion["total"] == len(found) == 42


def test_value_set_sent_in_the_body(client):
    value_set = {"resourceType": "ValueSet", "url": "http://example.org/fhir/ValueSet/blood-pressure",
                 "status": "draft", "compose": {
                     "include": [{"system": ICPC2, "concept": [{"code": "K87"}, {"code": "K86"},
                                                                {"code": "K85", "display": "Målt højt blodtryk"}]},
                                 {"system": ICPC2, "filter": [{"property": "concept", "op": "in",
                                                               "value": "W81,W84"}]}],
                     "exclude": [{"system": ICPC2, "concept": [{"code": "W84"}]}]}}
    response = client.post(EXPAND, json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": value_set}, {"name": "count", "valueInteger": 10}]},
        content_type="application/fhir+json")
    result = check_response(response, 200, "ValueSet")
    assert result["url"] == value_set["url"]
    assert "compose" not in result  # the definition is echoed only with includeDefinition (as tx.fhir.org)
    assert result["expansion"]["total"] == 4
    contains = result["expansion"]["contains"]
    assert [e["code"] for e in contains] == ["K87", "K86", "K85", "W81"]
    assert contains[2]["display"] == "Målt højt blodtryk"  # the value set's own display wins
    response = client.post(EXPAND, json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": value_set}, {"name": "includeDefinition", "valueBoolean": True}]},
        content_type="application/fhir+json")
    assert check_response(response, 200, "ValueSet")["compose"] == value_set["compose"]


def test_instance_form_of_an_unknown_value_set(client):
    check_outcome(client.get("/fhir/ValueSet/no-such-value-set/$expand"), 404, "not-found",
                  ["ValueSet/no-such-value-set"])


@pytest.mark.parametrize(("compose", "path"), [
    ({"include": "everything"}, "ValueSet.compose.include"),
    ({"include": [{"system": ICPC2, "concept": [{"display": "no code"}]}]}, "ValueSet.compose.include[0].concept[0]"),
    ({"include": [{"system": 42}]}, "ValueSet.compose.include[0].system"),
    ({"include": [{"system": ICPC2, "filter": [{"property": "concept", "op": "is-a"}]}]},
     "ValueSet.compose.include[0].filter[0]"),
    ({"include": [{"valueSet": "http://example.org/vs"}]}, "ValueSet.compose.include[0].valueSet"),
])
def test_malformed_value_set_in_the_body(client, compose, path):
    response = client.post(EXPAND, json={"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "status": "draft", "compose": compose}}]})
    issue = check_outcome(response, 400, "invalid", [path])
    assert issue["expression"] == [path]
    assert tx_codes({"issue": [issue]}) == ["vs-invalid"]
