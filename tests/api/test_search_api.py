"""``GET /api/search``: plain JSON typeahead over the real releases — the result shape, system aliases echoed,
limit/offset, activeOnly, all systems at once, and OperationOutcome errors."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.fhir_check import check_outcome

SEARCH = "/api/search"
ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
NPU = "urn:oid:1.2.208.176.2.1"
MAX_LIMIT = 200
FIELDS = {"system": str, "code": str, "display": str, "matched_term": str, "match_kind": str, "score": float}
MATCH_KINDS = {"code", "exact", "prefix", "words", "compound", "sound", "fuzzy", "partial"}


def search(client, query: Any) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    response = client.get(SEARCH, query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, list)
    for hit in body:
        assert set(hit) == set(FIELDS), hit
        for name, kind in FIELDS.items():
            assert isinstance(hit[name], kind) or (kind is float and type(hit[name]) is int), (name, hit)
        assert hit["match_kind"] in MATCH_KINDS
    return body


def found(hits: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(h["system"], h["code"]) for h in hits]


def test_result_shape(client) -> None:
    [hit] = search(client, {"q": "bihulebet", "system": ICPC2})
    assert hit == {"system": ICPC2, "code": "R75", "display": "Akut/kronisk bihulebetændelse",
                   "matched_term": "Akut/kronisk bihulebetændelse", "match_kind": "words", "score": hit["score"]}
    assert 0 < hit["score"] <= 1


@pytest.mark.parametrize(("sent", "shown"), [
    (ICPC2_OID, ICPC2_OID),  # an alias is echoed as sent
    (ICPC2, ICPC2),
    (None, ICPC2),           # no system: the canonical URL
])
def test_system_is_echoed_as_sent(client, sent: str | None, shown: str) -> None:
    hits = search(client, {"q": "hovedpine", **({"system": sent} if sent else {})})
    icpc = [h for h in hits if h["code"] == "N01"]
    assert icpc and icpc[0]["system"] == shown
    if sent:
        assert {h["system"] for h in hits} == {shown}


@pytest.mark.parametrize(("query", "system", "code"), [
    ("hovedpine", ICPC2_OID, "N01"),
    ("kulderystlse", ICPC2_OID, "A02"),
    ("naeldefeber", ICPC2_OID, "S98"),
    ("l84", ICPC2_OID, "L84"),
    ("hjerte banken", ICPC2_OID, "K04"),
    ("dm545", SKS, "DM545"),
    ("M54.5", SKS, "DM545"),
    ("DM545", ICD10, "M54.5"),
])
def test_first_hit(client, query: str, system: str, code: str) -> None:
    assert search(client, {"q": query, "system": system})[0]["code"] == code


def test_every_system_when_none_is_given(client) -> None:
    hits = search(client, {"q": "l84", "limit": 50})
    assert {(ICPC2, "L84"), (ICD10, "L84"), (SKS, "DL84")} <= set(found(hits))
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_several_systems(client) -> None:
    hits = search(client, [("q", "bihulebetændelse"), ("system", ICPC2_OID), ("system", SKS), ("limit", "50")])
    assert {h["system"] for h in hits} == {ICPC2_OID, SKS}
    assert (ICPC2_OID, "R75") in found(hits)


def test_one_system_sent_twice_gives_each_code_once(client) -> None:
    """The same system under its alias and its canonical URL is one system: each code once."""
    hits = search(client, [("q", "hovedpine"), ("system", ICPC2_OID), ("system", ICPC2)])
    assert [h["code"] for h in hits].count("N01") == 1, found(hits)


@pytest.mark.parametrize(("limit", "expected"), [(None, 20), ("1", 1), ("5", 5), ("0", 0), (str(MAX_LIMIT), None)])
def test_limit(client, limit: str | None, expected: int | None) -> None:
    hits = search(client, {"q": "sygdom", **({"limit": limit} if limit is not None else {})})
    everything = search(client, {"q": "sygdom", "limit": MAX_LIMIT})
    assert len(everything) == MAX_LIMIT  # "sygdom" has more hits than fit
    assert found(hits) == found(everything)[:expected]


@pytest.mark.parametrize("size", [1, 7, 20])
def test_offset_pages_through_the_hits(client, size: int) -> None:
    everything = found(search(client, {"q": "infektion", "system": ICPC2, "limit": MAX_LIMIT}))
    assert 10 < len(everything) < MAX_LIMIT
    pages = [found(search(client, {"q": "infektion", "system": ICPC2, "limit": size, "offset": offset}))
             for offset in range(0, len(everything) + size, size)]
    assert [item for page in pages for item in page] == everything
    assert found(search(client, {"q": "infektion", "system": ICPC2, "offset": len(everything)})) == []


def test_active_only(client) -> None:
    everything = search(client, {"q": "benzodiazepin", "system": NPU, "limit": MAX_LIMIT})
    assert "NPU01360" in [h["code"] for h in everything]  # retired
    active = search(client, {"q": "benzodiazepin", "system": NPU, "limit": MAX_LIMIT, "activeOnly": "true"})
    assert "NPU01360" not in [h["code"] for h in active]
    assert set(found(active)) < set(found(everything))
    assert found(search(client, {"q": "benzodiazepin", "system": NPU, "limit": MAX_LIMIT,
                                 "activeOnly": "false"})) == found(everything)


@pytest.mark.parametrize(("query", "mentions"), [
    ({"q": "hoste", "limit": str(MAX_LIMIT + 1)}, ["limit", str(MAX_LIMIT)]),
    ({"q": "hoste", "limit": "-1"}, ["limit"]),
    ({"q": "hoste", "limit": "ti"}, ["limit", "ti"]),
    ({"q": "hoste", "offset": "-1"}, ["offset"]),
    ({"q": "hoste", "offset": "1.5"}, ["offset", "1.5"]),
    ({}, ["'q'"]),
    ({"q": ""}, ["'q'"]),
    ({"q": "   "}, ["'q'"]),
])
def test_bad_request(client, query: dict[str, str], mentions: list[str]) -> None:
    check_outcome(client.get(SEARCH, query_string=query), 400, "invalid", mentions)


@pytest.mark.parametrize("system", ["http://example.org/fhir/CodeSystem/nope", "urn:oid:1.2.3.4"])
def test_unknown_system_is_not_found_by_name(client, system: str) -> None:
    check_outcome(client.get(SEARCH, query_string={"q": "hoste", "system": system}), 404, "not-found", [system])


def test_only_get(client) -> None:
    check_outcome(client.post(SEARCH, query_string={"q": "hoste"}), 405, "not-supported")
