"""``ValueSet/$expand`` with ``filter`` answered by the search engine: the search-match extension on every entry,
implicit value sets and value sets sent in the request body (ranked by the engine, restricted to their members),
displayLanguage (the store path), and paging."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.fhir_check import check_response

EXPAND = "/fhir/ValueSet/$expand"
SEARCH_MATCH = "https://termserver.dk/fhir/StructureDefinition/search-match"
ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
NPU = "urn:oid:1.2.208.176.2.1"
MATCH_KINDS = {"code", "exact", "prefix", "words", "compound", "sound", "fuzzy", "partial"}
CHAPTER_K = {"system": ICPC2, "filter": [{"property": "concept", "op": "is-a", "value": "K"}]}
BLOOD_PRESSURE_AND_MORE = {"system": ICPC2, "concept": [{"code": c} for c in ("K86", "K87", "N01", "K04", "K85")]}


def expand_get(client, **params: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return check_response(client.get(EXPAND, query_string=params), 200, "ValueSet")["expansion"]


def expand_body(client, compose: dict[str, Any], **params: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """$expand of a ValueSet sent in a Parameters body."""
    parameter: list[dict[str, Any]] = [{"name": "valueSet", "resource": {
        "resourceType": "ValueSet", "url": "http://example.org/fhir/ValueSet/picker", "status": "draft",
        "compose": compose}}]
    for name, value in params.items():
        kind = {bool: "valueBoolean", int: "valueInteger"}.get(type(value), "valueString")
        parameter.append({"name": name, kind: value})
    response = client.post(EXPAND, json={"resourceType": "Parameters", "parameter": parameter},
                           content_type="application/fhir+json")
    return check_response(response, 200, "ValueSet")["expansion"]


def codes(expansion: dict[str, Any]) -> list[str]:
    return [entry["code"] for entry in expansion.get("contains", [])]


def search_match(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry's search-match extension as {term, kind, score}."""
    [extension] = [e for e in entry.get("extension", []) if e["url"] == SEARCH_MATCH]
    found = {}
    for part in extension["extension"]:
        [(key, value)] = [(k, v) for k, v in part.items() if k.startswith("value")]
        found[part["url"]] = (key, value)
    assert set(found) == {"term", "kind", "score"}, found
    assert found["term"][0] == "valueString" and found["kind"][0] == "valueCode"
    assert found["score"][0] == "valueDecimal"
    return {name: value for name, (_, value) in found.items()}


def assert_every_entry_has_a_search_match(expansion: dict[str, Any]) -> None:
    assert expansion.get("contains"), "nothing found"
    scores = []
    for entry in expansion["contains"]:
        match = search_match(entry)
        assert match["kind"] in MATCH_KINDS
        assert match["term"].strip()
        scores.append(match["score"])
    assert scores == sorted(scores, reverse=True)


# --- implicit value sets --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "text", "first", "kind"), [
    (f"{ICPC2}?fhir_vs", "hovedpine", "N01", "exact"),
    (f"{ICPC2_OID}?fhir_vs", "kulderystlse", "A02", "fuzzy"),
    (f"{ICPC2_OID}?fhir_vs", "naeldefeber", "S98", "exact"),
    (f"{ICPC2_OID}?fhir_vs", "bihulebet", "R75", "words"),
    (f"{ICPC2_OID}?fhir_vs", "l84", "L84", "code"),
    (f"{SKS}?fhir_vs", "DM54.5", "DM545", "code"),
])
def test_implicit_value_set_is_ranked_by_the_engine(client, url: str, text: str, first: str, kind: str) -> None:
    expansion = expand_get(client, url=url, filter=text, count=20)
    assert codes(expansion)[0] == first
    assert search_match(expansion["contains"][0])["kind"] == kind
    assert_every_entry_has_a_search_match(expansion)
    assert all(entry["system"] == url.split("?")[0] for entry in expansion["contains"])


def test_no_filter_no_search_match(client) -> None:
    expansion = expand_get(client, url=f"{ICPC2}?fhir_vs", count=5)
    assert all("extension" not in entry for entry in expansion["contains"])


