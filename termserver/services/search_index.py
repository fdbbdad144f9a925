"""Building the in-memory search index from the store, and keeping it current.

Every searchable concept is indexed under its display (in the system's default language), its other displays and
Danish/English designations (supplements included), the synonym lexicon, and, for concepts that are the source of
an ICD-10 map (ICPC-2), the Danish texts of the ICD-10 codes they map to. Norwegian, Finnish and Swedish
designations are not indexed: they are noise for a Danish picker.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from collections import defaultdict
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from termserver.models import (CodeSystemVersion, Concept, ConceptMapVersion, ConceptParent, ConceptProperty,
                               Designation, MapElement, StoreState)
from termserver.services import catalog
from termserver.services.catalog import Context
from termserver.services.snapshot import ConceptSnapshot, SystemSnapshot
from termserver.services.search import (KIND_DESIGNATION, KIND_DISPLAY, KIND_MAPPED, KIND_SYNONYM, SearchIndex,
                                        SourceConcept, SystemIndex, code_key)
from termserver.systems import ICD10, SKS_DIAGNOSES, who_to_sks

log = logging.getLogger("termserver.search")
SEARCH_LANGUAGES = ("da", "en")
SYNONYM_USE = "synonym"


def current_generation(session: Session) -> int:
    """The store's content generation (bumped by every load that changes data; 0 for an empty store)."""
    return session.scalar(select(StoreState.generation).where(StoreState.id == 1)) or 0


def _searchable(language: str | None, use_code: str | None) -> bool:
    if use_code == SYNONYM_USE:
        return True
    return language is None or any(catalog.language_matches(lang, language) for lang in SEARCH_LANGUAGES)


def build_index(ctx: Context) -> SearchIndex:
    """Index the newest version of every loaded (non-supplement) code system."""
    started = time.perf_counter()
    index = SearchIndex(generation=current_generation(ctx.session))
    urls = sorted(set(ctx.session.scalars(select(CodeSystemVersion.url).where(
        CodeSystemVersion.content != "supplement"))))
    mapped = _mapped_texts(ctx)
    for url in urls:
        row = catalog.versions_of(ctx, url)[0]
        snapshot = SystemSnapshot(row.url, row.version, row.title, row.name, row.language, row.case_sensitive,
                                  supplements=tuple(catalog.canonical(s.url, s.version)
                                                    for s in catalog.supplements_of(ctx, row)))
        index.systems[url] = SystemIndex(url, row.version, _sources(ctx, row, mapped.get(url, {}), snapshot))
        index.snapshots[url] = snapshot
    index.seconds = time.perf_counter() - started
    log.info("search index built: %d systems, %.1f s", len(index.systems), index.seconds)
    return index


def _sources(ctx: Context, row: CodeSystemVersion, mapped: dict[str, list[str]],
             snapshot: SystemSnapshot) -> list[SourceConcept]:
    session = ctx.session
    concepts = list(session.execute(select(Concept.id, Concept.code, Concept.display, Concept.definition,
                                           Concept.active, Concept.not_selectable, Concept.status)
                                    .where(Concept.code_system_id == row.id)
                                    .order_by(Concept.sort_order, Concept.id)))
    own: dict[int, list[catalog.DesignationView]] = defaultdict(list)
    for d in session.scalars(select(Designation).join(Concept, Designation.concept_id == Concept.id)
                             .where(Concept.code_system_id == row.id).order_by(Designation.id)):
        own[d.concept_id].append(catalog.DesignationView(d.value, d.language, d.use_system, d.use_code,
                                                         d.use_display))
    properties: dict[int, list[catalog.PropertyView]] = defaultdict(list)
    for p in session.scalars(select(ConceptProperty).join(Concept, ConceptProperty.concept_id == Concept.id)
                             .where(Concept.code_system_id == row.id).order_by(ConceptProperty.id)):
        properties[p.concept_id].append(catalog.PropertyView(p.code, p.value, p.type, p.value_system,
                                                             p.value_display))
    parents: dict[str, list[str]] = defaultdict(list)
    children: dict[str, list[str]] = defaultdict(list)
    for child, parent in session.execute(select(ConceptParent.child_code, ConceptParent.parent_code)
                                         .where(ConceptParent.code_system_id == row.id).order_by(ConceptParent.id)):
        parents[child].append(parent)
        children[parent].append(child)
    supplements = catalog.supplement_contents(ctx, row)
    nothing = catalog.SupplementContent()
    sources = []
    for concept_id, code, display, definition, active, not_selectable, status in concepts:
        added = supplements.get(code, nothing)
        designations = own.get(concept_id, []) + added.designations
        preferred = catalog.preferred_display(row, display, designations, None)
        snapshot.concepts[code] = ConceptSnapshot(
            code, display, active, status, not_selectable, designations, preferred, definition=definition,
            properties=tuple(properties.get(concept_id, ())) + tuple(added.properties),
            supplements=tuple(added.supplements), parents=tuple(parents.get(code, ())),
            children=tuple(children.get(code, ())))
        snapshot.folded.setdefault(code.casefold(), code)
        shown = preferred or display or code
        terms: list[tuple[str, int]] = [(shown, KIND_DISPLAY)]
        if display and display != shown:
            terms.append((display, KIND_DESIGNATION))
        for d in designations:
            if _searchable(d.language, d.use_code):
                terms.append((d.value, KIND_SYNONYM if d.use_code == SYNONYM_USE else KIND_DESIGNATION))
        terms += [(text, KIND_MAPPED) for text in mapped.get(code, [])]
        sources.append(SourceConcept(code, shown, active, not_selectable, terms, _code_keys(row.url, code)))
    return sources


