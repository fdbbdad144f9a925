"""Repair hints: for a code its system does not have, the real codes the sender most likely meant.

Pure functions over the in-memory search index (:mod:`termserver.services.search`): no Flask, no database. Every
suggestion is a concept that exists, is active and can be coded with (no chapter or block headers), and each
appears once, best first:

 0. a candidate whose display or designation equals the coding's display (ignoring case, spacing, punctuation)
 1. the same system, the code written differently: case (``de119a`` → ``DE119A``), spaces (``D B001`` → ``DB001``),
    dots and trailing junk (``K86.``, ``K86-``, ``D93.00`` → ``D9300``), the SKS ``D`` prefix added or dropped and
    the SKS ↔ WHO form (``m431`` → ``DM431``, ``J44.9`` ↔ ``DJ449``). All of these are one lookup: the index keys
    every code by its letters and digits, lower case, SKS codes also without the ``D`` and WHO codes also with it.
 2. another hosted system, when the code has that system's shape and not the sent one's: an ICPC-2 code sent as
    SKS (``T90``), an SKS or WHO code sent as ICPC-2 (``DJ449``, ``J44.9``), an SKS code sent as WHO ICD-10.
 3. when no candidate's title is the display: the best search hits for the display in the sent system
    (``Asthma bronchiale`` → ``DJ45`` ``Astma``, ``DJ459`` ``Astma UNS``). Titles that say nothing the display does
    not say (stop words such as ``UNS`` aside; found by the whole display or by one of its words) win; only when
    there are none, titles matching the whole display with one word more (``Brystkræft UNS`` → ICPC-2 ``X76``
    ``Brystkræft (Kvinde)``). More specific titles (``DM301`` "Polyarteritis med asthma bronchiale"), mapped ICD-10
    texts, typo and partial matches are not offered, nor anything for displays that say "no diagnosis" (``NULL``,
    ``-``, ``* ukendt *``): a hint must be a defensible reading of what was sent.

ICPC-2 chapter placeholders: ICPC-2 component numbers run from 01 to 99, so ``A00`` (or ``A0``) is not a code in
any edition; GP systems send it for the chapter itself (``A00`` "A   ALMENT OG USPECIFICERET"). :func:`icpc_chapter`
reads such a code as its chapter header so the message can say so.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Iterable
from weakref import WeakKeyDictionary, ref

from rapidfuzz.distance import OSA

from termserver.services.search import (CLASS_FUZZY, CLASS_PARTIAL, KIND_MAPPED, SearchIndex, SystemIndex,
                                        code_key, normalize, sound)
from termserver.systems import ICD10, ICPC2, MCS, NPU, SKS_DIAGNOSES, known_system

# how messages name a hosted system in a suggestion: "DM431 'Spondylolistese' (SKS)"
SHORT_NAMES = {ICPC2: "ICPC-2", SKS_DIAGNOSES: "SKS", ICD10: "ICD-10", NPU: "NPU", MCS: "MCS"}

TIER_DISPLAY, TIER_CODE_FORM, TIER_OTHER_SYSTEM, TIER_TEXT = range(4)
REASONS = {TIER_DISPLAY: "display", TIER_CODE_FORM: "code form", TIER_OTHER_SYSTEM: "other system",
           TIER_TEXT: "text search"}

_ICPC_SHAPE = re.compile(r"^(?:[A-Z]\d{2}|-\d{2})$")
_SKS_SHAPE = re.compile(r"^D[A-Z]\d{2}[0-9A-Z]*$")
_WHO_SHAPE = re.compile(r"^[A-Z]\d{2}(?:\.?[0-9A-Z]{1,2})?$")
_WHO_LONG_SHAPE = re.compile(r"^[A-Z]\d{2}\.?[0-9A-Z]{1,2}$")  # a WHO code with a decimal part: not ICPC-shaped
_ICPC_PLACEHOLDER = re.compile(r"^([A-Z])0{1,2}$")
_BLOCK_RANGE = re.compile(r"^D?[A-Z]\d{2}(?:\.\d+)?-D?[A-Z]\d{2}(?:\.\d+)?$")
_JUNK = re.compile(r"[\s.\-_/,;:*?#]+")

# (shape of the code, after upper-casing and dropping spaces and punctuation at the ends) → what the system's codes
# look like, said when an unknown code does not have that shape and no suggestion was found
SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    ICPC2: (re.compile(r"^(?:[A-Z]\d{2}|-\d{2}|[A-Z])$"),
            "ICPC-2 codes are a chapter letter and two digits (K86); process codes may be written -30 to -69"),
    SKS_DIAGNOSES: (re.compile(r"^D[A-Z0-9]*$"),
                    "SKS diagnosis codes are 'D' followed by the ICD-10 code without its dot, in upper case "
                    "(DJ449)"),
    ICD10: (re.compile(r"^(?:[A-Z]\d{2}(?:\.[0-9A-Z]{1,2})?|[A-Z]\d{2}-[A-Z]\d{2}|[IVXL]+)$"),
            "WHO ICD-10 codes are a letter and two digits with an optional decimal part (J44.9)"),
}

# other hosted systems worth a look, and the shape a code must have (and the sent system's shape must not
# accept) before its code there is suggested
_OTHER_SYSTEMS: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    SKS_DIAGNOSES: ((ICPC2, _ICPC_SHAPE),),
    ICPC2: ((SKS_DIAGNOSES, _SKS_SHAPE), (SKS_DIAGNOSES, _WHO_LONG_SHAPE)),
    ICD10: ((SKS_DIAGNOSES, _SKS_SHAPE),),
}
_OWN_SHAPE = {SKS_DIAGNOSES: _SKS_SHAPE, ICPC2: _ICPC_SHAPE, ICD10: _WHO_SHAPE}

# words that add nothing to a diagnosis title (normalised: æ → ae, ø → oe, å → aa)
STOPWORDS = frozenset({"uns", "ika", "nos", "med", "uden", "og", "i", "af", "til", "paa", "ved", "for", "eller",
                       "el", "en", "et", "som", "anden", "andet", "andre", "other", "of", "and", "the", "with",
                       "without", "in", "on", "a", "an"})
# displays that say "no diagnosis": never searched
JUNK_DISPLAYS = frozenset({"null", "none", "nil", "ukendt", "unknown", "undefined", "nan", "n a", "ingen",
                           "diagnose ej paafoert", "ej paafoert", "ikke angivet"})
TEXT_HITS = 3
SEARCH_DEPTH = 40  # search hits looked at per query
MAX_ENDING = 3  # letters an inflected word may add to its stem
MAX_EXTRA_WORDS = 1  # words a hit's title may have that the display has not


@dataclass(frozen=True)
class Suggestion:
    """A real code to offer instead of the one sent: canonical system, code, display and why it was offered."""

    system: str
    code: str
    display: str
    reason: str


class CodeTable:
    """Lookups over one :class:`SystemIndex`: exact code, code key (case, punctuation, SKS/WHO forms) and exact
    normalised text; the maps themselves are the index's, built with it at start-up. One per index (see
    :func:`code_table`)."""

    def __init__(self, index: SystemIndex) -> None:
        # a weak reference: the cache below maps index → table, and must not keep an index alive once rebuilt
        self._index = ref(index)

    @property
    def index(self) -> SystemIndex:
        index = self._index()
        assert index is not None, "code table used after its search index was dropped"
        return index

    def find(self, code: str) -> int | None:
        """The concept number of exactly ``code``."""
        return self.index.numbers.get(code)

    def by_key(self, code: str) -> list[int]:
        """Concepts whose code equals ``code`` ignoring case, spaces and punctuation, in SKS or WHO form."""
        key = code_key(code)
        return list(self.index.by_code.get(key, ())) if key else []

    def with_text(self, norm: str) -> list[tuple[int, str, int]]:
        """``(concept, term text, term kind)`` of every display, designation or synonym whose normalised form is
        ``norm`` (texts of mapped codes excluded)."""
        pairs = self.index.sorted_norms
        found: list[tuple[int, str, int]] = []
        position = bisect_left(pairs, (norm, -1))
        while position < len(pairs) and pairs[position][0] == norm:
            term = self.index.terms[pairs[position][1]]
            if term.kind != KIND_MAPPED:
                found.append((term.concept, term.text, term.kind))
            position += 1
        return found

    def usable(self, concept: int) -> bool:
        info = self.index.concepts[concept]
        return info.active and not info.abstract


_tables: WeakKeyDictionary[SystemIndex, CodeTable] = WeakKeyDictionary()


def code_table(index: SystemIndex) -> CodeTable:
    """The :class:`CodeTable` of ``index`` (built on first use, dropped with the index)."""
    table = _tables.get(index)
    if table is None:
        table = _tables[index] = CodeTable(index)
    return table


def table_for(search: SearchIndex | None, system: str) -> CodeTable | None:
    """The code table of the canonical ``system``, when the search index has it."""
    index = search.get(system) if search is not None else None
    return code_table(index) if index is not None else None


def clean_code(code: str) -> str:
    """``code`` in upper case without spaces and punctuation (``' k86.'`` → ``K86``, ``D93.00`` → ``D9300``)."""
    return _JUNK.sub("", code.upper())


def search_words(display: str | None) -> list[str]:
    """The words of ``display`` worth searching for (normalised, stop words dropped); empty for junk displays
    (``NULL``, ``-``, ``0``, ``* ukendt *``)."""
    if not display:
        return []
    norm = normalize(display)
    if not norm or norm in JUNK_DISPLAYS:
        return []
    words = [w for w in norm.split() if w not in STOPWORDS]
    if not any(len(w) >= 3 and not w.isdigit() for w in words):
        return []
    return words


def icpc_chapter(table: CodeTable | None, code: str) -> tuple[str, str] | None:
    """``(chapter code, chapter title)`` when ``code`` is an ICPC-2 chapter placeholder such as ``A00`` or ``A0``
    (ICPC-2 has no component 00), else None."""
    match = _ICPC_PLACEHOLDER.match(code.strip().upper())
    if table is None or match is None:
        return None
    concept = table.find(match.group(1))
    if concept is None:
        return None
    return match.group(1), table.index.concepts[concept].display


def is_block_range(code: str) -> bool:
    """Whether ``code`` names an ICD-10 chapter or block by its range (``DA00-DB99``, ``J40-J47``)."""
    return bool(_BLOCK_RANGE.match(code.strip().upper()))


def shape_note(system: str, code: str) -> str | None:
    """What codes of ``system`` look like, when ``code`` does not look like one (None when it does or the system
    has no known shape)."""
    shape = SHAPES.get(system)
    if shape is None:
        return None
    cleaned = code.strip().upper()
    return None if shape[0].match(cleaned) else shape[1]


def suggest_codes(search: SearchIndex | None, system: str, code: str | None, display: str | None, *,
                  limit: int = 5) -> list[Suggestion]:
    """Real codes to offer for ``code`` (unknown in the canonical ``system``) and the coding's ``display``, best
    first, at most ``limit``."""
    table = table_for(search, system)
    if table is None:
        return []
    ranked: dict[tuple[str, int], tuple[int, int]] = {}  # (system, concept) → (tier, order)
    tables: dict[str, CodeTable] = {system: table}

    def offer(owner: str, concept: int, tier: int) -> None:
        key = (owner, concept)
        current = ranked.get(key)
        if tables[owner].usable(concept) and (current is None or tier < current[0]):
            ranked[key] = (tier, len(ranked) if current is None else current[1])

    if code and code.strip():
        for concept in table.by_key(code):
            if table.index.concepts[concept].code != code:
                offer(system, concept, TIER_CODE_FORM)
        cleaned = clean_code(code)
        own_shape = _OWN_SHAPE.get(system)
        for other, shape in _OTHER_SYSTEMS.get(system, ()):
            if not shape.match(cleaned) or (own_shape is not None and own_shape.match(cleaned)):
                continue
            other_table = table_for(search, other)
            if other_table is None:
                continue
            tables[other] = other_table
            for concept in other_table.by_key(cleaned):
                offer(other, concept, TIER_OTHER_SYSTEM)
    words = search_words(display)
    if words and display:
        norm = normalize(display)
        for concept, _, _ in table.with_text(norm):
            offer(system, concept, TIER_DISPLAY)
        for owner, owner_table in tables.items():  # a code-form candidate whose title is the display: best
            for concept, _, _ in owner_table.with_text(norm):
                if (owner, concept) in ranked:
                    offer(owner, concept, TIER_DISPLAY)
        if not any(tier == TIER_DISPLAY for tier, _ in ranked.values()):  # a title that is the display: enough
            for concept in text_hits(table, words, TEXT_HITS):
                offer(system, concept, TIER_TEXT)
    order = sorted(ranked.items(), key=lambda item: item[1])
    suggestions = []
    for (owner, concept), (tier, _) in order[:limit]:
        info = tables[owner].index.concepts[concept]
        suggestions.append(Suggestion(owner, info.code, info.display, REASONS[tier]))
    return suggestions


def text_hits(table: CodeTable, words: list[str], limit: int = TEXT_HITS) -> list[int]:
    """Concepts of ``table`` whose titles best match the display ``words`` (see the module docstring), best
    first."""
    queries = [" ".join(words)]
    if len(words) > 1:
        queries += [w for w in words if len(w) >= 4]
    best: dict[int, tuple] = {}
    for position, query in enumerate(queries):
        for rank, concept, term in table.index.ranked(query)[:SEARCH_DEPTH]:
            if term is None or term.kind == KIND_MAPPED or rank[3] in (CLASS_PARTIAL, CLASS_FUZZY):
                continue
            if not table.usable(concept):
                continue
            extra = sum(1 for token in term.tokens if token not in STOPWORDS and not _near_any(token, words))
            if extra > MAX_EXTRA_WORDS or (position > 0 and extra):
                continue  # one word of the display alone: only titles that say nothing else
            covered = sum(1 for word in words if _near_any(word, term.tokens))
            key = (extra, -covered, position > 0, rank)
            if concept not in best or key < best[concept]:
                best[concept] = key
    ranked = sorted(best.items(), key=lambda item: item[1])
    if ranked and ranked[0][1][0] == 0:  # titles that say nothing the display does not: only those
        ranked = [item for item in ranked if item[1][0] == 0]
    return [concept for concept, _ in ranked[:limit]]


def _near_any(word: str, tokens: Iterable[str]) -> bool:
    return any(_near(word, token) for token in tokens)


def _near(a: str, b: str) -> bool:
    """Two normalised words that mean the same in a title: equal, the same sound (``asthma``/``astma``), an
    inflection of each other, or one typo apart (words of five letters or more)."""
    if a == b:
        return True
    if len(a) >= 3 and len(b) >= 3 and sound(a) == sound(b):
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= 5 and long.startswith(short) and len(long) - len(short) <= MAX_ENDING:
        return True  # an inflection (astma/astmaen), not a compound (herpes/herpeseksem)
    return len(short) >= 5 and OSA.distance(a, b, score_cutoff=1) <= 1


def short_name(system: str) -> str:
    """The short name of a hosted system for messages (``SKS``, ``ICPC-2``), else its URI."""
    known = known_system(system)
    return SHORT_NAMES.get(system) or (known.name if known else system)


def describe(suggestions: list[Suggestion]) -> str:
    """``Did you mean DM431 'Spondylolistese' (SKS)?`` for one or more suggestions (empty for none)."""
    if not suggestions:
        return ""
    parts = [f"{s.code} '{s.display}' ({short_name(s.system)})" for s in suggestions]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]
    return f"Did you mean {listed}?"
