"""Danish typeahead search: normalisation, a word-level inverted index per code system, and ranking.

Pure functions and classes (no Flask, no database); ``search_index.build_index`` reads the store and builds
them.

Normalisation (:func:`normalize`): NFKC, casefold, ``æ→ae``, ``ø→oe``, ``å→aa`` (so both spellings are equal),
other accents folded, punctuation, ``/`` and ``-`` as word breaks. Normalising twice changes nothing.

Matching, per query word: the exact word; for the last (still being typed) word, any word it is a prefix of; a part
of a Danish compound (``betændelse`` finds ``bihulebetændelse``); and typos: edit distance 1 for words of 4–7
letters, 2 for longer ones, searched with rapidfuzz over the vocabulary (not over whole titles). Adjacent query
words are also tried joined (``hjerte banken`` → ``hjertebanken``). All words must match within one term, in any
order. Codes are matched too: ``l84``, ``dm545``, ``DM54.5`` and ``M54.5`` (SKS and WHO forms both ways).

Ranking (lower is better), compared in this order:
 1. tier: exact code · exact title (any term) · other matches without typos · typos
 2. active and selectable concepts before inactive ones and chapter/grouping codes
 3. where the match was found: display · designation (other language, short title, inclusion term) · synonym
    lexicon · text of a mapped ICD-10 code
 4. match class: title or code prefix · every word exact or prefix · compound part
 5. shorter matched term first
 6. code (so the order is total and paging is stable)
"""
from __future__ import annotations

import re
import time
import unicodedata
from bisect import bisect_left
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterable, Iterator

from rapidfuzz import process
from rapidfuzz.distance import OSA

from termserver.errors import NotFound

# where a term comes from: lower ranks first
KIND_DISPLAY, KIND_DESIGNATION, KIND_SYNONYM, KIND_MAPPED = 0, 1, 2, 3
KIND_NAMES = {KIND_DISPLAY: "display", KIND_DESIGNATION: "designation", KIND_SYNONYM: "synonym",
              KIND_MAPPED: "mapped"}
# match classes: lower ranks first
CLASS_CODE, CLASS_TITLE, CLASS_PREFIX, CLASS_WORDS, CLASS_COMPOUND, CLASS_SOUND, CLASS_FUZZY, CLASS_PARTIAL = range(8)
CLASS_NAMES = {CLASS_CODE: "code", CLASS_TITLE: "exact", CLASS_PREFIX: "prefix", CLASS_WORDS: "words",
               CLASS_COMPOUND: "compound", CLASS_SOUND: "sound", CLASS_FUZZY: "fuzzy", CLASS_PARTIAL: "partial"}
# cost of one query word's match to one token: exact, prefix, compound part, same sound, typo (+ edit distance)
Q_EXACT, Q_PREFIX, Q_COMPOUND, Q_SOUND, Q_FUZZY = 0, 1, 2, 3, 4

_DANISH = str.maketrans({"æ": "ae", "ø": "oe", "å": "aa"})
_BREAKS = re.compile(r"[\W_]+", re.UNICODE)
_CODE_CHARS = re.compile(r"[^0-9a-z]")
MIN_COMPOUND_PART = 4
MIN_PREFIX = 3  # shortest word (other than the last) matched as a prefix
FUZZY_PREFIX_LENGTHS = range(4, 13)
WORD_CACHE_TERMS = 100_000  # term ids kept in one system's word cache (at most ~8 MB of a worker's own memory)


def normalize(text: str) -> str:
    """The search form of ``text``: folded, Danish letters spelled out, words separated by single spaces."""
    current = text
    for _ in range(4):  # a fixed point is reached after one or two rounds even for exotic Unicode
        folded = unicodedata.normalize("NFKC", current).casefold().translate(_DANISH)
        stripped = "".join(ch for ch in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(ch))
        result = " ".join(_BREAKS.sub(" ", unicodedata.normalize("NFKC", stripped)).split())
        if result == current:
            break
        current = result
    return current


def code_key(code: str) -> str:
    """A code's search key: lower case, letters and digits only (``DM54.5`` → ``dm545``)."""
    return _CODE_CHARS.sub("", normalize(code).replace(" ", ""))


def max_typos(word: str) -> int:
    """Edit distance allowed for a word: 0 below 4 letters, 1 for 4–7, 2 for 8 and more."""
    return 0 if len(word) < 4 else 1 if len(word) <= 7 else 2


