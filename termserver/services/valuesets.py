"""ValueSet operations: resolving value sets (stored, implicit ``<system>?fhir_vs``, or sent in the request),
``$expand`` with a simple text filter, and ``$validate-code``.

Compose evaluation supports include/exclude of whole systems, concept lists, ``valueSet`` imports and the filters
``=``, ``is-a``, ``descendent-of``, ``is-not-a``, ``generalizes``, ``in``, ``not-in``, ``regex`` and ``exists``.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from termserver.errors import InvalidRequest, NotFound, TooCostly, UnsupportedRequest
from termserver.models import CodeSystemVersion, Concept, ConceptProperty, ValueSetVersion
from termserver.services import catalog
from termserver.services.catalog import Context, DesignationView
from termserver.services.results import Coding, Expansion, ExpansionEntry, Issue, ValidationResult
from termserver.services.search import Match, SystemIndex
from termserver.text import fold

IMPLICIT = "?fhir_vs"
STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"
EXPANSION_PARAMETER = "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter"


@dataclass
class ResolvedValueSet:
    url: str | None
    version: str | None
    name: str | None
    title: str | None
    status: str
    compose: dict[str, Any]
    resource: dict[str, Any] | None = None


@dataclass
class ExpandRequest:
    filter: str | None = None
    count: int | None = None
    offset: int = 0
    active_only: bool = False
    include_designations: bool = False
    display_language: str | None = None
    exclude_not_selectable: bool = False
    default_versions: dict[str, str] = field(default_factory=dict)  # system-version: canonical → version
    force_versions: dict[str, str] = field(default_factory=dict)  # force-system-version
    check_versions: dict[str, str] = field(default_factory=dict)  # check-system-version
    echo: list[tuple[str, str, Any]] = field(default_factory=list)  # request parameters the expansion repeats


def resolve_value_set(ctx: Context, url: str | None, version: str | None = None,
                      resource: dict[str, Any] | None = None) -> ResolvedValueSet:
    """The value set to work on: sent in the request, implicit (``<system>?fhir_vs``) or stored.

    :raises NotFound: when ``url`` names no loaded value set or system.
    :raises InvalidRequest: when neither url nor valueSet is given.
    """
    if resource is not None:
        if resource.get("resourceType") != "ValueSet":
            raise InvalidRequest("Parameter 'valueSet' must be a ValueSet resource")
        check_value_set_shape(resource)
        return ResolvedValueSet(resource.get("url"), resource.get("version"), resource.get("name"),
                                resource.get("title"), resource.get("status", "active"),
                                resource.get("compose") or {}, resource)
    if not url:
        raise InvalidRequest("Either 'url' or 'valueSet' is required")
    url, _, pipe_version = url.partition("|")
    version = version or pipe_version or None
    if IMPLICIT in url:
        system, _, rest = url.partition(IMPLICIT)
        snapshot = ctx.search.snapshots.get(ctx.aliases.canonical(system)) if ctx.search is not None else None
        row: Any = snapshot if snapshot is not None and not version else catalog.resolve_system(ctx, system, version)
        include: dict[str, Any] = {"system": system}
        if rest.startswith("=isa/"):
            include["filter"] = [{"property": "concept", "op": "is-a", "value": rest[len("=isa/"):]}]
        elif rest:
            raise UnsupportedRequest(f"Implicit value set form '{IMPLICIT}{rest}' is not supported; "
                                     f"use '{IMPLICIT}' or '{IMPLICIT}=isa/<code>'")
        if version:
            include["version"] = version
        title = f"All codes of {row.title or row.name or row.url}"
        return ResolvedValueSet(url, row.version, None, title, "active", {"include": [include]})
    query = select(ValueSetVersion).where(ValueSetVersion.url == url)
    rows = [r for session in ctx.sessions() for r in session.scalars(query)] or value_sets_with_alias(ctx, url)
    if version:
        rows = [r for r in rows if r.version == version or (r.version and catalog.version_matches(version,
                                                                                                 r.version))]
    if not rows:
        known = catalog.versions_of(ctx, url)
        if known:  # a code system URL used as a value set: its implicit value set
            return resolve_value_set(ctx, url + IMPLICIT, version)
        raise NotFound(f"Value set '{url}{'|' + version if version else ''}' is not known to this server",
                       tx_code="not-found")
    row = sorted(rows, key=lambda r: (r.date or "", r.version or "", r.id), reverse=True)[0]
    resource = {"resourceType": "ValueSet", "url": row.url, **({"version": row.version} if row.version else {}),
                **({"name": row.name} if row.name else {}), **({"title": row.title} if row.title else {}),
                "status": row.status, **(row.extra or {})}
    if row.compose:
        resource["compose"] = row.compose
    compose = row.compose or _compose_from_expansion(row.expansion)
    return ResolvedValueSet(row.url, row.version, row.name, row.title, row.status, compose, resource)


def value_sets_with_alias(ctx: Context, url: str) -> list[ValueSetVersion]:
    """Stored value sets that name ``url`` as a former URL of theirs (an exact URL match is looked up first)."""
    found: list[ValueSetVersion] = []
    for session in ctx.sessions():
        ids = [row_id for row_id, aliases in session.execute(select(ValueSetVersion.id, ValueSetVersion.aliases))
               if aliases and url in aliases]
        found += session.scalars(select(ValueSetVersion).where(ValueSetVersion.id.in_(ids))) if ids else []
    return found


def _require(ok: bool, path: str, what: str) -> None:
    if not ok:
        raise InvalidRequest(f"{path} must be {what}", tx_code="vs-invalid", expression=path)


def check_value_set_shape(resource: dict[str, Any]) -> None:
    """Check the JSON shape of a ValueSet sent in a request (compose, its includes, concepts and filters).

    Stored value sets were checked when loaded; this catches a malformed body before evaluation trips over it.

    :raises InvalidRequest: naming the first malformed element (FHIRPath), with tx-issue-type ``vs-invalid``.
    """
    for key in ("url", "version", "name", "title", "status"):
        if key in resource:
            _require(isinstance(resource[key], str), f"ValueSet.{key}", "a string")
    if "compose" not in resource:
        return
    compose = resource["compose"]
    _require(isinstance(compose, dict), "ValueSet.compose", "an object")
    if "inactive" in compose:
        _require(isinstance(compose["inactive"], bool), "ValueSet.compose.inactive", "true or false")
    for part in ("include", "exclude"):
        items = compose.get(part, [])
        _require(isinstance(items, list), f"ValueSet.compose.{part}", "a list")
        for index, item in enumerate(items):
            path = f"ValueSet.compose.{part}[{index}]"
            _require(isinstance(item, dict), path, "an object")
            for key in ("system", "version"):
                if key in item:
                    _require(isinstance(item[key], str) and bool(item[key]), f"{path}.{key}", "a non-empty string")
            for key, element in (("valueSet", "a canonical URL string"), ("concept", "an object with a string code"),
                                 ("filter", "an object with string property, op and value")):
                entries = item.get(key, [])
                _require(isinstance(entries, list), f"{path}.{key}", "a list")
                for position, entry in enumerate(entries):
                    where = f"{path}.{key}[{position}]"
                    if key == "valueSet":
                        _require(isinstance(entry, str) and bool(entry), where, element)
                    elif key == "concept":
                        _require(isinstance(entry, dict) and isinstance(entry.get("code"), str)
                                 and bool(entry["code"]), where, element)
                        if "display" in entry:
                            _require(isinstance(entry["display"], str), f"{where}.display", "a string")
                    else:
                        _require(isinstance(entry, dict) and all(
                            isinstance(entry.get(k), str) and entry[k] != "" for k in ("property", "op", "value")),
                            where, element)


def expansion_parameter(vs: ResolvedValueSet, name: str) -> str | None:
    """A value set's own expansion parameter (``valueset-expansion-parameter`` extension on its compose), as text."""
    for extension in (vs.compose.get("extension") or []) + ((vs.resource or {}).get("extension") or []):
        if not isinstance(extension, dict) or extension.get("url") != EXPANSION_PARAMETER:
            continue
        parts = {e.get("url"): e for e in extension.get("extension") or [] if isinstance(e, dict)}
        if (parts.get("name") or {}).get("valueCode") == name:
            value = next((v for k, v in (parts.get("value") or {}).items() if k.startswith("value")), None)
            return str(value).lower() if isinstance(value, bool) else None if value is None else str(value)
    return None