def _code_keys(system: str, code: str) -> tuple[str, ...]:
    key = code_key(code)
    if system == SKS_DIAGNOSES and key.startswith("d") and len(key) > 3:
        return (key, key[1:])  # DM545 is also found as M54.5
    if system == ICD10:
        return (key, "d" + key)  # M54.5 is also found as DM545
    return (key,)


def _mapped_texts(ctx: Context) -> dict[str, dict[str, list[str]]]:
    """source system → source code → Danish texts of the ICD-10 codes it maps to."""
    session = ctx.session
    danish: dict[str, str] = {}
    try:
        who = catalog.resolve_system(ctx, ICD10)
        for code, values in catalog.supplement_designations(ctx, who).items():
            text = next((d.value for d in values if catalog.language_matches("da", d.language)), None)
            if text:
                danish[code] = text
    except Exception:  # no WHO ICD-10 loaded: only SKS texts
        pass
    sks_display: dict[str, str] = {}
    try:
        sks = catalog.resolve_system(ctx, SKS_DIAGNOSES)
        sks_display = dict(session.execute(select(Concept.code, Concept.display).where(
            Concept.code_system_id == sks.id)).tuples())
    except Exception:
        pass
    result: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    map_ids = list(session.scalars(select(ConceptMapVersion.id)))
    query = select(MapElement.source_system, MapElement.source_code, MapElement.target_code).where(
        MapElement.concept_map_id.in_(map_ids), MapElement.target_system == ICD10,
        MapElement.target_code.is_not(None))
    for source_system, source_code, target_code in session.execute(query):
        text = danish.get(target_code) or sks_display.get(who_to_sks(target_code) or "")
        if text and text not in result[source_system][source_code]:
            result[source_system][source_code].append(text)
    return result


class IndexHolder:
    """The app's search index: built at start-up, rebuilt when a load has changed the store.

    The store's generation is checked at most every ``check_seconds``; a rebuild happens in the request that
    notices the change, under a lock, while other threads keep using the old index.
    """

    def __init__(self, session_factory: Callable[[], Session], make_context: Callable[[Session], Context],
                 check_seconds: float = 2.0) -> None:
        self._session_factory = session_factory
        self._make_context = make_context
        self._check_seconds = check_seconds
        self._lock = threading.Lock()
        self._checked = 0.0
        self.index: SearchIndex | None = None

    def build(self) -> SearchIndex:
        """Build the index (again), with the cyclic garbage collector paused (it makes ~10⁶ objects), and leave
        everything alive afterwards frozen (``gc.freeze``): kept out of every later collection, so a collection
        never pauses a request for the ~100 ms a scan of the index takes, and the pages gunicorn's forked workers
        share are not copied by it. A rebuild (a new release) first unfreezes and collects once, so the old
        index's cyclic garbage is freed instead of staying frozen for good."""
        rebuild = self.index is not None
        gc.disable()
        try:
            with self._session_factory() as session:
                self.index = build_index(self._make_context(session))
        finally:
            gc.enable()
        if rebuild:
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        self._checked = time.monotonic()
        return self.index

    def get(self, session: Session) -> SearchIndex:
        """The current index; rebuilt first if the store changed since it was built."""
        index = self.index
        now = time.monotonic()
        if index is not None and now - self._checked < self._check_seconds:
            return index
        self._checked = now
        if index is not None and current_generation(session) == index.generation:
            return index
        with self._lock:
            if self.index is index:
                self.build()
        assert self.index is not None
        return self.index
