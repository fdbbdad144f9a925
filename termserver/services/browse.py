"""The web pages' view of one code: everything a reader wants about it on one page.

Built from the services the FHIR operations use (``lookup_code`` of ``$lookup``, ``translate_code`` of
``$translate``), so the page and the API cannot disagree. Titles are Danish where the store has Danish
(ICPC-2-DK, SKS, the Danish ICD-10 supplement), else the code system's own display.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from termserver.errors import NotFound, TermserverError, UnknownCodeSystem
from termserver.services import catalog
from termserver.services.catalog import Context, DesignationView
from termserver.services.codesystems import LookupRequest, lookup_code
from termserver.services.conceptmaps import TranslateRequest, translate_code
from termserver.services.search import Hit, search_codes
from termserver.systems import ICD10, ICPC2, KNOWN_SYSTEMS, SKS_DIAGNOSES, KnownSystem, known_system, system_by_key

PAGE_LANGUAGE = "da"
# the systems' names on the pages, by key (short, and as Danish users say them)
LABELS = {"icpc2": "ICPC-2", "sks": "SKS-diagnoser", "icd10": "WHO ICD-10", "npu": "NPU", "mcs": "MedCom MCS"}
# the texts ICPC-2 gives a rubric, in the order a reader needs them (ICPC-2e's property codes)
NOTE_LABELS = (("inclusion", "Inklusion"), ("exclusion", "Eksklusion"), ("criteria", "Kriterier"),
               ("consider", "Overvej"), ("note", "Note"))
_NOTE_CODES = {code for code, _ in NOTE_LABELS}
_SHOWN_ELSEWHERE = {"parent", "child", "inactive", "status", "notSelectable"}  # hierarchy and status have places
PROPERTY_LABELS = {"validFrom": "Gyldig fra", "validTo": "Gyldig til", "effectiveDate": "Ændret",
                   "unit": "Enhed", "phmr-unit": "Enhed (PHMR)",
                   "component": "Komponent", "kind": "Art"}
EQUIVALENCE_LABELS = {"equivalent": "ækvivalent", "equal": "lig med", "wider": "bredere", "subsumes": "omfatter",
                      "narrower": "snævrere", "specializes": "specialiserer", "inexact": "upræcis",
                      "relatedto": "beslægtet", "unmatched": "ingen match", "disjoint": "disjunkt"}


@dataclass
class RelatedCode:
    """A code the page links to: a parent, a child or a map target (``key`` empty when this server lacks it)."""

    key: str
    code: str
    title: str | None


@dataclass
class MapRow:
    """One line of a map from the page's code: where it goes, how well it matches, and which map says so."""

    target: RelatedCode
    system_name: str
    equivalence: str
    equivalence_label: str
    map_source: str | None
    comment: str | None


@dataclass
class CodePage:
    system: KnownSystem
    system_title: str
    version: str | None
    code: str
    title: str | None
    english_title: str | None
    definition: str | None
    active: bool
    abstract: bool
    status: str | None
    notes: list[tuple[str, list[str]]] = field(default_factory=list)  # (label, texts) in NOTE_LABELS order
    properties: list[tuple[str, str]] = field(default_factory=list)  # (label, value)
    replaced_by: list[RelatedCode] = field(default_factory=list)  # the codes a retired code was replaced by
    synonyms: list[str] = field(default_factory=list)  # Danish terms besides the title
    other_languages: list[tuple[str, str]] = field(default_factory=list)  # (language, title)
    parents: list[RelatedCode] = field(default_factory=list)
    children: list[RelatedCode] = field(default_factory=list)
    maps: list[tuple[str, list[MapRow]]] = field(default_factory=list)  # (heading, rows), one per direction


def browse_systems() -> list[KnownSystem]:
    """The systems the web pages know, in the order of their menu (ICPC-2 first)."""
    return [system for system in KNOWN_SYSTEMS if system.key]