# --- value sets sent in the body ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("compose", "text", "expected"), [
    # K86 first: "hypertension" is word for word a synonym of it in the lexicon; K85: an inclusion term
    ({"include": [BLOOD_PRESSURE_AND_MORE]}, "hypertension", ["K86", "K87", "K85"]),
    ({"include": [BLOOD_PRESSURE_AND_MORE]}, "hjertebankn", ["K04"]),       # a typo: the engine, not the store
    ({"include": [BLOOD_PRESSURE_AND_MORE]}, "hovedpine", ["N01"]),
    ({"include": [BLOOD_PRESSURE_AND_MORE]}, "kulderystlse", []),           # A02 is not a member
    ({"include": [CHAPTER_K]}, "hovedpine", []),
    ({"include": [CHAPTER_K]}, "hjerte banken", ["K04"]),
    ({"include": [CHAPTER_K]}, "k8", ["K80", "K81", "K82", "K83", "K84", "K85", "K86", "K87", "K88", "K89"]),
    ({"include": [CHAPTER_K], "exclude": [{"system": ICPC2, "concept": [{"code": "K87"}]}]}, "hypertension",
     ["K86", "K25", "K85", "K82"]),
])
def test_value_set_in_the_body_is_ranked_by_the_engine(client, compose: dict[str, Any], text: str,
                                                       expected: list[str]) -> None:
    expansion = expand_body(client, compose, filter=text, count=50)
    assert codes(expansion) == expected
    assert expansion["total"] == len(expected)
    if expected:
        assert_every_entry_has_a_search_match(expansion)


@pytest.mark.parametrize("text", ["hjerte", "hypertension", "blodtryk", "k8", "smerte", "hjertebankn"])
def test_members_keep_the_order_of_the_whole_system(client, text: str) -> None:
    """Ranking a composed value set is the ranking of the whole system, restricted to the members."""
    whole = codes(expand_get(client, url=f"{ICPC2}?fhir_vs", filter=text, count=1000))
    members = set(codes(expand_get(client, url=f"{ICPC2}?fhir_vs=isa/K", excludeNested="true")))
    chapter = expand_body(client, {"include": [CHAPTER_K]}, filter=text, count=1000)
    assert codes(chapter) == [code for code in whole if code in members]
    assert codes(chapter)
    assert_every_entry_has_a_search_match(chapter)


def test_alias_in_the_body_is_echoed(client) -> None:
    expansion = expand_body(client, {"include": [{"system": ICPC2_OID, "concept": [{"code": "K86"},
                                                                                  {"code": "K87"}]}]},
                            filter="hypertension")
    assert codes(expansion) == ["K86", "K87"]
    assert {entry["system"] for entry in expansion["contains"]} == {ICPC2_OID}
    assert [search_match(e)["kind"] for e in expansion["contains"]] == ["exact", "words"]


def test_whole_system_in_the_body_leaves_out_inactive_codes_when_the_compose_says_so(client) -> None:
    """``compose.inactive = false`` holds with a filter too (NPU01360 is retired)."""
    everything = expand_body(client, {"include": [{"system": NPU}]}, filter="benzodiazepin")
    assert "NPU01360" in codes(everything)
    active = expand_body(client, {"inactive": False, "include": [{"system": NPU}]}, filter="benzodiazepin")
    assert "NPU01360" not in codes(active), [(e["code"], e.get("inactive")) for e in active["contains"]]
    assert all("inactive" not in entry for entry in active["contains"])


def test_a_system_included_twice_gives_each_code_once(client) -> None:
    expansion = expand_body(client, {"include": [{"system": ICPC2}, {"system": ICPC2}]}, filter="hovedpine")
    assert len(codes(expansion)) == len(set(codes(expansion))), codes(expansion)
    assert expansion["total"] == len(set(codes(expansion)))


# --- displayLanguage: the store path, still ranked ------------------------------------------------------------------

@pytest.mark.parametrize(("text", "first", "display"), [
    ("hypertension ukompliceret", "K86", "Hypertension uncomplicated"),
    ("hjertebankn", "K04", "Palpitations/awareness of heart"),
    ("hovedpine", "N01", "Headache"),
    ("headache", "N01", "Headache"),
])
def test_display_language_with_a_filter(client, text: str, first: str, display: str) -> None:
    expansion = expand_get(client, url=f"{ICPC2_OID}?fhir_vs", filter=text, displayLanguage="en", count=10)
    assert codes(expansion)[0] == first
    assert expansion["contains"][0]["display"] == display
    assert_every_entry_has_a_search_match(expansion)
    danish = expand_get(client, url=f"{ICPC2_OID}?fhir_vs", filter=text, count=10)
    assert codes(danish) == codes(expansion)  # the same ranking, other displays