@dataclass(slots=True)
class IndexedConcept:
    """One concept as the index sees it."""

    code: str
    display: str
    active: bool = True
    abstract: bool = False
    code_keys: tuple[str, ...] = ()


@dataclass(slots=True)
class Term:
    concept: int
    text: str
    norm: str
    kind: int
    tokens: tuple[str, ...]


Match = tuple  # (rank, concept number, matched Term or None)


@dataclass(slots=True)
class Hit:
    """One search result: the concept, the term that matched and how."""

    system: str
    version: str | None
    code: str
    display: str
    matched_term: str
    match_kind: str
    term_kind: str
    score: float
    active: bool
    abstract: bool
    rank: tuple = ()


@dataclass
class SourceConcept:
    """Input to :func:`build_system_index`: a concept and every text it can be found by."""

    code: str
    display: str
    active: bool = True
    abstract: bool = False
    terms: list[tuple[str, int]] = field(default_factory=list)  # (text, kind)
    code_keys: tuple[str, ...] = ()


class SystemIndex:
    """The inverted index of one code system version."""

    def __init__(self, system: str, version: str | None, concepts: list[SourceConcept]) -> None:
        self.system = system
        self.version = version
        self.concepts: list[IndexedConcept] = []
        self.terms: list[Term] = []
        self.by_code: dict[str, list[int]] = defaultdict(list)
        postings: dict[str, set[int]] = defaultdict(set)
        for index, source in enumerate(concepts):
            keys = source.code_keys or (code_key(source.code),)
            self.concepts.append(IndexedConcept(source.code, source.display, source.active, source.abstract, keys))
            for key in keys:
                self.by_code[key].append(index)
            seen: set[str] = set()
            for text, kind in sorted(source.terms, key=lambda t: t[1]):
                norm = normalize(text)
                if not norm or norm in seen:
                    continue
                seen.add(norm)
                term_id = len(self.terms)
                tokens = tuple(dict.fromkeys(norm.split()))
                self.terms.append(Term(index, text, norm, kind, tokens))
                for token in tokens:
                    postings[token].add(term_id)
        self.numbers: dict[str, int] = {}  # exact code → concept number (the first, should a code repeat)
        for number, concept in enumerate(self.concepts):
            self.numbers.setdefault(concept.code, number)
        self.code_keys: list[str] = sorted(self.by_code)
        self.sorted_norms: list[tuple[str, int]] = sorted((term.norm, i) for i, term in enumerate(self.terms))
        self._one_letter: dict[str, list[Match]] = {}
        # query word → the terms it matches, with their cost: the same words come back keystroke after keystroke
        # ("type 2 diabetes u", "type 2 diabetes ud", ...) and from user after user; bounded (see _word_terms)
        self._word_cache: OrderedDict[tuple[str, bool], dict[int, int]] = OrderedDict()
        self._word_cache_size = 0
        self.vocab: list[str] = sorted(postings)
        self.postings: dict[str, tuple[int, ...]] = {t: tuple(sorted(ids)) for t, ids in postings.items()}
        vocab_set = set(self.vocab)
        # compound parts: "betaendelse" → the tokens that end with it ("bihulebetaendelse"), same for heads
        parts: dict[str, set[str]] = defaultdict(set)
        for token in self.vocab:
            for cut in range(MIN_COMPOUND_PART, len(token) - MIN_COMPOUND_PART + 1):
                head, tail = token[:cut], token[cut:]
                if tail in vocab_set:
                    parts[tail].add(token)
                if head in vocab_set:
                    parts[head].add(token)
        self.compound_parts: dict[str, tuple[str, ...]] = {k: tuple(sorted(v)) for k, v in parts.items()}
        sounds: dict[str, list[str]] = defaultdict(list)
        for token in self.vocab:
            if len(token) >= 3 and not token.isdigit():
                sounds[sound(token)].append(token)
        self.sounds: dict[str, list[str]] = dict(sounds)
        self.sound_keys: list[str] = sorted(sounds)
        self.by_start: dict[tuple[int, int, str], list[str]] = defaultdict(list)  # (length, 0|1, letter)
        for token in self.vocab:
            self.by_start[(len(token), 0, token[0])].append(token)
            if len(token) > 1:
                self.by_start[(len(token), 1, token[1])].append(token)
        # distinct word starts of each length, by first and by second letter, for typos in the word being typed
        self.prefixes: dict[tuple[int, int, str], list[str]] = defaultdict(list)
        for n in FUZZY_PREFIX_LENGTHS:
            for start in sorted({t[:n] for t in self.vocab if len(t) >= n}):
                self.prefixes[(n, 0, start[0])].append(start)
                self.prefixes[(n, 1, start[1])].append(start)

    # --- word → matching tokens -------------------------------------------------------------------------------

    def _prefix_tokens(self, prefix: str) -> Iterator[str]:
        start = bisect_left(self.vocab, prefix)
        for token in self.vocab[start:]:
            if not token.startswith(prefix):
                break
            yield token

    def word_tokens(self, word: str, last: bool) -> dict[str, int]:
        """Tokens a query word matches, each with the cost of the cheapest way it matches (see ``Q_*``)."""
        found: dict[str, int] = {}
        if word in self.postings:
            found[word] = Q_EXACT
        if last or len(word) >= MIN_PREFIX:  # earlier words may be abbreviated too ("hyperten ukompl")
            for token in self._prefix_tokens(word):
                found.setdefault(token, Q_PREFIX)
        if len(word) >= MIN_COMPOUND_PART:
            for token in self.compound_parts.get(word, ()):
                found.setdefault(token, Q_COMPOUND)
        if len(word) >= 3:
            key = sound(word)
            for token in self.sounds.get(key, ()):
                found.setdefault(token, Q_SOUND)
            if last and len(key) >= MIN_COMPOUND_PART:
                for sound_key in _prefixed(self.sound_keys, key):
                    for token in self.sounds[sound_key]:
                        found.setdefault(token, Q_SOUND + 1)
        typos = max_typos(word)
        if typos and not any(q == Q_EXACT for q in found.values()):
            for token, distance in self._fuzzy(word, typos, last):
                if found.get(token, 99) > Q_FUZZY + distance:
                    found[token] = Q_FUZZY + distance
        return found

    def _fuzzy(self, word: str, typos: int, last: bool) -> Iterator[tuple[str, int]]:
        n = len(word)
        candidates: list[str] = []
        # a typo seldom hits both of the first two letters: compare only with words that share one of them
        for length in range(n - typos, n + typos + 1):
            candidates.extend(self.by_start.get((length, 0, word[0]), ()))
            candidates.extend(t for t in self.by_start.get((length, 1, word[1]), ()) if t[0] != word[0])
        for token, distance, _ in process.extract(word, candidates, scorer=OSA.distance, score_cutoff=typos,
                                                  limit=None):
            yield token, int(distance)
        if last and n in FUZZY_PREFIX_LENGTHS:
            prefixes = list(self.prefixes.get((n, 0, word[0]), ()))
            prefixes += [p for p in self.prefixes.get((n, 1, word[1]), ()) if p[0] != word[0]]
            for prefix, distance, _ in process.extract(word, prefixes, scorer=OSA.distance,
                                                       score_cutoff=typos, limit=None):
                for token in self._prefix_tokens(prefix):
                    yield token, int(distance) + 1

    # --- query ------------------------------------------------------------------------------------------------

    def search(self, query: str) -> list[Hit]:
        """Every concept matching ``query``, best first."""
        return [self.hit(match) for match in self.ranked(query)]

    def hit(self, match: Match) -> Hit:
        """The :class:`Hit` for one entry of :meth:`ranked`."""
        rank, concept, term = match
        info = self.concepts[concept]
        return Hit(self.system, self.version, info.code, info.display, term.text if term else info.code,
                   CLASS_NAMES[rank[3]], KIND_NAMES[term.kind] if term else "code", _score(rank), info.active,
                   info.abstract, rank)

    def ranked(self, query: str) -> list[Match]:
        """Every concept matching ``query`` as ``(rank, concept number, matched term)``, best first; cheap to page
        before turning entries into hits."""
        norm = normalize(query)
        if not norm:
            return []
        best: dict[int, tuple] = {}

        def offer(concept: int, match_class: int, term: Term | None, cost: int = 0) -> None:
            info = self.concepts[concept]
            kind = term.kind if term else KIND_DISPLAY
            length = len(term.norm) if term else len(info.code)
            rank = (_TIERS[match_class], not info.active or info.abstract, kind, match_class, cost, length,
                    info.code)
            current = best.get(concept)
            if current is None or rank < current[0]:
                best[concept] = (rank, term)

        key = _CODE_CHARS.sub("", norm)
        has_digit = any(ch.isdigit() for ch in key)
        if key and ((has_digit and len(key) <= 12) or len(key) <= 3):
            for concept in self.by_code.get(key, ()):
                offer(concept, CLASS_CODE, None)
            if has_digit and len(key) >= 2:
                for concept in self._code_prefix(key):
                    offer(concept, CLASS_PREFIX, None)
        if len(norm) == 1:
            # one letter (the first keystroke): only what starts with it, ranked once and remembered
            cached = self._one_letter.get(norm)
            if cached is None:
                for norm_text, term_id in _prefixed_pairs(self.sorted_norms, norm):
                    offer(self.terms[term_id].concept, CLASS_PREFIX, self.terms[term_id])
                cached = self._one_letter[norm] = self._sorted(best)
            return list(cached)
        words = norm.split()
        cache: dict[tuple[str, bool], dict[int, int]] = {}
        for variant, extra in _variants(words):
            self._match_words(variant, " ".join(variant), offer, cache, extra)
        # nothing has every word: offer what has the most of them (shortest, least telling words dropped first)
        for dropped in range(1, len(words)):
            if best:
                break
            for removed in combinations(sorted(range(len(words)), key=lambda i: (len(words[i]), i)), dropped):
                rest = [w for i, w in enumerate(words) if i not in removed]
                if any(len(w) >= MIN_PREFIX for w in rest):
                    self._match_words(rest, " ".join(rest), offer, cache, 10 * dropped, partial=True)
        return self._sorted(best)

    @staticmethod
    def _sorted(best: dict[int, tuple]) -> list[Match]:
        matches = [(rank, concept, term) for concept, (rank, term) in best.items()]
        matches.sort(key=lambda match: match[0])
        return matches

    def _code_prefix(self, key: str) -> Iterator[int]:
        start = bisect_left(self.code_keys, key)
        for code in self.code_keys[start:]:
            if not code.startswith(key):
                break
            if code != key:
                yield from self.by_code[code]

    def _match_words(self, words: list[str], phrase: str, offer, cache: dict[tuple[str, bool], dict[int, int]],
                     extra: int, partial: bool = False) -> None:  # type: ignore[no-untyped-def]
        per_word: list[dict[int, int]] = []
        for position, word in enumerate(words):
            last = position == len(words) - 1
            terms = cache.get((word, last))
            if terms is None:
                terms = cache[(word, last)] = self._word_terms(word, last)
            if not terms:
                return
            per_word.append(terms)
        per_word.sort(key=len)
        matched = {t: (c, c) for t, c in per_word[0].items()}  # term → (worst word cost, total cost)
        for other in per_word[1:]:
            matched = {t: (max(w, other[t]), total + other[t]) for t, (w, total) in matched.items() if t in other}
            if not matched:
                return
        for term_id, (worst, total) in matched.items():
            term = self.terms[term_id]
            if partial:
                match_class = CLASS_PARTIAL
            elif term.norm == phrase and worst == Q_EXACT:
                match_class = CLASS_TITLE
            elif term.norm.startswith(phrase):
                match_class = CLASS_PREFIX
            elif worst <= Q_PREFIX:
                match_class = CLASS_WORDS
            elif worst == Q_COMPOUND:
                match_class = CLASS_COMPOUND
            elif worst <= Q_SOUND + 1:
                match_class = CLASS_SOUND
            else:
                match_class = CLASS_FUZZY
            offer(term.concept, match_class, term, total + extra)


    def _word_terms(self, word: str, last: bool) -> dict[int, int]:
        """Term id → the cheapest cost at which ``word`` matches one of its tokens (shared: read it, never change
        it). Kept for the next queries with the word; the least recently used words make room when the kept
        entries (term ids, plus one per word) would pass WORD_CACHE_TERMS."""
        key = (word, last)
        cache = self._word_cache
        terms = cache.get(key)
        if terms is not None:
            cache.move_to_end(key)
            return terms
        terms = {}
        for token, cost in self.word_tokens(word, last).items():
            for term_id in self.postings[token]:
                if terms.get(term_id, 99) > cost:
                    terms[term_id] = cost
        weight = len(terms) + 1  # a word matching nothing is kept too, and counts
        if weight <= WORD_CACHE_TERMS:
            while cache and self._word_cache_size + weight > WORD_CACHE_TERMS:
                self._word_cache_size -= len(cache.popitem(last=False)[1]) + 1
            cache[key] = terms
            self._word_cache_size += weight
        return terms


