"""Repair hints (``termserver/services/hints.py``) on a small hand-built index of SKS, ICPC-2 and WHO ICD-10 codes:
each way a code goes wrong in real messages, and what must (and must not) be offered for it."""
from __future__ import annotations

import pytest

from termserver.services import hints
from termserver.services.search import KIND_DESIGNATION, KIND_DISPLAY, SearchIndex, SourceConcept, SystemIndex
from termserver.services.search_index import _code_keys
from termserver.systems import ICD10, ICPC2, SKS_DIAGNOSES


def system(url: str, version: str | None, *concepts: tuple) -> SystemIndex:
    sources = []
    for code, display, *rest in concepts:
        flags = rest[0] if rest else {}
        terms = [(display, KIND_DISPLAY)] + [(t, KIND_DESIGNATION) for t in flags.get("designations", ())]
        sources.append(SourceConcept(code, display, flags.get("active", True), flags.get("abstract", False), terms,
                                     _code_keys(url, code)))
    return SystemIndex(url, version, sources)


INDEX = SearchIndex(systems={
    SKS_DIAGNOSES: system(SKS_DIAGNOSES, None,
                          ("D", "Klassifikation af sygdomme og helbredsrelaterede tilstande", {"abstract": True}),
                          ("DM43", "Andre deformerende rygsygdomme"), ("DM431", "Spondylolistese"),
                          ("DE11", "Type 2-diabetes"), ("DE119A", "Type 2-diabetes UNS"),
                          ("DB00", "Herpes simplex-infektion"), ("DB001", "Herpesudbrud med blærer"),
                          ("DB001B", "Herpes labialis"), ("DB000", "Herpeseksem"),
                          ("DJ45", "Astma"), ("DJ450", "Allergisk astma"), ("DJ459", "Astma UNS"),
                          ("DM301", "Polyarteritis med asthma bronchiale"),
                          ("DJ449", "Kronisk obstruktiv lungesygdom UNS"), ("DC50", "Brystkræft"),
                          ("DC509", "Brystkræft UNS"), ("DT90", "Følgetilstande efter læsion af hovedet"),
                          ("DA022A", "Salmonellameningitis", {"active": False})),
    ICPC2: system(ICPC2, "7.0",
                  ("A", "Almen og uspecificeret", {"abstract": True, "designations": ["General and unspecified"]}),
                  ("K", "Hjerte-kar", {"abstract": True}),
                  ("K86", "Ukompliceret hypertension", {"designations": ["Hypertension uncomplicated"]}),
                  ("T90", "Diabetes type 2", {"designations": ["Diabetes non-insulin dependent"]}),
                  ("R96", "Astma", {"designations": ["Asthma"]})),
    ICD10: system(ICD10, "2019",
                  ("J44.9", "Chronic obstructive pulmonary disease, unspecified"),
                  ("A00-A09", "Intestinal infectious diseases", {"abstract": True})),
})


def offered(found: list[hints.Suggestion]) -> list[tuple[str, str]]:
    return [(hints.short_name(s.system), s.code) for s in found]


# (sent system, code, display, what must be offered, best first)
CASES = [
    # case, spaces, dots, trailing junk, the D prefix and the SKS/WHO form: one key lookup
    ("case + D prefix", SKS_DIAGNOSES, "m431", "Spondylolisthesis", [("SKS", "DM431")]),
    ("case of the suffix letter", SKS_DIAGNOSES, "DE119a", None, [("SKS", "DE119A")]),
    ("space inside", SKS_DIAGNOSES, "D B001", None, [("SKS", "DB001")]),
    ("WHO form sent as SKS", SKS_DIAGNOSES, "M43.1", None, [("SKS", "DM431")]),
    ("trailing dot", SKS_DIAGNOSES, "DM431.", None, [("SKS", "DM431")]),
    ("ICPC lower case and dot", ICPC2, "k86.", None, [("ICPC-2", "K86")]),
    ("ICPC trailing dash", ICPC2, "K86-", None, [("ICPC-2", "K86")]),
    ("ICPC trailing space", ICPC2, "K86 ", None, [("ICPC-2", "K86")]),
    ("ICPC inner space", ICPC2, "K 86", None, [("ICPC-2", "K86")]),
    ("SKS form sent as WHO", ICD10, "DJ449", None, [("ICD-10", "J44.9"), ("SKS", "DJ449")]),
    # a code of another system: only when it has that system's shape and not the sent one's
    ("SKS code sent as ICPC-2", ICPC2, "DJ449", None, [("SKS", "DJ449")]),
    ("WHO code sent as ICPC-2", ICPC2, "J44.9", None, [("SKS", "DJ449")]),
    ("ICPC code sent as SKS", SKS_DIAGNOSES, "T90", None, [("SKS", "DT90"), ("ICPC-2", "T90")]),
    ("the display decides", SKS_DIAGNOSES, "T90", "Diabetes Type 2", [("ICPC-2", "T90"), ("SKS", "DT90")]),
    ("ICPC-shaped code sent as ICPC: no ICD-10 guess", ICPC2, "F00", None, []),
    # the display: its own title first; else search hits that say no more than the display
    ("display is a title", SKS_DIAGNOSES, "C509", "Brystkræft UNS", [("SKS", "DC509")]),
    ("display search", SKS_DIAGNOSES, "D93.00", "Asthma bronchiale", [("SKS", "DJ45"), ("SKS", "DJ459")]),
    ("display search, no code", SKS_DIAGNOSES, None, "Herpes simplex labialis", [("SKS", "DB001B")]),
    ("one word more when nothing says less", SKS_DIAGNOSES, "?", "Herpes simplex", [("SKS", "DB00")]),
    ("a code fix and the display's title", SKS_DIAGNOSES, "D B001", "Herpes simplex",
     [("SKS", "DB001"), ("SKS", "DB00")]),
    # nothing to offer: chapter headers and inactive codes are never suggested, junk displays never searched
    ("root is not selectable", SKS_DIAGNOSES, "D?", "[DIAGNOSE EJ PÅFØRT]", []),
    ("junk display", SKS_DIAGNOSES, "?", "NULL", []),
    ("dash display", SKS_DIAGNOSES, "DD-", "-", []),
    ("inactive code not offered", SKS_DIAGNOSES, "da022a", None, []),
    ("ICPC chapter placeholder", ICPC2, "A00", "A   ALMENT OG USPECIFICERET", []),
    ("system not indexed", "http://example.org/cs", "X", "Astma", []),
]


