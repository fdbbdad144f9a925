"""Finding code systems, versions, supplements and concepts in the store.

Every service goes through here, so alias resolution, version choice ("newest is the default"), supplements and
display-language rules live in one place.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from termserver.errors import InvalidRequest, NotFound, UnknownCodeSystem
from termserver.models import CodeSystemVersion, Concept, ConceptParent, ConceptProperty, Designation
from termserver.systems import AliasTable, known_system

HL7_TERM_MAINT = "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra"
DISPLAY_USES = {None, "display", "preferredForLanguage"}


@dataclass
class Context:
    """What every service call needs: a session, the alias table and the settings."""

    session: Session
    aliases: AliasTable
    settings: dict[str, Any] = field(default_factory=dict)
    search: Any = None  # the SearchIndex, when the app has one (services/search.py)
    overlay: Session | None = None  # this request's tx-resource content (services/request_store.py), never stored
    # supplements asked for (useSupplement, a value set's valueset-supplement extension): url or url|version.
    # Supplements in the store always apply (the operator loaded them for that); those sent with a request apply
    # only when asked for, as FHIR says supplements are used
    use_supplements: set[str] = field(default_factory=set)

    def sessions(self) -> list[Session]:
        """Where resources are looked up by URL: this request's own resources first, then the store."""
        return [self.overlay, self.session] if self.overlay is not None else [self.session]

    def session_of(self, row: Any) -> Session:
        """The session ``row`` was read from: its concepts, designations and hierarchy live beside it."""
        return object_session(row) or self.session


def snapshot_of(ctx: Context, system: str | None, version: str | None = None) -> Any:
    """The in-memory snapshot (``services.snapshot.SystemSnapshot``) of ``system`` (any alias) when it is the version
    asked for (the newest, or that same version) and the context has one (not when a request brings code systems or
    supplements of its own: then the context has no index); else None."""
    if ctx.search is None or not system:
        return None
    snapshot = ctx.search.snapshots.get(ctx.aliases.canonical(system))
    if snapshot is None or (version and version != snapshot.version):
        return None
    return snapshot


def canonical(url: str | None, version: str | None) -> str:
    """``url|version``, or the bare url of an unversioned resource."""
    return f"{url}|{version}" if version else url or ""


@dataclass
class DesignationView:
    value: str
    language: str | None = None
    use_system: str | None = None
    use_code: str | None = None
    use_display: str | None = None
    source: str | None = None  # the supplement (url|version) it comes from, when not the code system itself


@dataclass
class PropertyView:
    code: str
    value: str
    type: str = "string"
    system: str | None = None
    display: str | None = None
    uri: str | None = None  # the property's definition (CodeSystem.property.uri), where known


@dataclass
class ConceptView:
    """A concept with everything attached to it: designations and properties from its system and supplements."""

    code: str
    display: str | None
    definition: str | None
    active: bool
    status: str | None
    not_selectable: bool
    designations: list[DesignationView] = field(default_factory=list)
    properties: list[PropertyView] = field(default_factory=list)
    supplements: list[str] = field(default_factory=list)  # url|version of the supplements that add to it


def _version_sort_key(row: CodeSystemVersion) -> tuple[Any, ...]:
    parts = tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\-]", row.version or "") if p)
    return (row.date or "", tuple((0, p) if isinstance(p, int) else (1, p) for p in parts), row.id)


def system_label(row: CodeSystemVersion, requested: str | None = None) -> str:
    """How messages name a code system version: ``'<url>' (<title or name> <version>)``.

    When the client named the system by an alias (``urn:oid:1.2.208.176.2.31``), the message names that URI first,
    so the client recognises what it sent: ``'<alias>' (= '<url>', <title> <version>)``.
    """
    name = row.title or row.name or row.url
    shown_version = row.version if row.version and not name.endswith(row.version) else None  # "… 2019 2019"
    edition = f"{name}{' ' + shown_version if shown_version else ''}"
    if requested and requested != row.url:
        return f"'{requested}' (= '{row.url}', {edition})"
    return f"'{row.url}' ({edition})"


def versions_of(ctx: Context, url: str, *, supplements: bool = False) -> list[CodeSystemVersion]:
    """All loaded versions of the system ``url`` (any alias), newest first."""
    canonical = ctx.aliases.canonical(url)
    query = select(CodeSystemVersion).where(CodeSystemVersion.url == canonical)
    if not supplements:
        query = query.where(CodeSystemVersion.content != "supplement")
    rows = [row for session in ctx.sessions() for row in session.scalars(query)]
    return sorted(rows, key=_version_sort_key, reverse=True)