def _variants(words: list[str]) -> list[tuple[list[str], int]]:
    """The query words, and the same with each pair of neighbours joined (Danish compounds typed apart), each with
    the extra cost of the change."""
    variants = [(words, 0)]
    for i in range(len(words) - 1):
        variants.append((words[:i] + [words[i] + words[i + 1]] + words[i + 2:], 1))
    return variants


def _prefixed_pairs(pairs: list[tuple[str, int]], prefix: str) -> Iterator[tuple[str, int]]:
    start = bisect_left(pairs, (prefix, -1))
    for pair in pairs[start:]:
        if not pair[0].startswith(prefix):
            break
        yield pair


def _prefixed(keys: list[str], prefix: str) -> Iterator[str]:
    start = bisect_left(keys, prefix)
    for key in keys[start:]:
        if not key.startswith(prefix):
            break
        yield key


_SOUNDS = (("aa", "a"), ("ae", "e"), ("oe", "o"), ("ph", "f"), ("th", "t"), ("ch", "k"), ("x", "ks"),
           ("ci", "si"), ("ce", "se"), ("c", "k"), ("q", "k"), ("w", "v"), ("z", "s"), ("y", "i"))
_DOUBLE = re.compile(r"(.)\1+")


def sound(word: str) -> str:
    """A rough Danish sound key of a normalised word: spellings people mix up give the same key
    (``eksem``/``exem``, ``klamydia``/``klamidya``, ``åndenød``/``andenod``, ``øre``/``ore``)."""
    for old, new in _SOUNDS:
        word = word.replace(old, new)
    return _DOUBLE.sub(r"\1", word)


