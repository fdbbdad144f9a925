"""ConceptMap ``$translate``: stored maps (ICPC-2 → ICD-10, both directions) plus the SKS ↔ WHO code-form rule.

ICPC-2 → ICD-10 answers WHO codes and, where SKS has them, their SKS form (``I10`` and ``DI10``). SKS → ICPC-2
goes through the WHO form; a Danish extension code (``DE115A``) with no WHO twin is translated through its
nearest WHO ancestor and the match is marked ``wider``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import select

from termserver.errors import InvalidRequest, NotFound, UnknownCodeSystem
from termserver.models import ConceptMapVersion, MapElement
from termserver.services import catalog
from termserver.services.catalog import Context
from termserver.services.results import Coding, TranslationMatch, TranslationResult
from termserver.systems import ICD10, SKS_DIAGNOSES, sks_to_who, who_to_sks

CODE_FORM_RULE = "urn:termserver:rule:sks-who-code-form"
Add = Callable[[TranslationMatch], None]


@dataclass
class TranslateRequest:
    system: str
    code: str
    version: str | None = None
    url: str | None = None
    map_version: str | None = None
    source_scope: str | None = None
    target_scope: str | None = None
    target_system: str | None = None
    reverse: bool = False


def _maps(ctx: Context, request: TranslateRequest) -> list[ConceptMapVersion]:
    query = select(ConceptMapVersion)
    if request.url:
        url, _, version = request.url.partition("|")
        query = query.where(ConceptMapVersion.url == url)
        version = request.map_version or version
        if version:
            query = query.where(ConceptMapVersion.version == version)
        rows = [r for session in ctx.sessions() for r in session.scalars(query)]
        if not rows:
            raise NotFound(f"ConceptMap '{request.url}' is not known to this server")
        return rows
    if request.source_scope:
        query = query.where(ConceptMapVersion.source_scope == request.source_scope)
    if request.target_scope:
        query = query.where(ConceptMapVersion.target_scope == request.target_scope)
    return sorted((r for session in ctx.sessions() for r in session.scalars(query)),
                  key=lambda m: (m.date or "", m.id), reverse=True)


def translate_code(ctx: Context, request: TranslateRequest) -> TranslationResult:
    """Translate one code through the stored concept maps and the SKS/WHO code-form rule.

    :raises InvalidRequest: when system or code is missing.
    :raises NotFound: when a named concept map is not loaded, or the code is neither in the loaded source system
        nor in any map.
    :raises UnknownCodeSystem: when the source system (or version) is neither loaded nor used by any map.
    """
    if not request.system or not request.code:
        raise InvalidRequest("$translate needs system and code (or coding/codeableConcept)")
    source = ctx.aliases.canonical(request.system)
    target = ctx.aliases.canonical(request.target_system) if request.target_system else None
    maps = _maps(ctx, request)
    _check_source(ctx, request, source)
    matches: list[TranslationMatch] = []
    seen: set[tuple[str | None, str | None]] = set()

    def add(match: TranslationMatch) -> None:
        key = (match.target.system, match.target.code)
        if key not in seen:
            seen.add(key)
            matches.append(match)

    if not request.url and {source, target} == {SKS_DIAGNOSES, ICD10}:
        _code_form(ctx, source, request.code, add)
    elif request.reverse:
        _reverse(ctx, maps, source, request.code, target, add)
    else:
        _forward(ctx, maps, source, request.code, target, add)
    _fill_displays(ctx, matches)
    if matches:
        return TranslationResult(True, None, matches)
    where = f" with ConceptMap '{request.url}'" if request.url else ""
    to = f" to '{request.target_system}'" if request.target_system else ""
    scopes = "".join(f" ({name} scope '{scope}')" for name, scope in (("source", request.source_scope),
                                                                        ("target", request.target_scope)) if scope)
    return TranslationResult(False, f"No translation found for '{request.code}' in '{request.system}'{to}{where}"
                                    f"{scopes}")


def _check_source(ctx: Context, request: TranslateRequest, source: str) -> None:
    """Unknown input is an error, not an empty translation: a code or system that no loaded code system and no map
    knows, or a version that is not loaded. Maps may name codes their system lacks (``I10.9`` in the Danish map)."""
    system_column, code_column = ((MapElement.target_system, MapElement.target_code) if request.reverse
                                  else (MapElement.source_system, MapElement.source_code))

    def mapped(*conditions: Any) -> bool:
        query = select(MapElement.id).where(system_column == source, *conditions).limit(1)
        return any(session.scalar(query) is not None for session in ctx.sessions())

    try:
        row = catalog.resolve_system(ctx, request.system, request.version)
    except UnknownCodeSystem:
        if (request.version and catalog.versions_of(ctx, request.system)) or not mapped():
            raise
        return
    if catalog.find_concept(ctx, row, request.code) is None and not mapped(code_column == request.code):
        raise NotFound(f"Code '{request.code}' not found in code system "
                       f"{catalog.system_label(row, request.system)}", tx_code="invalid-code")


def _forward(ctx: Context, maps: list[ConceptMapVersion], source: str, code: str, target: str | None,
             add: Add) -> None:
    if source == SKS_DIAGNOSES:  # SKS → ICPC-2: the maps are keyed by WHO codes, go through the WHO form
        return _reverse_via_who(ctx, maps, code, target, add)
    for cmap in maps:
        rows = ctx.session_of(cmap).scalars(select(MapElement).where(
            MapElement.concept_map_id == cmap.id, MapElement.source_system == source,
            MapElement.source_code == code).order_by(MapElement.id))
        for row in rows:
            if row.target_code is not None:
                _emit(ctx, cmap, row.target_system, row.target_code, row.target_display, row.equivalence,
                      row.comment, target, add)


def _emit(ctx: Context, cmap: ConceptMapVersion, system: str | None, code: str, display: str | None,
          equivalence: str, comment: str | None, target: str | None, add: Add) -> None:
    label = catalog.canonical(cmap.url, cmap.version)
    if target in (None, system):
        add(TranslationMatch(equivalence, Coding(system, code, display), label, comment))
    if system == ICD10 and target in (None, SKS_DIAGNOSES):
        sks = who_to_sks(code)
        if sks and _exists(ctx, SKS_DIAGNOSES, sks):
            add(TranslationMatch(equivalence, Coding(SKS_DIAGNOSES, sks), label, comment))


def _reverse(ctx: Context, maps: list[ConceptMapVersion], source: str, code: str, target: str | None,
             add: Add) -> None:
    if source == SKS_DIAGNOSES:
        return _reverse_via_who(ctx, maps, code, target, add)
    _reverse_lookup(ctx, maps, source, code, target, "equivalent", add)


def _reverse_lookup(ctx: Context, maps: list[ConceptMapVersion], source: str, code: str, target: str | None,
                    widen: str | None, add: Add) -> int:
    found = 0
    for cmap in maps:
        rows = ctx.session_of(cmap).scalars(select(MapElement).where(
            MapElement.concept_map_id == cmap.id, MapElement.target_system == source,
            MapElement.target_code == code).order_by(MapElement.id))
        for row in rows:
            if target not in (None, row.source_system):
                continue
            equivalence = _inverse(row.equivalence) if widen == "equivalent" else (widen or row.equivalence)
            label = catalog.canonical(cmap.url, cmap.version)
            add(TranslationMatch(equivalence, Coding(row.source_system, row.source_code, None), label, row.comment))
            found += 1
    return found


def _reverse_via_who(ctx: Context, maps: list[ConceptMapVersion], code: str, target: str | None,
                     add: Add) -> None:
    who = sks_to_who(code)
    if who is None:
        return
    candidates = [who]
    # a Danish extension (DE115A → E11.5A) has no WHO twin: climb to the nearest WHO ancestor
    head, _, tail = who.partition(".")
    while tail:
        tail = tail[:-1]
        candidates.append(f"{head}.{tail}" if tail else head)
    for position, candidate in enumerate(candidates):
        if _reverse_lookup(ctx, maps, ICD10, candidate, target, "equivalent" if position == 0 else "wider", add):
            return


def _inverse(equivalence: str) -> str:
    return {"narrower": "wider", "wider": "narrower", "specializes": "subsumes",
            "subsumes": "specializes"}.get(equivalence, equivalence)


def _code_form(ctx: Context, source: str, code: str, add: Add) -> None:
    if source == SKS_DIAGNOSES:
        other, system = sks_to_who(code), ICD10
    else:
        other, system = who_to_sks(code), SKS_DIAGNOSES
    if other and _exists(ctx, system, other):
        add(TranslationMatch("equivalent", Coding(system, other), CODE_FORM_RULE,
                             "SKS and WHO ICD-10 code forms of the same code"))


def _exists(ctx: Context, system: str, code: str) -> bool:
    """Whether the newest version of ``system`` has ``code`` (from its in-memory snapshot when there is one)."""
    snapshot = catalog.snapshot_of(ctx, system)
    if snapshot is not None:
        return snapshot.find(code) is not None
    try:
        row = catalog.resolve_system(ctx, system)
    except UnknownCodeSystem:
        return False
    return catalog.find_concept(ctx, row, code) is not None


def _fill_displays(ctx: Context, matches: list[TranslationMatch]) -> None:
    rows = {}
    for match in matches:
        system = match.target.system
        if not system:
            continue
        if system not in rows:
            try:
                rows[system] = catalog.resolve_system(ctx, system)
            except UnknownCodeSystem:
                rows[system] = None
        row = rows[system]
        if row is None:
            continue
        snapshot = catalog.snapshot_of(ctx, row.url, row.version)  # the newest version's: the same display
        if snapshot is not None:
            found = snapshot.find(match.target.code or "")
            if found is not None:
                match.target.display = found.shown
                match.target.version = row.version
            continue
        concept = catalog.find_concept(ctx, row, match.target.code or "")
        if concept is not None:
            view = catalog.concept_view(ctx, row, concept)
            match.target.display = catalog.preferred_display(row, view.display, view.designations, None)
            match.target.version = row.version