def resolve_system(ctx: Context, url: str, version: str | None = None) -> CodeSystemVersion:
    """The code system version to use for ``url``: the pinned ``version`` or the newest.

    :raises UnknownCodeSystem: when the system, or that version of it, is not loaded.
    """
    if not url:
        raise InvalidRequest("A code system URI is required")
    rows = versions_of(ctx, url, supplements=True)
    if not rows:
        raise UnknownCodeSystem(f"Code system '{url}' is not known to this server", tx_code="not-found")
    non_supplements = [r for r in rows if r.content != "supplement"] or rows
    if not version:
        return non_supplements[0]
    for row in rows:
        if row.version == version:
            return row
    matched = [r for r in non_supplements if r.version and version_matches(version, r.version)]
    if matched:
        return matched[0]
    loaded = ", ".join(r.version or "(no version)" for r in non_supplements)
    raise UnknownCodeSystem(f"Version '{version}' of code system '{url}' is not known; loaded: {loaded}",
                            tx_code="not-found")


def version_matches(pattern: str, version: str) -> bool:
    """FHIR version wildcards: ``1.x``, ``1.*`` or a prefix ``1.0`` of ``1.0.1`` (semver-ish)."""
    if pattern == version:
        return True
    pattern_parts = pattern.split(".")
    version_parts = version.split(".")
    if any(p in ("x", "X", "*") for p in pattern_parts):
        return len(version_parts) >= len(pattern_parts) and all(
            p in ("x", "X", "*") or p == v for p, v in zip(pattern_parts, version_parts))
    return False


def supplements_of(ctx: Context, row: CodeSystemVersion) -> list[CodeSystemVersion]:
    """Loaded supplements of the system ``row`` belongs to (any version; a pinned base version must match)."""
    query = select(CodeSystemVersion).where(CodeSystemVersion.supplements == row.url,
                                            CodeSystemVersion.content == "supplement")
    rows = list(ctx.session.scalars(query))
    if ctx.overlay is not None:
        rows += [r for r in ctx.overlay.scalars(query) if is_requested_supplement(ctx, r)]
    return [r for r in rows if not r.supplements_version or not row.version
            or version_matches(r.supplements_version, row.version) or _loose_version(r.supplements_version,
                                                                                  row.version)]


def is_requested_supplement(ctx: Context, row: CodeSystemVersion) -> bool:
    """Whether the supplement ``row`` was asked for (by url, or url|version)."""
    return row.url in ctx.use_supplements or f"{row.url}|{row.version}" in ctx.use_supplements


def missing_supplements(ctx: Context, wanted: Iterable[str]) -> list[str]:
    """The supplements in ``wanted`` (url or url|version) that no loaded or supplied code system is."""
    missing = []
    for item in wanted:
        url, _, version = item.partition("|")
        rows = [r for session in ctx.sessions() for r in session.scalars(
            select(CodeSystemVersion).where(CodeSystemVersion.url == url, CodeSystemVersion.content == "supplement"))]
        if not any(not version or r.version == version or (r.version and version_matches(version, r.version))
                   for r in rows):
            missing.append(item)
    return missing


def _loose_version(pinned: str, actual: str) -> bool:
    # "2019-covid-expanded" supplements ICD-10 "2019": same edition, WHO's covid update
    return pinned.split("-")[0] == actual.split("-")[0]


def find_concept(ctx: Context, row: CodeSystemVersion, code: str) -> Concept | None:
    """The concept ``code`` in ``row`` (case-insensitively when the system is not case sensitive)."""
    concept = ctx.session_of(row).scalar(select(Concept).where(Concept.code_system_id == row.id, Concept.code == code))
    if concept is None and not row.case_sensitive:
        concept = ctx.session_of(row).scalar(select(Concept).where(Concept.code_system_id == row.id,
                                                           Concept.code_folded == code.casefold()))
    return concept


def find_concept_folded(ctx: Context, row: CodeSystemVersion, code: str) -> Concept | None:
    """A concept whose code equals ``code`` ignoring case (for hints on case-sensitive systems)."""
    return ctx.session_of(row).scalar(select(Concept).where(Concept.code_system_id == row.id,
                                                    Concept.code_folded == code.casefold()).limit(1))