# code and exact-title matches, then every other non-typo match (where display beats designation beats synonym
# beats mapped text, before prefix beats words beats compound part), then typos
_TIERS = {CLASS_CODE: 0, CLASS_TITLE: 1, CLASS_PREFIX: 2, CLASS_WORDS: 2, CLASS_COMPOUND: 2, CLASS_SOUND: 3,
          CLASS_FUZZY: 4, CLASS_PARTIAL: 5}


def _score(rank: tuple) -> float:
    """A score in [0, 1] for display, higher is better, from the tier, flag, kind and class of the rank. It never
    increases down the rank order (each weight exceeds what the later ones add up to); the finer tie-breaks
    (corrections, length, code) order hits without changing their score."""
    tier, flagged, kind, match_class = rank[:4]
    return round(1.0 - (tier * 0.16 + flagged * 0.08 + kind * 0.02 + match_class * 0.0025), 4)


@dataclass
class SearchIndex:
    """Indexes of every searchable code system version, by canonical URL (newest version) and by URL|version."""

    systems: dict[str, SystemIndex] = field(default_factory=dict)
    snapshots: dict[str, Any] = field(default_factory=dict)  # url → services.snapshot.SystemSnapshot
    generation: int = -1
    built_at: float = field(default_factory=time.time)
    seconds: float = 0.0

    def get(self, system: str, version: str | None = None) -> SystemIndex | None:
        index = self.systems.get(system)
        if index is not None and (version is None or index.version == version):
            return index
        return None

    def ranked(self, query: str, systems: Iterable[str] | None = None) -> list[tuple[tuple, str, Match]]:
        """``(rank, system, match)`` across ``systems`` (all when None), merged by rank."""
        chosen = [self.systems[s] for s in systems if s in self.systems] if systems is not None \
            else list(self.systems.values())
        merged = [(match[0], index.system, match) for index in chosen for match in index.ranked(query)]
        merged.sort(key=lambda item: (item[0], item[1]))
        return merged

    def search(self, query: str, systems: Iterable[str] | None = None) -> list[Hit]:
        """Hits across ``systems`` (all when None), merged by rank."""
        return [self.systems[system].hit(match) for _, system, match in self.ranked(query, systems)]


def search_codes(index: SearchIndex | None, query: str, systems: list[str] | None, *, limit: int = 20,
                 offset: int = 0, active_only: bool = False) -> list[Hit]:
    """One page of hits for a picker.

    :raises NotFound: when a requested system is not loaded.
    """
    if index is None:
        return []
    for system in systems or []:
        if index.get(system) is None:
            raise NotFound(f"Code system '{system}' is not known to this server (or has nothing to search)")
    ranked = index.ranked(query, systems)
    if active_only:
        ranked = [item for item in ranked if index.systems[item[1]].concepts[item[2][1]].active]
    return [index.systems[system].hit(match) for _, system, match in ranked[offset:offset + limit]]