def _version_key(version: str | None) -> tuple[Any, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-]", version or "") if p)


def _compose_from_expansion(expansion: dict[str, Any] | None) -> dict[str, Any]:
    by_system: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for item in (expansion or {}).get("contains", []):
        by_system.setdefault((item["system"], item.get("version")), []).append(
            {"code": item["code"], **({"display": item["display"]} if item.get("display") else {})})
    return {"include": [{"system": s, **({"version": v} if v else {}), "concept": c}
                        for (s, v), c in by_system.items()]}


@dataclass
class _Row:
    system: str
    version: str | None
    code: str
    display: str | None
    active: bool
    abstract: bool
    sort: tuple[int, int]
    texts: list[str] = field(default_factory=list)  # folded display + designations, for the text filter
    designations: list[DesignationView] = field(default_factory=list)
    match: tuple[str, str, float] | None = None  # (matched term, match kind, score) from the search index


Key = tuple[str, str, str]  # (system as the value set names it, version or "", code)


class _Evaluator:
    """Evaluates a compose into an ordered dict (system, version, code) → _Row.

    Codes of two versions of one system are two members (``overload`` in the HL7 tests), unless the value set
    merges versions (``versionsMatch`` expansion parameter true: one member per code, the newest version's). An
    exclude removes a code whatever its version, unless ``versionsMatch`` is false.
    """

    def __init__(self, ctx: Context, request: ExpandRequest) -> None:
        self.ctx = ctx
        self.request = request
        self.used_systems: dict[str, None] = {}  # url|version of every code system version used
        self.used_value_sets: dict[str, None] = {}  # url|version of every imported value set
        self.used_supplements: dict[str, None] = {}
        self.status_warnings: dict[tuple[str, str], None] = {}  # (warning-<status>, url|version)
        self.warnings: list[str] = []
        self._stack: list[str] = []

    def evaluate(self, vs: ResolvedValueSet) -> dict[Key, _Row]:
        key = f"{vs.url}|{vs.version}"
        if key in self._stack:
            raise InvalidRequest(f"Value set '{vs.url}' includes itself (cycle through {' → '.join(self._stack)})")
        self._stack.append(key)
        try:
            self._note_status(vs.resource or {}, vs.status, f"{vs.url}|{vs.version}" if vs.version else vs.url)
            versions_match = expansion_parameter(vs, "versionsMatch")
            result: dict[Key, _Row] = {}
            includes = vs.compose.get("include") or []
            if not includes:
                raise InvalidRequest(f"Value set '{vs.url or '(in request)'}' has no compose.include to expand")
            for index, include in enumerate(includes):
                for k, row in self._include(include, f"ValueSet.compose.include[{index}]").items():
                    result.setdefault(k, row)
            if versions_match == "true":
                newest: dict[tuple[str, str], _Row] = {}
                for row in result.values():
                    current = newest.get((row.system, row.code))
                    if current is None or _version_key(row.version) > _version_key(current.version):
                        newest[(row.system, row.code)] = row
                result = {k: r for k, r in result.items() if newest[(r.system, r.code)] is r}
            for index, exclude in enumerate(vs.compose.get("exclude") or []):
                excluded = self._include(exclude, f"ValueSet.compose.exclude[{index}]")
                if versions_match == "false":
                    result = {k: r for k, r in result.items() if k not in excluded}
                else:
                    codes = {(system, code) for system, _, code in excluded}
                    result = {k: r for k, r in result.items() if (k[0], k[2]) not in codes}
            inactive_ok = vs.compose.get("inactive", True)
            if inactive_ok is False:
                result = {k: r for k, r in result.items() if r.active}
            return result
        finally:
            self._stack.pop()

    def _note_status(self, resource: dict[str, Any], status: str | None, canonical: str | None) -> None:
        """Expansions warn about content that is draft, experimental, deprecated or withdrawn."""
        if not canonical:
            return
        if resource.get("experimental") is True:
            self.status_warnings[("warning-experimental", canonical)] = None
        if status == "draft":
            self.status_warnings[("warning-draft", canonical)] = None
        standards = [e.get("valueCode") for e in resource.get("extension") or []
                     if isinstance(e, dict) and e.get("url") == STANDARDS_STATUS]
        for value in standards:
            if value in ("deprecated", "withdrawn"):
                self.status_warnings[(f"warning-{value}", canonical)] = None
        if status == "retired":
            self.status_warnings[("warning-retired", canonical)] = None

    def _include(self, include: dict[str, Any], path: str) -> dict[Key, _Row]:
        sets: list[dict[Key, _Row]] = []
        for ref in include.get("valueSet") or []:
            url, _, version = ref.partition("|")
            imported = resolve_value_set(self.ctx, url, version or None)
            self.used_value_sets[f"{imported.url}|{imported.version}" if imported.version else
                                 imported.url or url] = None
            sets.append(self.evaluate(imported))
        system = include.get("system")
        if system:
            sets.append(self._system_part(include, path))
        elif not sets:
            raise InvalidRequest(f"{path} has neither system nor valueSet")
        result = sets[0]
        for other in sets[1:]:
            codes = {(s, c) for s, _, c in other}
            result = {k: v for k, v in result.items() if (k[0], k[2]) in codes}
        return result

    def system_version(self, system: str, version: str | None) -> str | None:
        """The version to use of ``system`` when a value set asks for ``version``: ``force-system-version`` beats
        the value set's, which beats ``system-version`` (a default)."""
        canonical = self.ctx.aliases.canonical(system)
        forced = self.request.force_versions.get(canonical)
        if forced:
            return forced
        return version or self.request.default_versions.get(canonical)

    def _system_part(self, include: dict[str, Any], path: str) -> dict[Key, _Row]:
        system = include["system"]
        row = catalog.resolve_system(self.ctx, system, self.system_version(system, include.get("version")))
        self.used_systems[f"{row.url}|{row.version}" if row.version else row.url] = None
        self._note_status(row.extra or {}, row.status, f"{row.url}|{row.version}" if row.version else row.url)
        for supplement in catalog.supplements_of(self.ctx, row):
            self.used_supplements[f"{supplement.url}|{supplement.version}" if supplement.version
                                  else supplement.url] = None
        concepts = include.get("concept")
        filters = include.get("filter") or []
        codes: set[str] | None = None
        if concepts:
            codes = {c["code"] for c in concepts}
        for index, flt in enumerate(filters):
            matched = self._filter(row, flt, f"{path}.filter[{index}]")
            codes = matched if codes is None else codes & matched
        rows = self._load(row, system, codes)
        if concepts:
            listed = {c["code"]: c for c in concepts}
            for item in rows.values():
                display = listed.get(item.code, {}).get("display")
                if display:
                    item.display = display
            have = {code for _, _, code in rows}
            for code in listed:
                if code not in have:
                    self.warnings.append(f"Code '{code}' in {path} is not in {catalog.system_label(row)}")
            order = {c: i for i, c in enumerate(listed)}
            rows = dict(sorted(rows.items(), key=lambda kv: order.get(kv[1].code, 0)))
        return rows

    def _load(self, row: CodeSystemVersion, system: str, codes: set[str] | None) -> dict[Key, _Row]:
        query = select(Concept.id, Concept.code, Concept.display, Concept.active, Concept.not_selectable,
                       Concept.sort_order, Concept.search_text).where(Concept.code_system_id == row.id)
        records: list[Any] = []
        # the id breaks ties in sort_order, so an expansion (and so every page of it) comes out in one order
        if codes is None:
            records = list(self.ctx.session_of(row).execute(query.order_by(Concept.sort_order, Concept.id)))
        else:
            code_list = sorted(codes)
            for i in range(0, len(code_list), 900):
                records += list(self.ctx.session_of(row).execute(query.where(Concept.code.in_(code_list[i:i + 900]))))
            records.sort(key=lambda r: (r.sort_order, r.id))
        supplement = catalog.supplement_designations(self.ctx, row, None if codes is None else
                                                     [r.code for r in records])
        own = catalog.own_designations(self.ctx, row, [r.id for r in records]) if self._needs_designations(row) else {}
        language = catalog.parse_language(self.request.display_language)
        out: dict[Key, _Row] = {}
        for r in records:
            designations = own.get(r.id, []) + supplement.get(r.code, [])
            display = catalog.preferred_display(row, r.display, designations, language)
            texts = [fold(display)] + [t for t in r.search_text.split(" | ") if t] + \
                [fold(d.value) for d in supplement.get(r.code, [])]
            out[(system, row.version or "", r.code)] = _Row(system, row.version, r.code, display, r.active, r.not_selectable,
                                         (0, r.sort_order), texts, designations)
        return out

    def _needs_designations(self, row: CodeSystemVersion) -> bool:
        return bool(self.request.include_designations or self.request.display_language
                    or catalog.default_language(row))

    def _filter(self, row: CodeSystemVersion, flt: dict[str, Any], path: str) -> set[str]:
        prop, op, value = flt.get("property"), flt.get("op"), flt.get("value")
        if not prop or not op or value is None:
            raise InvalidRequest(f"{path} needs property, op and value", tx_code="vs-invalid", expression=path)
        ctx = self.ctx
        if prop in ("concept", "code") and op in ("is-a", "descendent-of", "is-not-a", "generalizes"):
            if op == "generalizes":
                return catalog.ancestors(ctx, row, value) | {value}
            below = catalog.descendants(ctx, row, value)
            if op == "is-a":
                return below | ({value} if catalog.find_concept(ctx, row, value) else set())
            if op == "descendent-of":
                return below
            return self._all_codes(row) - below - {value}
        if prop in ("concept", "code") and op in ("in", "not-in", "="):
            listed = {v.strip() for v in value.split(",")}
            return listed & self._all_codes(row) if op != "not-in" else self._all_codes(row) - listed
        if op == "regex":
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise InvalidRequest(f"{path}: invalid regex '{value}': {exc}") from exc
            return {code for code, text in self._property_values(row, prop) if text is not None
                    and pattern.fullmatch(text)}
        if op in ("=", "in", "not-in", "exists"):
            values = self._property_values(row, prop)
            if op == "exists":
                have = {code for code, v in values if v is not None}
                return have if value == "true" else self._all_codes(row) - have
            wanted = {v.strip() for v in value.split(",")} if op != "=" else {value}
            hits = {code for code, v in values if v in wanted}
            return hits if op != "not-in" else self._all_codes(row) - hits
        raise UnsupportedRequest(f"{path}: filter operator '{op}' on property '{prop}' is not supported")

    def _all_codes(self, row: CodeSystemVersion) -> set[str]:
        return set(self.ctx.session_of(row).scalars(select(Concept.code).where(Concept.code_system_id == row.id)))

    def _property_values(self, row: CodeSystemVersion, prop: str) -> list[tuple[str, str | None]]:
        session = self.ctx.session_of(row)
        base = select(Concept.code, Concept.display, Concept.active, Concept.not_selectable, Concept.status).where(
            Concept.code_system_id == row.id)
        if prop in ("code", "concept"):
            return [(c, c) for c in session.scalars(select(Concept.code).where(Concept.code_system_id == row.id))]
        if prop == "display":
            return [(r.code, r.display) for r in session.execute(base)]
        if prop == "inactive":
            return [(r.code, "false" if r.active else "true") for r in session.execute(base)]
        if prop == "notSelectable":
            return [(r.code, "true" if r.not_selectable else "false") for r in session.execute(base)]
        if prop in ("parent", "child"):
            children = catalog.hierarchy(self.ctx, row)
            pairs = [(child, parent) for parent, kids in children.items() for child in kids]
            return pairs if prop == "parent" else [(p, c) for c, p in pairs]
        query = select(Concept.code, ConceptProperty.value).join(
            ConceptProperty, ConceptProperty.concept_id == Concept.id).where(
            Concept.code_system_id == row.id, ConceptProperty.code == prop)
        values = [(c, v) for c, v in session.execute(query)]
        if prop == "status":
            values += [(r.code, r.status) for r in session.execute(base) if r.status]
        return values