def searchable_systems(ctx: Context) -> list[KnownSystem]:
    """The systems of :func:`browse_systems` that are loaded here (the search menu offers only those)."""
    return [system for system in browse_systems() if ctx.search is not None and ctx.search.get(system.canonical)]


def label(system: KnownSystem) -> str:
    """The name the pages give ``system``."""
    return LABELS.get(system.key, system.name)


def require_system(key: str, error: type[TermserverError] = NotFound) -> KnownSystem:
    """The system behind a web-page key.

    :raises NotFound: (or ``error``) when ``key`` is not one of :func:`browse_systems`.
    """
    system = system_by_key(key)
    if system is None:
        keys = ", ".join(s.key for s in browse_systems())
        raise error(f"Ukendt kodesystem '{key}'. Brug et af: {keys}")
    return system


def search(ctx: Context, system: KnownSystem, query: str, limit: int) -> list[Hit]:
    """The picker's hits for ``query`` in ``system`` (the engine of ``$expand``'s filter), with Danish titles."""
    hits = search_codes(ctx.search, query, [system.canonical], limit=limit)
    titles = titles_of(ctx, system.canonical, [hit.code for hit in hits])
    for hit in hits:
        hit.display = titles.get(hit.code) or hit.display
    return hits


def code_page(ctx: Context, key: str, code: str) -> CodePage:
    """Everything about ``code`` of the system ``key``: titles, texts, hierarchy, status and maps.

    :raises NotFound: when the key is unknown or the code is not in the system.
    :raises UnknownCodeSystem: when the system is not loaded on this server.
    """
    system = require_system(key)
    result = lookup_code(ctx, LookupRequest(system.canonical, code, display_language=PAGE_LANGUAGE))
    row = catalog.resolve_system(ctx, system.canonical)
    page = CodePage(system=system, system_title=row.title or row.name or system.name, version=result.version,
                    code=result.code, title=result.display, english_title=_english_title(result.designations),
                    definition=result.definition, active=not result.inactive, abstract=result.abstract,
                    status=None)
    if page.english_title == page.title:
        page.english_title = None
    page.synonyms, page.other_languages = _other_titles(result.designations, {page.title, page.english_title})
    texts: dict[str, list[str]] = {}
    related: dict[str, list[str]] = {"parent": [], "child": [], "replacedBy": []}
    for name, (kind, value), _ in result.properties:
        if name in related:
            related[name].append(str(value))
        elif name == "status":
            page.status = str(value)
        elif name in _NOTE_CODES:
            texts.setdefault(name, []).append(str(value))
        elif name not in _SHOWN_ELSEWHERE:
            page.properties.append((PROPERTY_LABELS.get(name, name), _property_text(kind, value)))
    page.notes = [(label, texts[name]) for name, label in NOTE_LABELS if texts.get(name)]
    titles = titles_of(ctx, system.canonical, [code for codes in related.values() for code in codes])
    page.parents, page.children, page.replaced_by = (
        [RelatedCode(key if c in titles else "", c, titles.get(c)) for c in related[name]]
        for name in ("parent", "child", "replacedBy"))
    page.maps = [(heading, rows) for heading, rows in _maps(ctx, system, page.code) if rows]
    return page


def titles_of(ctx: Context, url: str, codes: list[str]) -> dict[str, str | None]:
    """The Danish title of each of ``codes`` in the newest version of ``url`` (its own display where no Danish
    one is known); codes the system lacks are left out."""
    if not codes:
        return {}
    try:
        row = catalog.resolve_system(ctx, url)
    except UnknownCodeSystem:
        return {}
    snapshot = catalog.snapshot_of(ctx, row.url, row.version)
    if snapshot is not None:
        found = {code: snapshot.concepts.get(code) for code in codes}
        return {code: catalog.preferred_display(row, c.display, c.designations, PAGE_LANGUAGE)
                for code, c in found.items() if c is not None}
    displays = catalog.displays_for(ctx, row, codes)
    extra = catalog.supplement_designations(ctx, row, list(displays))
    return {code: catalog.preferred_display(row, display, extra.get(code, []), PAGE_LANGUAGE)
            for code, display in displays.items()}