def concept_view(ctx: Context, row: CodeSystemVersion, concept: Concept) -> ConceptView:
    """Everything about one concept: its own and its supplements' designations and properties (a supplement's
    designations name it as their source)."""
    view = ConceptView(code=concept.code, display=concept.display, definition=concept.definition,
                       active=concept.active, status=concept.status, not_selectable=concept.not_selectable)
    owners: list[tuple[Session, dict[int, str | None]]] = [(ctx.session_of(concept), {concept.id: None})]
    if row.content != "supplement":
        supplements = supplements_of(ctx, row)
        labels = {(id(ctx.session_of(s)), s.id): canonical(s.url, s.version) for s in supplements}
        for session, supplement_ids in _by_session(ctx, supplements):
            # in the order of the supplements' ids: the order their url|version is listed (as the snapshot has it)
            found = session.execute(select(Concept.id, Concept.code_system_id).where(
                Concept.code_system_id.in_(supplement_ids), Concept.code == concept.code)
                .order_by(Concept.code_system_id))
            owners.append((session, {concept_id: labels[(id(session), system_id)]
                                     for concept_id, system_id in found}))
    for session, sources in owners:
        for d in session.scalars(select(Designation).where(Designation.concept_id.in_(list(sources)))
                                 .order_by(Designation.id)):
            view.designations.append(DesignationView(d.value, d.language, d.use_system, d.use_code, d.use_display,
                                                     sources[d.concept_id]))
    for session, sources in owners:
        for p in session.scalars(select(ConceptProperty).where(ConceptProperty.concept_id.in_(list(sources)))
                                 .order_by(ConceptProperty.id)):
            view.properties.append(PropertyView(p.code, p.value, p.type, p.value_system, p.value_display))
        view.supplements.extend(source for source in sources.values() if source and source not in view.supplements)
    return view


def _by_session(ctx: Context, rows: Iterable[CodeSystemVersion]) -> list[tuple[Session, list[int]]]:
    """Row ids grouped by the session they were read from (a request's own resources and the store)."""
    groups: dict[int, tuple[Session, list[int]]] = {}
    for row in rows:
        session = ctx.session_of(row)
        groups.setdefault(id(session), (session, []))[1].append(row.id)
    return list(groups.values())


def supplement_designations(ctx: Context, row: CodeSystemVersion,
                            codes: Iterable[str] | None = None) -> dict[str, list[DesignationView]]:
    """Designations from ``row``'s supplements, by code (all codes when ``codes`` is None)."""
    result: dict[str, list[DesignationView]] = defaultdict(list)
    code_list = list(codes) if codes is not None else None
    batches = [code_list[i:i + 900] for i in range(0, len(code_list), 900)] if code_list is not None else [None]
    for session, supplement_ids in _by_session(ctx, supplements_of(ctx, row)):
        query = (select(Concept.code, Designation).join(Designation, Designation.concept_id == Concept.id)
                 .where(Concept.code_system_id.in_(supplement_ids)))
        for batch in batches:
            batch_query = query if batch is None else query.where(Concept.code.in_(batch))
            for code, d in session.execute(batch_query.order_by(Designation.id)):
                result[code].append(DesignationView(d.value, d.language, d.use_system, d.use_code, d.use_display))
    return result


@dataclass
class SupplementContent:
    """What a code system version's supplements add to one code, as :func:`concept_view` lists it."""

    designations: list[DesignationView] = field(default_factory=list)
    properties: list[PropertyView] = field(default_factory=list)
    supplements: list[str] = field(default_factory=list)  # url|version of the supplements that have the code


def supplement_contents(ctx: Context, row: CodeSystemVersion) -> dict[str, SupplementContent]:
    """Everything the store's supplements of ``row`` add, by code, in :func:`concept_view`'s order (for the
    in-memory snapshot; a request's own supplements are not included)."""
    result: dict[str, SupplementContent] = defaultdict(SupplementContent)
    labels = {s.id: canonical(s.url, s.version) for s in supplements_of(ctx, row)
              if ctx.session_of(s) is ctx.session}
    if not labels:
        return result
    ids = list(labels)
    for code, system_id in ctx.session.execute(select(Concept.code, Concept.code_system_id).where(
            Concept.code_system_id.in_(ids)).order_by(Concept.code_system_id)):
        result[code].supplements.append(labels[system_id])
    for code, system_id, d in ctx.session.execute(
            select(Concept.code, Concept.code_system_id, Designation)
            .join(Designation, Designation.concept_id == Concept.id)
            .where(Concept.code_system_id.in_(ids)).order_by(Designation.id)):
        result[code].designations.append(DesignationView(d.value, d.language, d.use_system, d.use_code,
                                                         d.use_display, labels[system_id]))
    for code, p in ctx.session.execute(
            select(Concept.code, ConceptProperty).join(ConceptProperty, ConceptProperty.concept_id == Concept.id)
            .where(Concept.code_system_id.in_(ids)).order_by(ConceptProperty.id)):
        result[code].properties.append(PropertyView(p.code, p.value, p.type, p.value_system, p.value_display))
    return result