def _match_rank(row: _Row, words: list[str], phrase: str) -> tuple[int, int] | None:
    """Rank of a row for a simple text filter (lower is better), or None when it does not match."""
    code = row.code.casefold()
    if code == phrase:
        return (0, 0)
    display = row.texts[0] if row.texts else ""
    for position, text in enumerate(row.texts):
        text_words = re.split(r"[\s/,;:()\-.]+", text)
        if all(any(w.startswith(word) for w in text_words) for word in words):
            if text == phrase:
                return (1 if position == 0 else 4, len(text))
            if text.startswith(phrase):
                return (2 if position == 0 else 5, len(text))
            return (3 if position == 0 else 6, len(text))
    if code.startswith(phrase):
        return (7, len(code))
    if phrase and any(phrase in text for text in row.texts):
        return (8, len(display))
    return None


def expand_value_set(ctx: Context, vs: ResolvedValueSet, request: ExpandRequest) -> Expansion:
    """Expand ``vs``: evaluate the compose, apply activeOnly and the text filter, then page.

    A filtered expansion of whole code systems (the picker's ``<system>?fhir_vs``) is answered from the search
    index alone; other value sets are evaluated and then ranked by the same index.

    :raises TooCostly: when the result is larger than the configured limit and no count was given.
    """
    used_systems: dict[str, None] = {}
    evaluator = _Evaluator(ctx, request)
    rows: list[Any] | None = _rows_from_index(ctx, vs, request, used_systems) if request.filter else None
    if rows is None:
        rows = list(evaluator.evaluate(vs).values())
        used_systems = evaluator.used_systems
        if request.filter:
            rows = _rank_rows(ctx, rows, request.filter)
    if request.active_only:
        rows = [r for r in rows if r.active]
    if request.exclude_not_selectable:
        rows = [r for r in rows if not r.abstract]
    count = request.count
    if request.filter and count is None:
        count = int(ctx.settings.get("DEFAULT_COUNT", 1000))
    total = len(rows)
    limit = int(ctx.settings.get("EXPAND_LIMIT", 10000))
    if count is None and total > limit:
        raise TooCostly(f"Value set '{vs.url or '(in request)'}' has {total} codes, more than this server returns "
                        f"in one expansion ({limit}); page with count/offset or narrow it with filter")
    if request.offset < 0 or (count is not None and count < 0):
        raise InvalidRequest("count and offset must not be negative")
    if count is not None and min(count, max(total - request.offset, 0)) > limit:
        raise TooCostly(f"count={count} asks for more of value set '{vs.url or '(in request)'}' ({total} codes) "
                        f"than this server returns in one page ({limit}); use a count of at most {limit}")
    page = rows[request.offset:request.offset + count] if count is not None else rows[request.offset:]
    page = [r.row() if isinstance(r, _IndexedMatch) else r for r in page]
    versions_by_system: dict[str, set[str | None]] = {}
    for row in rows:
        versions_by_system.setdefault(row.system, set()).add(row.version)
    contains = [ExpansionEntry(r.system, r.code, r.display,
                               r.version if len(versions_by_system.get(r.system, ())) > 1 else None,
                               inactive=not r.active, abstract=r.abstract,
                               designations=r.designations if request.include_designations else [], match=r.match)
                for r in page]
    parameters: list[tuple[str, str, Any]] = list(request.echo)
    parameters += [("used-codesystem", "Uri", used) for used in used_systems]
    parameters += [("used-valueset", "Uri", used) for used in evaluator.used_value_sets]
    parameters += [("used-supplement", "Uri", used) for used in evaluator.used_supplements]
    parameters += [(name, "Uri", used) for name, used in evaluator.status_warnings]
    parameters += [("warning", "String", warning) for warning in evaluator.warnings]
    return Expansion(vs.url, vs.version, vs.name, vs.title, vs.status, total, request.offset, contains,
                     parameters, vs.resource)