@pytest.mark.parametrize(("system_url", "code", "display", "expected"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_suggestions(system_url, code, display, expected):
    assert offered(hints.suggest_codes(INDEX, system_url, code, display)) == expected


def test_more_specific_titles_are_not_offered():
    # "Polyarteritis med asthma bronchiale" has every word of the display, and a disease more
    codes = [s.code for s in hints.suggest_codes(INDEX, SKS_DIAGNOSES, "D93.00", "Asthma bronchiale")]
    assert "DM301" not in codes and "DJ450" not in codes


def test_suggestions_are_unique_and_limited():
    found = hints.suggest_codes(INDEX, SKS_DIAGNOSES, "D B001", "Herpes simplex", limit=1)
    assert offered(found) == [("SKS", "DB001")]
    assert found[0].reason == "code form" and found[0].display == "Herpesudbrud med blærer"


@pytest.mark.parametrize(("code", "expected"), [
    ("A00", ("A", "Almen og uspecificeret")), ("a00", ("A", "Almen og uspecificeret")),
    ("K0", ("K", "Hjerte-kar")), ("K86", None), ("A", None), ("Q00", None), ("A000", None),
])
def test_icpc_chapter_placeholder(code, expected):
    assert hints.icpc_chapter(hints.table_for(INDEX, ICPC2), code) == expected


@pytest.mark.parametrize(("code", "expected"), [("DA00-DB99", True), ("J40-J47", True), ("dj40-dj47", True),
                                               ("DJ40", False), ("A00", False), ("K86-", False)])
def test_block_range(code, expected):
    assert hints.is_block_range(code) is expected


@pytest.mark.parametrize(("system_url", "code", "says"), [
    (SKS_DIAGNOSES, "?", "'D' followed by the ICD-10 code"), (SKS_DIAGNOSES, "m431", "'D' followed"),
    (SKS_DIAGNOSES, "DD5400", None), (ICPC2, "0", "chapter letter and two digits"), (ICPC2, "K99", None),
    (ICPC2, "-30", None), (ICD10, "J449X9", "letter and two digits"), (ICD10, "J44.9", None),
    ("http://example.org/cs", "?", None),
])
def test_shape_note(system_url, code, says):
    note = hints.shape_note(system_url, code)
    assert (note is None) if says is None else (says in note)


@pytest.mark.parametrize(("display", "words"), [
    ("Asthma bronchiale", ["asthma", "bronchiale"]), ("Brystkræft UNS", ["brystkraeft"]), ("NULL", []),
    ("-", []), ("0", []), ("#I/T", []), ("* ukendt *", []), ("[DIAGNOSE EJ PÅFØRT]", []), (None, []), ("", []),
])
def test_search_words(display, words):
    assert hints.search_words(display) == words


@pytest.mark.parametrize(("code", "cleaned"), [("k86.", "K86"), (" K86 ", "K86"), ("D B001", "DB001"),
                                               ("D93.00", "D9300"), ("K86-", "K86"), ("?", "")])
def test_clean_code(code, cleaned):
    assert hints.clean_code(code) == cleaned


def test_describe():
    one = [hints.Suggestion(SKS_DIAGNOSES, "DM431", "Spondylolistese", "code form")]
    assert hints.describe(one) == "Did you mean DM431 'Spondylolistese' (SKS)?"
    two = one + [hints.Suggestion(ICPC2, "L84", "Rygsyndrom uden smerteudstråling", "text search")]
    assert hints.describe(two) == ("Did you mean DM431 'Spondylolistese' (SKS) or L84 'Rygsyndrom uden "
                                   "smerteudstråling' (ICPC-2)?")
    assert hints.describe([]) == ""


def test_code_table_is_built_once_per_index():
    index = INDEX.get(SKS_DIAGNOSES)
    assert hints.code_table(index) is hints.code_table(index)
    table = hints.code_table(index)
    assert index.concepts[table.find("DM431")].display == "Spondylolistese"
    assert table.find("dm431") is None
    assert [index.concepts[i].code for i in table.by_key("dm 43.1")] == ["DM431"]