def own_designations(ctx: Context, row: CodeSystemVersion,
                     concept_ids: list[int]) -> dict[int, list[DesignationView]]:
    """Designations stored on the given concept rows of ``row``, by concept id."""
    session = ctx.session_of(row)
    result: dict[int, list[DesignationView]] = defaultdict(list)
    for i in range(0, len(concept_ids), 900):
        for d in session.scalars(select(Designation).where(Designation.concept_id.in_(concept_ids[i:i + 900]))
                                     .order_by(Designation.id)):
            result[d.concept_id].append(DesignationView(d.value, d.language, d.use_system, d.use_code,
                                                        d.use_display))
    return result


def parents_of(ctx: Context, row: CodeSystemVersion, code: str) -> list[str]:
    return list(ctx.session_of(row).scalars(select(ConceptParent.parent_code).where(
        ConceptParent.code_system_id == row.id, ConceptParent.child_code == code).order_by(ConceptParent.id)))


def children_of(ctx: Context, row: CodeSystemVersion, code: str) -> list[str]:
    return list(ctx.session_of(row).scalars(select(ConceptParent.child_code).where(
        ConceptParent.code_system_id == row.id, ConceptParent.parent_code == code).order_by(ConceptParent.id)))


def hierarchy(ctx: Context, row: CodeSystemVersion) -> dict[str, list[str]]:
    """parent code → child codes for the whole version."""
    children: dict[str, list[str]] = defaultdict(list)
    for child, parent in ctx.session_of(row).execute(select(ConceptParent.child_code, ConceptParent.parent_code).where(
            ConceptParent.code_system_id == row.id).order_by(ConceptParent.id)):
        children[parent].append(child)
    return children


def descendants(ctx: Context, row: CodeSystemVersion, code: str) -> set[str]:
    """Every code below ``code`` (not including it)."""
    children = hierarchy(ctx, row)
    found: set[str] = set()
    stack = list(children.get(code, []))
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(children.get(current, []))
    return found


def ancestors(ctx: Context, row: CodeSystemVersion, code: str) -> set[str]:
    """Every code above ``code``."""
    found: set[str] = set()
    stack = parents_of(ctx, row, code)
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(parents_of(ctx, row, current))
    return found


def displays_for(ctx: Context, row: CodeSystemVersion, codes: list[str]) -> dict[str, str | None]:
    """The stored display of each code (for parent/child listings)."""
    result: dict[str, str | None] = {}
    for i in range(0, len(codes), 900):
        for code, display in ctx.session_of(row).execute(select(Concept.code, Concept.display).where(
                Concept.code_system_id == row.id, Concept.code.in_(codes[i:i + 900]))):
            result[code] = display
    return result


def parse_language(value: str | None) -> str | None:
    """The first language of a ``displayLanguage`` value or Accept-Language header (``da-DK,da;q=0.9`` → ``da-DK``)."""
    if not value:
        return None
    first = value.split(",")[0].split(";")[0].strip()
    return first or None


def language_matches(wanted: str, actual: str | None) -> bool:
    if not actual:
        return False
    wanted, actual = wanted.lower(), actual.lower()
    return actual == wanted or actual.startswith(wanted + "-") or wanted.startswith(actual + "-")


def default_language(row: CodeSystemVersion) -> str | None:
    """The language a Danish GP is shown for this system when no displayLanguage is asked for."""
    known = known_system(row.url)
    return known.display_language if known else None


def preferred_display(row: CodeSystemVersion, display: str | None, designations: list[DesignationView],
                      language: str | None) -> str | None:
    """The display to show: a designation in ``language`` (or the system's default language) used as a display,
    else the stored display."""
    chosen = preferred_designation(row, display, designations, language)
    return chosen.value if chosen is not None else display


def preferred_designation(row: CodeSystemVersion, display: str | None, designations: list[DesignationView],
                          language: str | None) -> DesignationView | None:
    """The designation :func:`preferred_display` shows, or None when it shows the stored display."""
    wanted = language or default_language(row)
    if wanted and not (row.language and language_matches(wanted, row.language) and display):
        for designation in designations:
            if language_matches(wanted, designation.language) and designation.use_code in DISPLAY_USES:
                return designation
    return None


def count_concepts(ctx: Context, row: CodeSystemVersion) -> int:
    return ctx.session_of(row).scalar(select(func.count()).select_from(Concept).where(Concept.code_system_id == row.id)) or 0


def require_concept(ctx: Context, row: CodeSystemVersion, code: str, requested: str | None = None) -> Concept:
    """The concept or a NotFound naming code and system (as ``requested`` by the client, when given).

    :raises NotFound: when the code is not in the system.
    """
    concept = find_concept(ctx, row, code)
    if concept is None:
        raise NotFound(f"Code '{code}' not found in code system {system_label(row, requested)}",
                       tx_code="invalid-code")
    return concept