@dataclass(slots=True)
class _IndexedMatch:
    """A hit of the search index, turned into a :class:`_Row` only if it lands on the page."""

    system: str  # as the value set names it (an alias stays an alias)
    index: SystemIndex
    match: Match

    @property
    def active(self) -> bool:
        return self.index.concepts[self.match[1]].active

    @property
    def abstract(self) -> bool:
        return self.index.concepts[self.match[1]].abstract

    @property
    def version(self) -> str | None:
        return self.index.version

    def row(self) -> _Row:
        hit = self.index.hit(self.match)
        return _Row(self.system, hit.version, hit.code, hit.display, hit.active, hit.abstract, (0, 0),
                    match=(hit.matched_term, hit.match_kind, hit.score))


def _rows_from_index(ctx: Context, vs: ResolvedValueSet, request: ExpandRequest,
                     used_systems: dict[str, None]) -> list[_IndexedMatch] | None:
    """The ranked rows of a filtered expansion of whole systems, straight from the search index; None when the
    value set or the request needs the store (concept lists, filters, imports, other versions or languages)."""
    index = ctx.search
    includes = whole_system_includes(vs)
    if index is None or includes is None or request.display_language or request.include_designations:
        return None
    found: list[tuple[tuple, _IndexedMatch]] = []
    seen: set[str] = set()
    active_only = vs.compose.get("inactive") is False
    for include in includes:
        system = include["system"]
        canonical = ctx.aliases.canonical(system)
        version = request.force_versions.get(canonical) or include.get("version") or \
            request.default_versions.get(canonical)
        system_index = index.get(canonical)
        if system_index is None:
            return None
        if version and version != system_index.version:
            row = catalog.resolve_system(ctx, system, version)
            if row.version != system_index.version:
                return None
        used_systems[f"{canonical}|{system_index.version}" if system_index.version else canonical] = None
        if canonical in seen:  # the same system included twice: its codes once
            continue
        seen.add(canonical)
        for match in system_index.ranked(request.filter or ""):
            item = _IndexedMatch(system, system_index, match)
            if not active_only or item.active:
                found.append((match[0], item))
    found.sort(key=lambda item: item[0])
    return [row for _, row in found]


