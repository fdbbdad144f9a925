"""The Danish typeahead engine (``termserver/services/search.py``) on small hand-built indexes: normalisation, word
matching (prefix, AND, compound, sound, typos), codes in ICPC-2, SKS and WHO forms, ranking, and the properties a
picker relies on (an exact code or title first, never more than ``limit``, stable paging, the same answer twice)."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from termserver.errors import NotFound
from termserver.services.search import (KIND_DESIGNATION, KIND_DISPLAY, KIND_MAPPED, KIND_SYNONYM, SearchIndex,
                                        SourceConcept, SystemIndex, code_key, max_typos, normalize, search_codes,
                                        sound)
from termserver.services.search_index import _code_keys
from termserver.systems import ICD10, ICPC2, SKS_DIAGNOSES

PROPERTY = settings(max_examples=60, deadline=None)


def concept(code: str, display: str, *terms: tuple[str, int], active: bool = True,
            abstract: bool = False) -> SourceConcept:
    """A concept found by its display and ``terms`` (text, KIND_*), as search_index._sources builds them."""
    return SourceConcept(code, display, active, abstract, [(display, KIND_DISPLAY), *terms])


def synonym(text: str) -> tuple[str, int]:
    return (text, KIND_SYNONYM)


def designation(text: str) -> tuple[str, int]:
    return (text, KIND_DESIGNATION)


def mapped(text: str) -> tuple[str, int]:
    return (text, KIND_MAPPED)


# ICPC-2-like: Danish displays, English designations, lexicon synonyms, one mapped ICD-10 text, a chapter and two
# inactive concepts
ICPC2_CONCEPTS = [
    concept("K", "Hjerte-kar", abstract=True),
    concept("A02", "Kulderystelse", designation("Chills"), synonym("kuldegysninger")),
    concept("K04", "Hjertebanken", designation("Palpitations"), synonym("hjertebank")),
    concept("R75", "Akut/kronisk bihulebetændelse", designation("Sinusitis acute/chronic"),
            synonym("bihulebetændelse")),
    concept("S98", "Nældefeber", designation("Urticaria")),
    concept("K95", "Åreknuder", designation("Varicose veins of leg"), synonym("varicer")),
    concept("K96", "Hæmorider", designation("Haemorrhoids")),
    concept("K86", "Ukompliceret hypertension", designation("Hypertension uncomplicated"),
            synonym("forhøjet blodtryk")),
    concept("K87", "Kompliceret hypertension", designation("Hypertension complicated")),
    concept("R02", "Åndenød", designation("Shortness of breath")),
    concept("R05", "Hoste", designation("Cough")),
    concept("R21", "Ondt i halsen", designation("Throat symptom/complaint")),
    concept("N01", "Hovedpine", designation("Headache")),
    concept("S87", "Eksem", designation("Dermatitis/atopic eczema")),
    concept("S73", "Lus/anden infestation", designation("Pediculosis/skin infestation other"),
            mapped("Infestation med kropslus")),
    concept("F73", "Kronisk betændelse i tåresæk", designation("Eye infection/inflammation other")),
    concept("L02", "Smerter i ryg", designation("Back symptom/complaint")),
    concept("L84", "Rygsyndrom uden smerteudstråling", designation("Back syndrome without radiating pain")),
    concept("A99", "Café-besøg", active=False),
    concept("K99", "Hjertebanken efter kaffe", active=False),
]
ICPC2_INDEX = SystemIndex(ICPC2, "7.0", ICPC2_CONCEPTS)


def sks_concept(code: str, display: str) -> SourceConcept:
    source = concept(code, display)
    source.code_keys = _code_keys(SKS_DIAGNOSES, code)
    return source


def who_concept(code: str, display: str) -> SourceConcept:
    source = concept(code, display)
    source.code_keys = _code_keys(ICD10, code)
    return source


SKS_INDEX = SystemIndex(SKS_DIAGNOSES, "2024", [
    sks_concept("DM54", "Rygsmerter"), sks_concept("DM545", "Lændesmerter"),
    sks_concept("DM545A", "Lumbago"), sks_concept("DJ01", "Akut bihulebetændelse")])
WHO_INDEX = SystemIndex(ICD10, "2019", [
    who_concept("M54", "Dorsalgia"), who_concept("M54.5", "Low back pain"), who_concept("J01", "Acute sinusitis")])
EVERYTHING = SearchIndex({ICPC2: ICPC2_INDEX, SKS_DIAGNOSES: SKS_INDEX, ICD10: WHO_INDEX}, generation=1)


def codes(query: str, index: SystemIndex = ICPC2_INDEX) -> list[str]:
    return [hit.code for hit in index.search(query)]


def first(query: str, index: SystemIndex = ICPC2_INDEX):  # type: ignore[no-untyped-def]
    hits = index.search(query)
    assert hits, f"nothing found for {query!r}"
    return hits[0]


# --- normalize ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Hovedpine", "hovedpine"),
    ("Æble", "aeble"),
    ("Øre", "oere"),
    ("Åreknuder", "aareknuder"),
    ("Nældefeber", "naeldefeber"),
    ("Café", "cafe"),                                  # accents folded
    ("Ménière", "meniere"),
    ("Akut/kronisk bihulebetændelse", "akut kronisk bihulebetaendelse"),  # "/" breaks words
    ("Hjerte-kar", "hjerte kar"),                      # "-" breaks words
    ("Crohn's sygdom (IKA).", "crohn s sygdom ika"),  # punctuation breaks words, none left over
    ("snake_case", "snake case"),
    ("  Ondt   i\thalsen \n", "ondt i halsen"),        # one space between words, none at the ends
    ("ﬁbrose", "fibrose"),                            # NFKC: the ligature is two letters
    ("Ｋ８６", "k86"),                                  # NFKC: full-width letters and digits
    ("Straße", "strasse"),                            # casefold, not lower
    ("ÆØÅ", "aeoeaa"),
    ("", ""),
    (" -/ ", ""),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(("danish", "spelled_out"), [
    ("Nældefeber", "naeldefeber"),
    ("Åndenød", "aandenoed"),
    ("ØRE", "oere"),
    ("Åreknuder", "AAREKNUDER"),
    ("Kløe", "kloee"),
    ("Hæmorider", "haemorider"),
    ("Eksém", "eksem"),
    ("Hjerte-kar", "hjerte kar"),
    ("hjerte/kar", "Hjerte, kar"),
])
def test_danish_letters_and_their_spellings_are_equal_both_ways(danish: str, spelled_out: str) -> None:
    assert normalize(danish) == normalize(spelled_out)
    assert normalize(normalize(danish)) == normalize(spelled_out)


@PROPERTY
@given(st.text())
def test_normalizing_twice_changes_nothing(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip() and "  " not in once


_DANISH_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyzæøåéèüö ABCDEFGHIJKLMNOPQRSTUVWXYZÆØÅÉ-/.,",
                       max_size=40)


@PROPERTY
@given(_DANISH_TEXT)
def test_case_and_danish_spelling_never_matter(text: str) -> None:
    spelled = text.replace("æ", "ae").replace("ø", "oe").replace("å", "aa").replace("Æ", "AE").replace(
        "Ø", "OE").replace("Å", "AA")
    assert normalize(text.upper()) == normalize(text.lower()) == normalize(spelled) == normalize(text)


@pytest.mark.parametrize(("code", "key"), [
    ("K86", "k86"), ("DM54.5", "dm545"), ("M54.5", "m545"), ("dm 54.5", "dm545"), ("NPU01360", "npu01360"),
    ("K", "k"),
])
def test_code_key(code: str, key: str) -> None:
    assert code_key(code) == key


@pytest.mark.parametrize(("word", "typos"), [
    ("hud", 0), ("ryg", 0),                  # 3 letters: exact only
    ("hals", 1), ("hoste", 1), ("svimmel", 1),  # 4–7 letters: one typo
    ("hovedpin", 2), ("hovedpine", 2), ("kulderystelse", 2),  # longer: two
])
def test_max_typos(word: str, typos: int) -> None:
    assert max_typos(word) == typos


@pytest.mark.parametrize(("spelling", "other"), [
    ("eksem", "exem"), ("klamydia", "klamidya"), ("andenod", normalize("åndenød")), ("ore", normalize("øre")),
    ("cirkulation", "sirkulation"), ("fimose", "phimose"), ("exsem", "eksem"),
])
def test_sound_key_joins_spellings_people_mix_up(spelling: str, other: str) -> None:
    assert sound(spelling) == sound(other)


# --- matching -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("query", "code", "match_kind", "matched_term"), [
    # exact titles, any spelling of æ/ø/å
    ("Hovedpine", "N01", "exact", "Hovedpine"),
    ("naeldefeber", "S98", "exact", "Nældefeber"),
    ("NÆLDEFEBER", "S98", "exact", "Nældefeber"),
    ("aareknuder", "K95", "exact", "Åreknuder"),
    ("cafe besoeg", "A99", "exact", "Café-besøg"),
    ("palpitations", "K04", "exact", "Palpitations"),        # an English designation
    ("forhoejet blodtryk", "K86", "exact", "forhøjet blodtryk"),  # a lexicon synonym
    ("hjertebank", "K04", "exact", "hjertebank"),             # an exact synonym beats a display prefix
    # prefix of the last word
    ("hovedp", "N01", "prefix", "Hovedpine"),
    ("ondt i hals", "R21", "prefix", "Ondt i halsen"),
    # every word, in any order, each exact or the start of a word
    ("bihulebet", "R75", "words", "Akut/kronisk bihulebetændelse"),
    ("hypertension ukompliceret", "K86", "words", "Ukompliceret hypertension"),
    ("ukompl hyper", "K86", "words", "Ukompliceret hypertension"),   # earlier words abbreviated too
    ("blodtryk forhøjet", "K86", "words", "forhøjet blodtryk"),
    ("kropslus", "S73", "words", "Infestation med kropslus"),       # the text of a mapped ICD-10 code
    # Danish compounds typed apart, and a compound's part
    ("hjerte banken", "K04", "exact", "Hjertebanken"),
    ("betændelse", "F73", "words", "Kronisk betændelse i tåresæk"),
    # dropped diacritics and spellings that sound alike
    ("andenod", "R02", "sound", "Åndenød"),
    ("exem", "S87", "sound", "Eksem"),
    # typos
    ("kulderystlse", "A02", "fuzzy", "Kulderystelse"),
    ("hodte", "R05", "fuzzy", "Hoste"),
    # codes
    ("l84", "L84", "code", "L84"),
    ("L84", "L84", "code", "L84"),
    ("k", "K", "code", "K"),
])
def test_first_hit(query: str, code: str, match_kind: str, matched_term: str) -> None:
    hit = first(query)
    assert (hit.code, hit.match_kind, hit.matched_term) == (code, match_kind, matched_term)
    assert hit.system == ICPC2 and hit.version == "7.0"


@pytest.mark.parametrize(("query", "term_kind"), [
    ("hovedpine", "display"), ("palpitations", "designation"), ("forhoejet blodtryk", "synonym"),
    ("kropslus", "mapped"), ("l84", "code"),
])
def test_where_the_match_was_found_is_reported(query: str, term_kind: str) -> None:
    assert first(query).term_kind == term_kind


@pytest.mark.parametrize(("query", "found", "not_found"), [
    # AND: every word must match within one term
    ("akut betændelse", {"R75"}, {"F73"}),
    ("kronisk betændelse", {"R75", "F73"}, set()),
    ("hjertebanken kaffe", {"K99"}, {"K04"}),
    ("kaffe hjertebanken", {"K99"}, {"K04"}),
    # a compound part is found inside the compound
    ("betændelse", {"F73", "R75"}, set()),
    ("bihulebet", {"R75"}, {"F73"}),
    # typos: 1 for 4–7 letters, 2 for longer, none for 3 letters (counted after normalising)
    ("hoat", {"R05"}, set()),            # 4 letters, one typo, last word typed so far
    ("hqls", {"R21"}, set()),
    ("halsne", {"R21"}, set()),          # a transposition is one typo
    ("hsdte", set(), {"R05"}),           # 5 letters, two typos
    ("hovdpne", set(), {"N01"}),         # 7 letters, two typos
    ("hovdpime", {"N01"}, set()),        # 8 letters, two typos
    ("kuldrystlse", {"A02"}, set()),     # 11 letters, two typos
    ("kldrystlse", set(), {"A02"}),      # three typos
    ("ryg", {"L02"}, set()),
    ("rxg", set(), {"L02"}),             # 3 letters: exact only
])
def test_matching(query: str, found: set[str], not_found: set[str]) -> None:
    hits = set(codes(query))
    assert found <= hits, f"{query!r}: {sorted(found - hits)} missing from {sorted(hits)}"
    assert not hits & not_found, f"{query!r}: {sorted(hits & not_found)} should not match"


def test_compound_part_is_reported_as_such() -> None:
    hit = next(h for h in ICPC2_INDEX.search("betændelse") if h.code == "R75")
    assert hit.match_kind == "compound"


@pytest.mark.parametrize("query", ["", "   ", "-/.", "zzzzqqq"])
def test_nothing_to_find(query: str) -> None:
    assert ICPC2_INDEX.search(query) == []


# --- codes -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("index", "query", "expected"), [
    (ICPC2_INDEX, "l84", ["L84"]),
    (ICPC2_INDEX, "K9", ["K95", "K96", "K99"]),  # code prefix only, the inactive K99 last
    # SKS: DM545 by its own code and by the WHO form
    (SKS_INDEX, "dm545", ["DM545", "DM545A"]),
    (SKS_INDEX, "DM545", ["DM545", "DM545A"]),
    (SKS_INDEX, "DM54.5", ["DM545", "DM545A"]),
    (SKS_INDEX, "M54.5", ["DM545", "DM545A"]),
    (SKS_INDEX, "m545", ["DM545", "DM545A"]),
    (SKS_INDEX, "DM54", ["DM54", "DM545", "DM545A"]),
    # WHO: M54.5 by its own code and by the SKS form
    (WHO_INDEX, "M54.5", ["M54.5"]),
    (WHO_INDEX, "m545", ["M54.5"]),
    (WHO_INDEX, "DM545", ["M54.5"]),
    (WHO_INDEX, "dm54.5", ["M54.5"]),
    (WHO_INDEX, "M54", ["M54", "M54.5"]),
])
def test_codes(index: SystemIndex, query: str, expected: list[str]) -> None:
    hits = index.search(query)
    assert [h.code for h in hits][:len(expected)] == expected
    exact = code_key(query) in index.by_code  # else only codes that start with it
    kinds = ["code" if exact and i == 0 else "prefix" for i in range(len(expected))]
    assert [h.match_kind for h in hits[:len(expected)]] == kinds
    assert all(h.matched_term == h.code and h.term_kind == "code" for h in hits[:len(expected)])


# --- ranking ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("concepts", "query", "order"), [
    pytest.param([concept("Y01", "X12"), concept("X12", "Anæmi")], "x12", ["X12", "Y01"],
                 id="exact code before exact title"),
    pytest.param([concept("T02", "Hoste kronisk"), concept("T01", "Tussis", synonym("hoste"))], "hoste",
                 ["T01", "T02"], id="exact title (of any term) before title prefix"),
    pytest.param([concept("P02", "Hypertension kronisk"), concept("P01", "Kronisk hypertension")],
                 "kronisk hyper", ["P01", "P02"], id="title prefix before words"),
    pytest.param([concept("W02", "Bihulebetændelse"), concept("W01", "Kronisk betændelse i tåresæk")],
                 "betændelse", ["W01", "W02"], id="words before compound part"),
    pytest.param([concept("C02", "Exem"), concept("C01", "Håndeksem"), concept("C00", "Eksem")], "eksem",
                 ["C00", "C01", "C02"], id="exact before compound part before sound"),
    pytest.param([concept("S02", "Klamydie"), concept("S01", "Klamidya")], "klamydia", ["S01", "S02"],
                 id="sound before typo"),
    pytest.param([concept("D4", "Migræne", mapped("Feber")), concept("D3", "Pyreksi", synonym("Feber")),
                  concept("D2", "Pyrexia", designation("Feber")), concept("D1", "Feber")], "feber",
                 ["D1", "D2", "D3", "D4"], id="display before designation before synonym before mapped"),
    pytest.param([concept("I01", "Hud", active=False), concept("I02", "Hudkløe")], "hu", ["I02", "I01"],
                 id="active before inactive, even when shorter"),
    pytest.param([concept("K", "Hjerte-kar", abstract=True), concept("K04", "Hjertebanken")], "hjert",
                 ["K04", "K"], id="selectable before chapter, even when shorter"),
    pytest.param([concept("L2", "Hosteanfald om natten"), concept("L1", "Hosteanfald")], "hostea",
                 ["L1", "L2"], id="shorter term first"),
    pytest.param([concept("B2", "Feber"), concept("B1", "Feber")], "feber", ["B1", "B2"],
                 id="ties broken by code"),
    pytest.param([concept("R05", "Hoste"), concept("R06", "Hoste med slim")], "hoste slim", ["R06"],
                 id="a concept missing a word is left out"),
])
def test_ranking(concepts: list[SourceConcept], query: str, order: list[str]) -> None:
    assert codes(query, SystemIndex(ICPC2, None, concepts)) == order


@pytest.mark.parametrize(("query", "code", "match_kind"), [
    ("xyz hoste", "R05", "partial"),
    ("hoste xyz", "R05", "partial"),
])
def test_when_no_concept_has_every_word_the_best_partial_matches_come_last_resort(query: str, code: str,
                                                                                  match_kind: str) -> None:
    hit = first(query)
    assert (hit.code, hit.match_kind) == (code, match_kind)


@pytest.mark.parametrize("query", ["hovedpine", "l84", "K9", "bihulebet", "kulderystlse", "andenod", "xyz hoste",
                                   "cafe xyz", "hjert"])
def test_score_is_between_0_and_1(query: str) -> None:
    """``_score`` promises "a 0–1 score"; /api/search and $expand show it to clients."""
    scores = [(hit.code, hit.match_kind, hit.score) for hit in ICPC2_INDEX.search(query)]
    assert scores
    assert all(0.0 <= score <= 1.0 for _, _, score in scores), scores


# --- properties ------------------------------------------------------------------------------------------------

_UNIQUE_TITLES = [c for c in ICPC2_CONCEPTS if len({normalize(x.display) for x in ICPC2_CONCEPTS
                                                     if normalize(x.display) == normalize(c.display)}) == 1]
_VOCABULARY = sorted({word for c in ICPC2_CONCEPTS for text, _ in c.terms for word in normalize(text).split()}
                     | {c.code.lower() for c in ICPC2_CONCEPTS})
_WORD = st.one_of(
    st.sampled_from(_VOCABULARY),
    st.sampled_from(_VOCABULARY).flatmap(lambda w: st.integers(1, len(w)).map(lambda n: w[:n])),  # typed so far
    st.text(alphabet="abdefghijklmnoprstuvyæøå", min_size=1, max_size=8),
)
QUERIES = st.lists(_WORD, min_size=1, max_size=3).map(" ".join)


def _spellings(text: str) -> st.SearchStrategy[str]:
    ascii_text = text.replace("æ", "ae").replace("ø", "oe").replace("å", "aa").replace("Æ", "Ae").replace(
        "Ø", "Oe").replace("Å", "Aa").replace("é", "e")
    return st.sampled_from([text, text.upper(), text.lower(), ascii_text, f"  {text}  "])


@PROPERTY
@given(st.sampled_from(ICPC2_CONCEPTS).flatmap(lambda c: st.tuples(st.just(c.code), _spellings(c.code))))
def test_an_exact_code_is_the_first_hit(case: tuple[str, str]) -> None:
    code, query = case
    hit = first(query)
    assert (hit.code, hit.match_kind) == (code, "code")


@PROPERTY
@given(st.sampled_from(_UNIQUE_TITLES).flatmap(lambda c: st.tuples(st.just(c.code), _spellings(c.display))))
def test_an_exact_title_is_the_first_hit(case: tuple[str, str]) -> None:
    code, query = case
    hit = first(query)
    assert (hit.code, hit.match_kind) == (code, "exact")


@PROPERTY
@given(query=QUERIES, limit=st.integers(0, 8), offset=st.integers(0, 10), active_only=st.booleans())
def test_never_more_than_limit(query: str, limit: int, offset: int, active_only: bool) -> None:
    hits = search_codes(EVERYTHING, query, None, limit=limit, offset=offset, active_only=active_only)
    assert len(hits) <= limit
    if active_only:
        assert all(hit.active for hit in hits)


@PROPERTY
@given(query=QUERIES, size=st.integers(1, 5))
def test_pages_are_disjoint_stable_and_add_up_to_the_whole(query: str, size: int) -> None:
    whole = [(h.system, h.code) for h in search_codes(EVERYTHING, query, None, limit=1000)]
    pages = []
    for offset in range(0, len(whole) + size, size):
        page = [(h.system, h.code) for h in search_codes(EVERYTHING, query, None, limit=size, offset=offset)]
        assert page == [(h.system, h.code) for h in search_codes(EVERYTHING, query, None, limit=size,
                                                                 offset=offset)]
        pages.append(page)
    flat = [item for page in pages for item in page]
    assert flat == whole
    assert len(set(flat)) == len(flat)


@PROPERTY
@given(query=QUERIES, seed=st.integers(0, 1000))
def test_the_same_query_gives_the_same_answer(query: str, seed: int) -> None:
    def answer(index: SystemIndex) -> list[tuple[str, str, str, float]]:
        return [(h.code, h.matched_term, h.match_kind, h.score) for h in index.search(query)]

    shuffled = ICPC2_CONCEPTS[:]
    random.Random(seed).shuffle(shuffled)
    assert answer(ICPC2_INDEX) == answer(ICPC2_INDEX) == answer(SystemIndex(ICPC2, "7.0", shuffled))


@PROPERTY
@given(QUERIES)
def test_hits_are_unique_and_ordered_by_rank_and_score(query: str) -> None:
    hits = ICPC2_INDEX.search(query)
    assert len({h.code for h in hits}) == len(hits)
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


# --- SearchIndex and search_codes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bound", [0, 3, 40, 100_000])
def test_the_word_cache_changes_no_answer_and_keeps_its_bound(monkeypatch, bound: int) -> None:
    import termserver.services.search as search

    monkeypatch.setattr(search, "WORD_CACHE_TERMS", bound)
    queries = ["hyp", "hypert", "hypertension", "ryg", "rygsmerter", "smerter i ryg", "bihule", "kaffe hjerte",
               "hyp", "smerter i ryg", "ryg"]
    index = SystemIndex(ICPC2, "7.0", ICPC2_CONCEPTS)
    for query in queries:
        fresh = SystemIndex(ICPC2, "7.0", ICPC2_CONCEPTS)  # nothing kept yet
        assert index.search(query) == fresh.search(query), query
        assert index._word_cache_size == sum(len(t) + 1 for t in index._word_cache.values()) <= bound
    if bound in (0, 100_000):
        assert bool(index._word_cache) == (bound > 0)


def test_search_across_systems_merges_by_rank() -> None:
    hits = search_codes(EVERYTHING, "bihulebetændelse", None, limit=20)
    assert {(h.system, h.code) for h in hits} == {(ICPC2, "R75"), (SKS_DIAGNOSES, "DJ01")}
    assert hits[0].code == "R75"  # an exact synonym before a word match
    assert [h.rank for h in hits] == sorted(h.rank for h in hits)


def test_search_restricted_to_systems() -> None:
    assert {h.system for h in search_codes(EVERYTHING, "M54.5", [ICD10], limit=20)} == {ICD10}
    both = search_codes(EVERYTHING, "M54.5", [ICD10, SKS_DIAGNOSES], limit=20)
    assert [(h.system, h.code) for h in both][:2] in ([(ICD10, "M54.5"), (SKS_DIAGNOSES, "DM545")],
                                                      [(SKS_DIAGNOSES, "DM545"), (ICD10, "M54.5")])


def test_active_only_leaves_out_inactive_concepts() -> None:
    assert "K99" in [h.code for h in search_codes(EVERYTHING, "hjertebanken", [ICPC2])]
    assert [h.code for h in search_codes(EVERYTHING, "hjertebanken", [ICPC2], active_only=True)] == ["K04"]


def test_an_unknown_system_is_not_found_by_name() -> None:
    with pytest.raises(NotFound, match="http://example.org/nope"):
        search_codes(EVERYTHING, "hoste", ["http://example.org/nope"])


def test_no_index_finds_nothing() -> None:
    assert search_codes(None, "hoste", None) == []


def test_get_by_version() -> None:
    assert EVERYTHING.get(ICPC2) is ICPC2_INDEX
    assert EVERYTHING.get(ICPC2, "7.0") is ICPC2_INDEX
    assert EVERYTHING.get(ICPC2, "6.0") is None
    assert EVERYTHING.get("http://example.org/nope") is None