def test_display_language_with_a_value_set_in_the_body(client) -> None:
    expansion = expand_body(client, {"include": [BLOOD_PRESSURE_AND_MORE]}, filter="hypertension",
                            displayLanguage="en")
    assert [(e["code"], e["display"]) for e in expansion["contains"]] == [
        ("K86", "Hypertension uncomplicated"), ("K87", "Hypertension complicated"),
        ("K85", "Elevated blood pressure")]


# --- paging ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "text", "size"), [
    ("implicit", "infektion", 7),
    ("implicit", "hjerte", 5),
    ("body", "hjerte", 4),
    ("body", "k8", 3),
    ("english", "infektion", 20),
])
def test_paging_with_a_filter_is_stable(client, source: str, text: str, size: int) -> None:
    def page(**params: Any) -> dict[str, Any]:
        if source == "body":
            return expand_body(client, {"include": [CHAPTER_K]}, filter=text, **params)
        extra = {"displayLanguage": "en"} if source == "english" else {}
        return expand_get(client, url=f"{ICPC2_OID}?fhir_vs", filter=text, **extra, **params)

    whole = page(count=1000)
    assert whole["total"] > size
    pages = []
    for offset in range(0, whole["total"] + size, size):
        one = page(count=size, offset=offset)
        assert one["total"] == whole["total"]
        assert len(codes(one)) <= size
        pages.append(codes(one))
    assert [code for one in pages for code in one] == codes(whole)
    assert codes(page(count=size, offset=size)) == pages[1]  # asked again: the same page


# --- displayLanguage from the index path -----------------------------------------------------------------------------

WHO_ICD10 = "http://hl7.org/fhir/sid/icd-10"
MCS = "urn:oid:1.2.208.184.100.8"


def _comparable(expansion: dict[str, Any]) -> dict[str, Any]:
    """An expansion without what differs between two answers to the same request (its id and timestamp)."""
    return {key: value for key, value in expansion.items() if key not in ("identifier", "timestamp")}


@pytest.mark.parametrize("language", [None, "da", "en", "da-DK", "de", "en, da; q=0.5", "de, *; q=0", "fr, en; q=0.2"])
@pytest.mark.parametrize(("system", "text"), [
    (ICPC2, "bihulebet"), (ICPC2_OID, "hjertebank"), (ICPC2, "k8"), (ICPC2, "sinusitis"),
    (SKS, "diabetes"), (SKS, "DJ44"), (WHO_ICD10, "asthma"), (NPU, "hæmoglobin"), (MCS, "blodtryk"),
])
def test_the_index_answers_a_typeahead_expansion_as_the_evaluated_value_set_does(
        client, monkeypatch, system: str, text: str, language: str | None) -> None:  # type: ignore[no-untyped-def]
    """A filtered expansion of a whole system is answered from the search index and its snapshot, without the
    store; the answer is the one the evaluated value set gives (entries, displays, used code systems and
    supplements), with no language, a displayLanguage (the web page sends da) or an Accept-Language header (every
    browser sends one)."""
    from termserver.services import valuesets

    params: dict[str, Any] = {"url": f"{system}?fhir_vs", "filter": text, "count": 20}
    with_language = {**params, "displayLanguage": language} if language else params
    headers = {"Accept-Language": language} if language else {}
    by_index = expand_get(client, **with_language)
    by_index_header = check_response(client.get(EXPAND, query_string=params, headers=headers),
                                     200, "ValueSet")["expansion"]
    monkeypatch.setattr(valuesets, "_rows_from_index", lambda *args: None)
    by_store = expand_get(client, **with_language)
    by_store_header = check_response(client.get(EXPAND, query_string=params, headers=headers),
                                     200, "ValueSet")["expansion"]
    assert by_index.get("contains"), f"{text!r} found nothing in {system}"
    assert _comparable(by_index) == _comparable(by_store)
    assert _comparable(by_index_header) == _comparable(by_store_header)