def _rank_rows(ctx: Context, rows: list[_Row], text: str) -> list[_Row]:
    """Rows matching ``text``, best first: by the search index when every row's system version is indexed,
    else by a simple word-prefix match."""
    index = ctx.search
    members: dict[tuple[str, str], _Row] = {(ctx.aliases.canonical(r.system), r.code): r for r in rows}
    systems = {system for system, _ in members}
    indexes = {s: index.get(s) for s in systems} if index is not None else {}
    if rows and all(indexes.get(s) is not None for s in systems) and all(
            indexes[ctx.aliases.canonical(r.system)].version == r.version for r in rows):
        ranked = []
        for hit in index.search(text, systems):
            row = members.get((hit.system, hit.code))
            if row is not None:
                row.match = (hit.matched_term, hit.match_kind, hit.score)
                ranked.append(row)
        return ranked
    phrase = fold(text)
    words = [w for w in re.split(r"[\s/,;:()\-.]+", phrase) if w]
    scored = []
    for row in rows:
        rank = _match_rank(row, words, phrase)
        if rank is not None:
            scored.append(((rank[0], not row.active or row.abstract, rank[1], row.code), row))
    scored.sort(key=lambda item: item[0])
    return [row for _, row in scored]


def is_implicit(vs: ResolvedValueSet) -> bool:
    """True for an implicit all-codes value set (``<system>?fhir_vs``), whose system is never in doubt."""
    return bool(vs.url and IMPLICIT in vs.url)