def _english_title(designations: list[DesignationView]) -> str | None:
    for designation in designations:
        if catalog.language_matches("en", designation.language) and designation.use_code in catalog.DISPLAY_USES \
                and not designation.source:
            return designation.value
    return None


def _other_titles(designations: list[DesignationView], shown: set[str | None]) -> tuple[list[str],
                                                                                         list[tuple[str, str]]]:
    """Danish synonyms, and one title per other language, leaving out what the page already shows (a term that
    differs only in case is the same term to a reader)."""
    seen = {value.casefold() for value in shown if value}
    synonyms: list[str] = []
    languages: dict[str, str] = {}
    for designation in designations:
        language = (designation.language or "").split("-")[0]
        if language == PAGE_LANGUAGE:
            if designation.value.casefold() not in seen:
                seen.add(designation.value.casefold())
                synonyms.append(designation.value)
        elif language and language != "en" and designation.use_code in catalog.DISPLAY_USES \
                and designation.value not in shown:
            languages.setdefault(language, designation.value)
    return synonyms, sorted(languages.items())


def _property_text(kind: str, value: Any) -> str:
    if kind == "Coding" and isinstance(value, dict):
        return " ".join(part for part in (value.get("code"), value.get("display")) if part)
    if kind == "boolean":
        return "ja" if value else "nej"
    return str(value)


def _maps(ctx: Context, system: KnownSystem, code: str) -> list[tuple[str, list[MapRow]]]:
    """The maps from ``code``, one table per target system: ICPC-2 → ICD-10 (WHO and SKS forms) on an ICPC-2 page;
    ICD-10/SKS → ICPC-2 (the same maps read backwards) and the SKS ↔ WHO twin on an ICD-10 or SKS page."""
    if system.canonical == ICPC2:
        requests = [TranslateRequest(ICPC2, code)]
    elif system.canonical == ICD10:
        requests = [TranslateRequest(ICD10, code, target_system=ICPC2, reverse=True),
                    TranslateRequest(ICD10, code, target_system=SKS_DIAGNOSES)]
    elif system.canonical == SKS_DIAGNOSES:
        requests = [TranslateRequest(SKS_DIAGNOSES, code, target_system=ICPC2),
                    TranslateRequest(SKS_DIAGNOSES, code, target_system=ICD10)]
    else:
        return []
    tables: dict[str, list[MapRow]] = {}
    for request in requests:
        for row in _translate(ctx, request):
            tables.setdefault(f"{label(system)} → {row.system_name}", []).append(row)
    return list(tables.items())


def _translate(ctx: Context, request: TranslateRequest) -> list[MapRow]:
    try:
        result = translate_code(ctx, request)
    except (NotFound, UnknownCodeSystem):  # the code is in its system but in no map: nothing to show
        return []
    targets: dict[str, list[str]] = {}
    for match in result.matches:
        if match.target.system and match.target.code:
            targets.setdefault(match.target.system, []).append(match.target.code)
    titles = {system: titles_of(ctx, system, codes) for system, codes in targets.items()}
    rows = []
    for match in result.matches:
        target_system = known_system(ctx.aliases.canonical(match.target.system or ""))
        code = match.target.code or ""
        known = code in titles.get(match.target.system or "", {})
        title = titles.get(match.target.system or "", {}).get(code) or match.target.display
        rows.append(MapRow(RelatedCode(target_system.key if target_system and known else "", code, title),
                           label(target_system) if target_system else (match.target.system or ""),
                           match.equivalence, EQUIVALENCE_LABELS.get(match.equivalence, match.equivalence),
                           match.source, match.comment))
    return rows
