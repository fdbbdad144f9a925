"""Write parsed releases to the store: one transaction per (system, version).

A failed write rolls back and leaves the previous version untouched. Storing content identical to what is
already stored (same SHA-256 of the parsed content) changes nothing. A layer of an assembled system is merged
with the other layers already stored for that system, and the merged version is written as a whole.
"""
from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, TypeVar

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from loaders.layers import content_hash, merge_layers, pack, unpack
from loaders.model import ParsedCodeSystem, ParsedConceptMap, ParsedRelease, ParsedValueSet
from termserver.errors import LoadError
from termserver.models import (CodeSystemVersion, Concept, ConceptMapVersion, ConceptParent, ConceptProperty,
                               Designation, Layer, MapElement, StoreState, SystemAlias, ValueSetVersion)
from termserver.systems import AliasTable
from termserver.text import fold

BATCH = 5000
T = TypeVar("T")


@dataclass
class StoreResult:
    """What storing one code system, value set or concept map did."""

    kind: str
    url: str
    version: str | None
    status: str  # "loaded" | "replaced" | "unchanged"
    source: str
    codes: int = 0
    designations: int = 0
    mappings: int = 0
    seconds: float = 0.0
    title: str | None = None


def _chunks(items: list[T], size: int = BATCH) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def bump_generation(session: Session) -> None:
    """Record that the store's content changed (servers rebuild their search index when they see it)."""
    state = session.get(StoreState, 1, with_for_update=True)
    if state is None:
        session.add(StoreState(id=1, generation=1))
    else:
        state.generation += 1
        state.changed_at = datetime.now(timezone.utc)


# set by one_generation_bump: the parts stored in its block note their change here instead of bumping each
_CHANGES_IN_RUN: ContextVar[list[str] | None] = ContextVar("termserver_changes_in_run", default=None)


@contextmanager
def one_generation_bump(session_factory: sessionmaker[Session]) -> Iterator[None]:
    """Let the parts stored inside the block bump the store generation once, when the block ends (also when it ends
    with an error, if a part was stored before it), so a server rebuilds its index once per load, not per part."""
    changes: list[str] = []
    token = _CHANGES_IN_RUN.set(changes)
    try:
        yield
    finally:
        _CHANGES_IN_RUN.reset(token)
        if changes:
            with session_factory.begin() as session:
                bump_generation(session)


def _record_change(session: Session, what: str) -> None:
    """A part's transaction changed the store: bump the generation in it, or note it for the run's one bump."""
    changes = _CHANGES_IN_RUN.get()
    if changes is None:
        bump_generation(session)
    else:
        changes.append(what)


def sync_aliases(session_factory: sessionmaker[Session], aliases: AliasTable) -> None:
    """Make the ``system_alias`` table equal to ``aliases`` (the built-in table plus configured extras)."""
    with session_factory.begin() as session:
        session.execute(delete(SystemAlias))
        rows = [{"uri": uri, "canonical": canonical, "retired": aliases.is_retired(uri)}
                for uri, canonical in aliases.items()]
        if rows:
            session.execute(insert(SystemAlias), rows)


def store_release(session_factory: sessionmaker[Session], release: ParsedRelease,
                  aliases: AliasTable) -> list[StoreResult]:
    """Store everything in ``release``, each code system / value set / concept map in its own transaction.

    :raises LoadError: when a part cannot be stored (that part is rolled back; earlier parts stay stored).
    """
    results: list[StoreResult] = []
    for system in release.code_systems:
        results.append(_guarded(release.path, lambda s=system: store_code_system(session_factory, s, aliases,
                                                                                    release.path)))
    for value_set in release.value_sets:
        results.append(_guarded(release.path, lambda v=value_set: store_value_set(session_factory, v,
                                                                                   release.path)))
    for concept_map in release.concept_maps:
        results.append(_guarded(release.path, lambda m=concept_map: store_concept_map(session_factory, m, aliases,
                                                                                        release.path)))
    return results


def _guarded(path: str, action: Any) -> StoreResult:
    try:
        return action()
    except LoadError:
        raise
    except Exception as exc:  # database errors: report them against the file, the transaction is rolled back
        raise LoadError(path, f"could not store: {type(exc).__name__}: {str(exc).splitlines()[0]}") from exc