def is_implicit_url(url: str | None) -> bool:
    """True for the URL of an implicit all-codes value set (``<system>?fhir_vs``)."""
    return bool(url and IMPLICIT in url)


def value_set_to_validate(ctx: Context, url: str | None, version: str | None, resource: dict[str, Any] | None,
                          resource_id: str | None = None) -> dict[str, Any]:
    """The value set ``$validate-code`` checks against, as ValueSet JSON (its compose evaluated by the checker).

    :raises NotFound: the value set is not known (worded as tx.fhir.org words it).
    :raises InvalidRequest: both ``url`` and ``valueSet``, or neither.
    """
    from termserver.services import resources
    from termserver.services.messages import text

    if resource_id:
        row = resources.find_by_id(ctx, "ValueSet", resource_id)
        url, version = row.url, row.version
    elif url and resource:
        raise InvalidRequest("Give either 'url' or 'valueSet', not both")
    try:
        vs = resolve_value_set(ctx, url, version, resource if not resource_id else None)
    except NotFound:
        canonical = f"{url}|{version}" if url and version and "|" not in url else url
        raise NotFound(text("Unable_to_resolve_value_Set_", canonical), tx_code="not-found") from None
    if resource is not None and not resource_id:
        return resource
    out = dict(vs.resource or {})
    out["resourceType"] = "ValueSet"
    for key, value in (("url", vs.url), ("version", vs.version), ("status", vs.status)):
        if value and key not in out:
            out[key] = value
    out["compose"] = vs.compose
    return out


def whole_system_includes(vs: ResolvedValueSet) -> list[dict[str, Any]] | None:
    """The includes of a value set made of whole code systems only (``system`` and maybe ``version``: the implicit
    ``<system>?fhir_vs`` among them, no excludes), which the in-memory index and snapshot answer; else None."""
    includes = vs.compose.get("include") or []
    if not includes or vs.compose.get("exclude") \
            or any(set(i) - {"system", "version"} or not i.get("system") for i in includes):
        return None
    return includes


def now_iso() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def new_identifier() -> str:
    return f"urn:uuid:{uuid.uuid4()}"