def store_code_system(session_factory: sessionmaker[Session], parsed: ParsedCodeSystem, aliases: AliasTable,
                      source: str) -> StoreResult:
    """Store one parsed code system (or layer) in one transaction.

    :raises LoadError: on duplicate codes in the release.
    """
    started = time.perf_counter()
    parsed = dataclasses.replace(parsed, url=aliases.canonical(parsed.url))
    _check_unique_codes(parsed, source)
    with session_factory.begin() as session:
        layers: list[tuple[ParsedCodeSystem, str, str]] = []  # (layer, sha, source)
        current: CodeSystemVersion | None = None
        if parsed.layer:
            layer_sha = content_hash(parsed)
            current = _current_assembled(session, parsed.url)
            if current is not None:
                for stored in current.layers:
                    if stored.key != parsed.layer:
                        layers.append((unpack(stored.payload), stored.sha256, stored.source or ""))
                    elif stored.sha256 == layer_sha:
                        return _unchanged(session, current, source)
            layers.append((parsed, layer_sha, source))
            to_write = merge_layers([layer for layer, _, _ in layers])
            sha = content_hash(sorted(sha for _, sha, _ in layers))
            sources = "; ".join(sorted({src for _, _, src in layers}))
        else:
            to_write, sha, sources = parsed, content_hash(parsed), source
        existing = session.scalar(select(CodeSystemVersion).where(
            CodeSystemVersion.url == to_write.url, CodeSystemVersion.version_key == (to_write.version or "")))
        status = "loaded"
        if existing is not None and parsed.layer and current is not None and existing.id == current.id:
            current = None  # rebuilt in place below
        if existing is not None:
            if existing.sha256 == sha:
                return _unchanged(session, existing, source)
            session.delete(existing)
            session.flush()
            status = "replaced"
        row = _write_code_system(session, to_write, aliases, sha, sources)
        _record_change(session, to_write.url)
        if parsed.layer and current is not None and current.id != row.id \
                and parsed.layer not in {stored.key for stored in current.layers}:
            # a new kind of layer was added: the old assembled version is superseded, not a version of its own
            session.delete(current)
        for layer, layer_sha, layer_source in layers:
            session.add(Layer(code_system_id=row.id, key=layer.layer, priority=layer.layer_priority,
                              role=layer.layer_role, version=layer.version, source=layer_source,
                              sha256=layer_sha, payload=pack(layer)))
        designations = sum(len(c.designations) for c in to_write.concepts)
        return StoreResult("CodeSystem", row.url, row.version, status, source, codes=len(to_write.concepts),
                           designations=designations, seconds=time.perf_counter() - started, title=row.title)


def _unchanged(session: Session, row: CodeSystemVersion, source: str) -> StoreResult:
    designations = session.scalar(select(func.count()).select_from(Designation).join(Concept).where(
        Concept.code_system_id == row.id)) or 0
    return StoreResult("CodeSystem", row.url, row.version, "unchanged", source, codes=row.concept_count,
                       designations=designations, title=row.title)


def _check_unique_codes(parsed: ParsedCodeSystem, source: str) -> None:
    seen: set[str] = set()
    for concept in parsed.concepts:
        if concept.code in seen:
            raise LoadError(source, f"code {concept.code!r} appears twice in {parsed.url}")
        seen.add(concept.code)


def _current_assembled(session: Session, url: str) -> CodeSystemVersion | None:
    """The most recently loaded version of ``url`` that was assembled from layers."""
    return session.scalar(select(CodeSystemVersion).join(Layer).where(CodeSystemVersion.url == url)
                          .order_by(CodeSystemVersion.loaded_at.desc(), CodeSystemVersion.id.desc()).limit(1))


def _write_code_system(session: Session, parsed: ParsedCodeSystem, aliases: AliasTable, sha: str,
                       source: str) -> CodeSystemVersion:
    supplements = supplements_version = None
    if parsed.supplements:
        base, _, base_version = parsed.supplements.partition("|")
        supplements, supplements_version = aliases.canonical(base), base_version or None
    row = CodeSystemVersion(
        url=parsed.url, version=parsed.version, version_key=parsed.version or "", name=parsed.name,
        title=parsed.title, status=parsed.status, language=parsed.language, content=parsed.content,
        publisher=parsed.publisher, date=parsed.date, description=parsed.description,
        case_sensitive=parsed.case_sensitive, hierarchy_meaning=parsed.hierarchy_meaning,
        supplements=supplements, supplements_version=supplements_version, value_set=parsed.value_set,
        property_definitions=[dataclasses.asdict(p) for p in parsed.property_definitions], extra=parsed.extra,
        concept_count=len(parsed.concepts), source=source, sha256=sha)
    session.add(row)
    session.flush()
    for start, batch in enumerate(_chunks(parsed.concepts)):
        rows = [{"code_system_id": row.id, "code": c.code, "code_folded": c.code.casefold(), "display": c.display,
                 "definition": c.definition, "active": c.active is not False, "status": c.status,
                 "not_selectable": c.not_selectable, "sort_order": start * BATCH + i,
                 "search_text": " | ".join(filter(None, [fold(c.display)] + [fold(d.value) for d in c.designations]))}
                for i, c in enumerate(batch)]
        ids = session.scalars(insert(Concept).returning(Concept.id, sort_by_parameter_order=True), rows).all()
        designations: list[dict[str, Any]] = []
        properties: list[dict[str, Any]] = []
        parents: list[dict[str, Any]] = []
        for concept_id, concept in zip(ids, batch):
            designations.extend({"concept_id": concept_id, "language": d.language, "use_system": d.use_system,
                                 "use_code": d.use_code, "use_display": d.use_display, "value": d.value}
                                for d in concept.designations)
            properties.extend({"concept_id": concept_id, "code": p.code, "type": p.type, "value": p.value,
                               "value_system": p.system, "value_display": p.display} for p in concept.properties)
            parents.extend({"code_system_id": row.id, "child_code": concept.code, "parent_code": parent}
                           for parent in concept.parents)
        for table, items in ((Designation, designations), (ConceptProperty, properties), (ConceptParent, parents)):
            for chunk in _chunks(items):
                session.execute(insert(table), chunk)
    return row


def store_value_set(session_factory: sessionmaker[Session], parsed: ParsedValueSet, source: str) -> StoreResult:
    """Store one value set version in one transaction (a no-op when unchanged).

    ``parsed.extra["aliases"]`` (former URLs that should still resolve to it) goes to its own column.
    """
    started = time.perf_counter()
    sha = content_hash(parsed)
    aliases = [a for a in parsed.extra.get("aliases") or [] if isinstance(a, str) and a and a != parsed.url]
    extra = {k: v for k, v in parsed.extra.items() if k != "aliases"}
    with session_factory.begin() as session:
        existing = session.scalar(select(ValueSetVersion).where(
            ValueSetVersion.url == parsed.url, ValueSetVersion.version_key == (parsed.version or "")))
        status = "loaded"
        if existing is not None:
            if existing.sha256 == sha:
                return StoreResult("ValueSet", parsed.url, parsed.version, "unchanged", source, title=parsed.title)
            session.delete(existing)
            session.flush()
            status = "replaced"
        _record_change(session, parsed.url)
        session.add(ValueSetVersion(
            url=parsed.url, version=parsed.version, version_key=parsed.version or "", name=parsed.name,
            title=parsed.title, status=parsed.status, publisher=parsed.publisher, date=parsed.date,
            description=parsed.description, compose=parsed.compose, expansion=parsed.expansion,
            extra=extra, aliases=aliases, source=source, sha256=sha))
    return StoreResult("ValueSet", parsed.url, parsed.version, status, source,
                       seconds=time.perf_counter() - started, title=parsed.title)


def store_concept_map(session_factory: sessionmaker[Session], parsed: ParsedConceptMap, aliases: AliasTable,
                      source: str) -> StoreResult:
    """Store one concept map version and its mappings in one transaction (a no-op when unchanged)."""
    started = time.perf_counter()
    sha = content_hash(parsed)
    with session_factory.begin() as session:
        existing = session.scalar(select(ConceptMapVersion).where(
            ConceptMapVersion.url == parsed.url, ConceptMapVersion.version_key == (parsed.version or "")))
        status = "loaded"
        if existing is not None:
            if existing.sha256 == sha:
                return StoreResult("ConceptMap", parsed.url, parsed.version, "unchanged", source,
                                   mappings=existing.mapping_count, title=parsed.title)
            session.execute(delete(MapElement).where(MapElement.concept_map_id == existing.id))
            session.delete(existing)
            session.flush()
            status = "replaced"
        _record_change(session, parsed.url)
        row = ConceptMapVersion(
            url=parsed.url, version=parsed.version, version_key=parsed.version or "", name=parsed.name,
            title=parsed.title, status=parsed.status, publisher=parsed.publisher, date=parsed.date,
            description=parsed.description, source_scope=parsed.source_scope, target_scope=parsed.target_scope,
            extra=parsed.extra, mapping_count=len(parsed.mappings), source=source, sha256=sha)
        session.add(row)
        session.flush()
        rows = [{"concept_map_id": row.id, "source_system": aliases.canonical(m.source_system),
                 "source_version": m.source_version, "source_code": m.source_code,
                 "source_display": m.source_display,
                 "target_system": aliases.canonical(m.target_system) if m.target_system else None,
                 "target_version": m.target_version, "target_code": m.target_code,
                 "target_display": m.target_display, "equivalence": m.relationship, "comment": m.comment}
                for m in parsed.mappings]
        for chunk in _chunks(rows):
            session.execute(insert(MapElement), chunk)
    return StoreResult("ConceptMap", parsed.url, parsed.version, status, source, mappings=len(parsed.mappings),
                       seconds=time.perf_counter() - started, title=parsed.title)


