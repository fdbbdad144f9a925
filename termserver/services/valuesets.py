"""ValueSet operations: resolving value sets (stored, implicit ``<system>?fhir_vs``, or sent in the request),
``$expand`` with a simple text filter, and ``$validate-code``.

Compose evaluation supports include/exclude of whole systems, concept lists, ``valueSet`` imports and the filters
``=``, ``is-a``, ``descendent-of``, ``is-not-a``, ``generalizes``, ``in``, ``not-in``, ``regex`` and ``exists``.
"""
from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select

from termserver.errors import (InvalidRequest, NotFound, TooCostly, UnknownCodeSystem, UnsupportedRequest,
                               VersionRuleError)
from termserver.models import CodeSystemVersion, Concept, ConceptProperty, ValueSetVersion
from termserver.services import catalog, messages
from termserver.services.catalog import Context, DesignationView, PropertyView
from termserver.services.results import Coding, Expansion, ExpansionEntry, Issue, ValidationResult
from termserver.services.search import Match, SystemIndex
from termserver.text import fold

IMPLICIT = "?fhir_vs"
STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"
EXPANSION_PARAMETER = "http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter"
VALUESET_SUPPLEMENT = "http://hl7.org/fhir/StructureDefinition/valueset-supplement"
UNCLOSED = "http://hl7.org/fhir/StructureDefinition/valueset-unclosed"
# extensions a value set puts on a listed concept that its expansion shows on that code (as tx.fhir.org)
CONCEPT_EXTENSIONS_SHOWN = frozenset(f"http://hl7.org/fhir/StructureDefinition/{name}" for name in (
    "valueset-supplement", "valueset-deprecated", "structuredefinition-standards-status",
    "valueset-concept-definition", "coding-sctdescid", "rendering-style", "rendering-xhtml"))
UNCLOSED_REASON = "http://hl7.org/fhir/StructureDefinition/valueset-unclosed-reason"


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
    include_definition: bool = False
    display_language: str | None = None
    exclude_not_selectable: bool = False
    exclude_nested: bool = False
    versions_match: bool = False
    default_versions: dict[str, str] = field(default_factory=dict)  # system-version: canonical → version
    force_versions: dict[str, str] = field(default_factory=dict)  # force-system-version
    check_versions: dict[str, str] = field(default_factory=dict)  # check-system-version
    echo: list[tuple[str, str, Any]] = field(default_factory=list)  # request parameters the expansion repeats
    properties: tuple[str, ...] = ()  # property: concept properties to return with each code ("*": all)
    designations: tuple[str, ...] = ()  # designation: which designations includeDesignations lists
    offset_given: bool = False  # an offset parameter (even 0) makes the expansion state its offset
    default_value_set_versions: dict[str, str] = field(default_factory=dict)  # default-valueset-version


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
                                resource.get("title"), resource.get("status", "unknown"),
                                resource.get("compose") or {}, resource)
    if not url:
        raise InvalidRequest("Either 'url' or 'valueSet' is required")
    url, _, pipe_version = url.partition("|")
    version = version or pipe_version or None
    if IMPLICIT in url:
        system, _, rest = url.partition(IMPLICIT)
        snapshot = catalog.snapshot_of(ctx, system) if not version else None
        row: Any = snapshot if snapshot is not None else catalog.resolve_system(ctx, system, version)
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
                "status": row.status, **({"date": row.date} if row.date else {}),
                **({"publisher": row.publisher} if row.publisher else {}),
                **({"description": row.description} if row.description else {}), **(row.extra or {})}
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


def _designation_matches(designation: DesignationView, wanted: str) -> bool:
    """A ``designation`` filter: ``urn:ietf:bcp:47|<language>`` or ``<use system>|<use code>``."""
    system, _, code = wanted.partition("|")
    if system == "urn:ietf:bcp:47":
        return bool(designation.language) and designation.language.lower() == code.lower()
    return designation.use_system == system and designation.use_code == code


def _standards_status(resource: dict[str, Any]) -> str | None:
    return next((e.get("valueCode") for e in resource.get("extension") or []
                 if isinstance(e, dict) and e.get("url") == STANDARDS_STATUS), None)


def _newest_version_first(a: tuple[int, dict[str, Any]], b: tuple[int, dict[str, Any]]) -> int:
    """Includes of one system in two versions: the newer first (tx.fhir.org's order); others keep theirs."""
    first, second = a[1], b[1]
    if first.get("system") and first.get("system") == second.get("system") and first.get("version") \
            and second.get("version"):
        return (_version_key(second["version"]) > _version_key(first["version"])) - \
            (_version_key(second["version"]) < _version_key(first["version"]))
    return 0


def _only_other_versions(includes: list[dict[str, Any]], excludes: list[dict[str, Any]]) -> bool:
    """Includes and excludes all of one system, each with a version, and no version both included and excluded."""
    system = includes[0].get("system")
    if not system or not all(i.get("system") == system and i.get("version") for i in includes + excludes):
        return False
    return not any(e.get("version") == i.get("version") for i in includes for e in excludes)


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
    parents: list[str] = field(default_factory=list)  # parent codes, where the expansion may nest this row
    status: str | None = None
    properties: list[PropertyView] = field(default_factory=list)  # the properties the request asked for
    extensions: list[dict[str, Any]] = field(default_factory=list)  # the value set's own extensions on the code


Key = tuple[str, str, str]  # (system as the value set names it, version or "" when versions are not told apart, code)


class _Evaluator:
    """Evaluates a compose into an ordered dict (system, version, code) → _Row, as tx.fhir.org expands.

    Versions: when a compose names one system in several versions, codes of each version are members of their
    own (``overload`` in the HL7 tests), includes of the newest version first; else the key has no version. With
    ``versionsMatch`` (request or the value set's expansion parameter) one member per code, the first included.
    Excludes apply first: a whole-system exclude removes the system's codes (of that version, when versions are
    told apart), an excluded concept its code. A compose that includes and excludes only different versions of
    one system excludes by code across versions (``versionsMatch`` turned on).
    """

    def __init__(self, ctx: Context, request: ExpandRequest) -> None:
        self.ctx = ctx
        self.request = request
        self.used_systems: dict[str, None] = {}  # url|version of every code system version used
        self.used_value_sets: dict[str, None] = {}  # url|version of every imported value set
        self.used_supplements: dict[str, None] = {}
        self.status_warnings: dict[tuple[str, str], None] = {}  # (warning-<status>, url|version)
        self.versions_match = False  # echoed as the versionsMatch expansion parameter when set
        self.applied: dict[tuple[str, str], None] = {}  # version rules that chose a version: (parameter, value)
        self.used_fragments: dict[str, None] = {}  # url|version of code systems that are fragments
        self.expansion_extensions: list[dict[str, Any]] = []  # valueset-unclosed and its reason
        self.can_be_hierarchy = True  # the expansion may nest codes under their parents
        self.show_versions = False  # contains.version is shown when a compose tells versions apart
        self._stack: list[str] = []
        self._resources: list[dict[str, Any]] = []  # the value sets being evaluated (their contained ones resolve)
        self._source: dict[str, Any] | None = None  # the value set being expanded (status warnings compare to it)

    def evaluate(self, vs: ResolvedValueSet) -> dict[Key, _Row]:
        key = f"{vs.url}|{vs.version}"
        if key in self._stack:
            text = messages.text("VALUESET_CIRCULAR_REFERENCE", vs.url, "[" + ", ".join(self._stack) + "]")
            raise InvalidRequest(text, issue_code="processing", tx_code="vs-invalid",
                                 message_id="VALUESET_CIRCULAR_REFERENCE")
        self._require_supplements(vs)
        self._stack.append(key)
        self._resources.append(vs.resource or {})
        outer_source = self._source
        if self._source is None:
            self._source = {**(vs.resource or {}), "status": vs.status}
            standards = _standards_status(vs.resource or {})
            if standards in ("deprecated", "withdrawn"):  # the expanded value set itself (tx.fhir.org warns too)
                self.status_warnings[(f"warning-{standards}", catalog.canonical(vs.url, vs.version))] = None
        elif vs.resource:
            self._note_status(vs.resource, vs.status, catalog.canonical(vs.url, vs.version))
        try:
            return self._compose(vs)
        finally:
            self._stack.pop()
            self._resources.pop()
            self._source = outer_source if outer_source is not None else self._source

    def _require_supplements(self, vs: ResolvedValueSet) -> None:
        """The supplements a value set names (``valueset-supplement`` extension) apply to its expansion.

        :raises NotFound: (422) when one is neither loaded nor sent with the request.
        """
        wanted = [e.get("valueCanonical") or e.get("valueUri") for e in (vs.resource or {}).get("extension") or []
                  if isinstance(e, dict) and e.get("url") == VALUESET_SUPPLEMENT]
        wanted = [w for w in wanted if isinstance(w, str) and w]
        if not wanted:
            return
        missing = catalog.missing_supplements(self.ctx, wanted)
        if missing:
            key = "VALUESET_SUPPLEMENT_MISSING"
            raise NotFound(messages.plural(key, len(missing), ",".join(missing)), status=422, message_id=key)
        self.ctx = dataclasses.replace(self.ctx, use_supplements=self.ctx.use_supplements | set(wanted))

    def _compose(self, vs: ResolvedValueSet) -> dict[Key, _Row]:
        compose = vs.compose
        includes = list(compose.get("include") or [])
        excludes = list(compose.get("exclude") or [])
        if not includes:
            raise InvalidRequest(f"Value set '{vs.url or '(in request)'}' has no compose.include to expand")
        versions_match = self.request.versions_match or expansion_parameter(vs, "versionsMatch") == "true"
        versions: dict[str, str | None] = {}
        doing_version = False
        for part in includes + excludes:
            if part.get("system"):
                if part["system"] in versions and versions[part["system"]] != part.get("version"):
                    doing_version = True
                versions.setdefault(part["system"], part.get("version"))
        if not self.request.versions_match and expansion_parameter(vs, "versionsMatch") is None \
                and includes and excludes and _only_other_versions(includes, excludes):
            versions_match = True
        if versions_match:
            self.versions_match = True
        split_versions = doing_version and not versions_match
        excluded_codes: set[tuple[str, str, str]] = set()
        excluded_systems: set[tuple[str, str]] = set()
        for index, exclude in enumerate(excludes):
            path = f"ValueSet.compose.exclude[{index}]"
            if exclude.get("system") and not exclude.get("concept") and not exclude.get("filter") \
                    and not exclude.get("valueSet") and not versions_match:
                row = self._code_system(exclude, path)
                excluded_systems.add((exclude["system"], (row.version or "") if split_versions else ""))
                continue
            for _, version, code in self._include(exclude, path, split_versions):
                excluded_codes.add((exclude.get("system") or "", version, code))
        result: dict[Key, _Row] = {}
        for index, include in sorted(enumerate(includes), key=functools.cmp_to_key(_newest_version_first)):
            for k, row in self._include(include, f"ValueSet.compose.include[{index}]", split_versions).items():
                if (row.system, "") in excluded_systems or (row.system, k[1]) in excluded_systems:
                    continue
                if (row.system, k[1], row.code) in excluded_codes or \
                        (not split_versions and any(s == row.system and c == row.code
                                                    for s, _, c in excluded_codes)):
                    continue
                if k in result:
                    self.can_be_hierarchy = False
                    continue
                result[k] = row
        if compose.get("inactive") is False:
            result = {k: r for k, r in result.items() if r.active}
        self.show_versions = self.show_versions or doing_version
        return result

    def _note_status(self, resource: dict[str, Any], status: str | None, canonical: str | None) -> None:
        """Expansions warn about content that is deprecated, withdrawn, retired, experimental or draft, unless the
        value set being expanded is so itself (as tx.fhir.org: one warning per resource)."""
        if not canonical:
            return
        source = self._source or {}
        standards = _standards_status(resource)
        source_standards = _standards_status(source)
        if standards == "deprecated":
            if source_standards != "deprecated":
                self.status_warnings[("warning-deprecated", canonical)] = None
        elif standards == "withdrawn":
            if source_standards != "withdrawn":
                self.status_warnings[("warning-withdrawn", canonical)] = None
        elif status == "retired":
            if source.get("status") != "retired":
                self.status_warnings[("warning-retired", canonical)] = None
        elif resource.get("experimental") is True:
            if not source.get("experimental"):
                self.status_warnings[("warning-experimental", canonical)] = None
        elif status == "draft" or standards == "draft":
            if not (source.get("status") == "draft" or source_standards == "draft"):
                self.status_warnings[("warning-draft", canonical)] = None

    def _include(self, include: dict[str, Any], path: str, split_versions: bool = False) -> dict[Key, _Row]:
        sets: list[dict[Key, _Row]] = []
        if include.get("valueSet") or include.get("concept") or len(include.get("filter") or []) > 1:
            self.can_be_hierarchy = False
        for ref in include.get("valueSet") or []:
            if ref.startswith("#"):  # a value set contained in the one being evaluated
                sets.append(self.evaluate(self._contained(ref, path)))
                continue
            url, _, version = ref.partition("|")
            version = version or self.request.default_value_set_versions.get(url, "")
            try:
                imported = resolve_value_set(self.ctx, url, version or None)
            except NotFound as exc:
                key = "VS_EXP_IMPORT_UNK_PINNED" if version else "VS_EXP_IMPORT_UNK"
                raise NotFound(messages.text(key, url, version), status=422, tx_code="not-found",
                               message_id=key) from exc
            self.used_value_sets[catalog.canonical(imported.url or url, imported.version)] = None
            sets.append(self.evaluate(imported))
        system = include.get("system")
        if system:
            sets.append(self._system_part(include, path, split_versions))
        elif not sets:
            raise InvalidRequest(f"{path} has neither system nor valueSet")
        result = sets[0]
        for other in sets[1:]:
            codes = {(s, c) for s, _, c in other}
            result = {k: v for k, v in result.items() if (k[0], k[2]) in codes}
        return result

    def _contained(self, ref: str, path: str) -> ResolvedValueSet:
        """The value set ``#id`` contained in the value set being evaluated.

        :raises NotFound: when it has none with that id.
        """
        for resource in reversed(self._resources):
            for item in resource.get("contained") or []:
                if isinstance(item, dict) and item.get("resourceType") == "ValueSet" and item.get("id") == ref[1:]:
                    return ResolvedValueSet(item.get("url"), item.get("version"), item.get("name"),
                                            item.get("title"), item.get("status", "unknown"),
                                            item.get("compose") or {}, item)
        key = "VS_EXP_IMPORT_UNK"
        raise NotFound(messages.text(key, ref), status=422, tx_code="not-found", message_id=key, expression=path)

    def system_version(self, system: str, version: str | None) -> str | None:
        """The version (or version pattern) to use of ``system`` when a value set asks for ``version``:
        ``force-system-version`` beats the value set's, which beats ``check-system-version`` and then
        ``system-version`` (defaults for a versionless include). A rule that chose the version is recorded in
        :attr:`applied` (the expansion repeats it)."""
        canonical = self.ctx.aliases.canonical(system)
        for name, rules, applies in (("force-system-version", self.request.force_versions, True),
                                     ("check-system-version", self.request.check_versions, not version),
                                     ("system-version", self.request.default_versions, not version)):
            chosen = rules.get(canonical)
            if chosen and applies:
                self.applied[(name, f"{system}|{chosen}")] = None
                return chosen
        return version

    def _check_version(self, system: str, row: CodeSystemVersion) -> None:
        """``check-system-version``: the version used must match it.

        :raises VersionRuleError: when it does not.
        """
        check = self.request.check_versions.get(self.ctx.aliases.canonical(system))
        if check and not (row.version and catalog.version_matches(check, row.version)):
            key = "VALUESET_VERSION_CHECK"
            raise VersionRuleError(messages.text(key, system, row.version or "", check), issue_code="exception",
                                   tx_code="version-error", message_id=key)

    def _code_system(self, include: dict[str, Any], path: str) -> CodeSystemVersion:
        system = include["system"]
        wanted = self.system_version(system, include.get("version"))
        try:
            row = catalog.resolve_system(self.ctx, system, wanted)
        except UnknownCodeSystem as exc:
            known = [r.version for r in catalog.versions_of(self.ctx, system) if r.version]
            if not wanted:
                text, key = messages.text("UNKNOWN_CODESYSTEM_EXP", system), "UNKNOWN_CODESYSTEM_EXP"
            elif known:
                key = "UNKNOWN_CODESYSTEM_VERSION_EXP"
                from termserver.services.validation import present_version_list

                text = messages.text(key, system, wanted, present_version_list(sorted(known, key=_version_key)))
            else:
                key = "UNKNOWN_CODESYSTEM_VERSION_EXP_NONE"
                text = messages.text(key, system, wanted)
            raise UnknownCodeSystem(text, tx_code="not-found", message_id=key) from exc
        self._check_version(system, row)
        self.used_systems[catalog.canonical(row.url, row.version)] = None
        if row.content == "fragment":  # the code system is only part of itself: the expansion may miss codes
            self.used_fragments[catalog.canonical(row.url, row.version)] = None
            for extension in ({"url": UNCLOSED, "valueBoolean": True},
                              {"url": UNCLOSED_REASON, "valueString": "This extension is based on a fragment of the "
                                                                       f"code system {system}"}):
                if extension not in self.expansion_extensions:
                    self.expansion_extensions.append(extension)
        self._note_status(row.extra or {}, row.status, catalog.canonical(row.url, row.version))
        for supplement in catalog.supplements_of(self.ctx, row):
            self.used_supplements[catalog.canonical(supplement.url, supplement.version)] = None
        return row

    def _system_part(self, include: dict[str, Any], path: str, split_versions: bool = False) -> dict[Key, _Row]:
        system = include["system"]
        row = self._code_system(include, path)
        concepts = include.get("concept")
        filters = include.get("filter") or []
        codes: set[str] | None = None
        if concepts:
            codes = {c["code"] for c in concepts}
        for index, flt in enumerate(filters):
            matched = self._filter(row, flt, f"{path}.filter[{index}]")
            codes = matched if codes is None else codes & matched
        rows = self._load(row, system, codes, split_versions)
        if not concepts and len(filters) <= 1:
            parents: dict[str, list[str]] = {}
            for parent, children in catalog.hierarchy(self.ctx, row).items():
                for child in children:
                    parents.setdefault(child, []).append(parent)
            for item in rows.values():
                item.parents = parents.get(item.code, [])
                if len(item.parents) > 1:
                    self.can_be_hierarchy = False
        if concepts:
            listed = {c["code"]: c for c in concepts}
            for item in rows.values():
                display = listed.get(item.code, {}).get("display")
                if display:
                    item.display = display
                item.extensions = [e for e in listed.get(item.code, {}).get("extension") or []
                                   if isinstance(e, dict) and e.get("url") in CONCEPT_EXTENSIONS_SHOWN]
            order = {c: i for i, c in enumerate(listed)}
            rows = dict(sorted(rows.items(), key=lambda kv: order.get(kv[1].code, 0)))
        return rows

    def _load(self, row: CodeSystemVersion, system: str, codes: set[str] | None,
              split_versions: bool = False) -> dict[Key, _Row]:
        query = select(Concept.id, Concept.code, Concept.display, Concept.active, Concept.not_selectable,
                       Concept.sort_order, Concept.search_text, Concept.status).where(
            Concept.code_system_id == row.id)
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
        languages = self._languages(row)
        wanted = self._wanted_properties(row, records)
        out: dict[Key, _Row] = {}
        for r in records:
            display, designations = self._display(row, r.display, own.get(r.id, []) + supplement.get(r.code, []),
                                                  languages)
            texts = [fold(display)] + [t for t in r.search_text.split(" | ") if t] + \
                [fold(d.value) for d in supplement.get(r.code, [])]
            out[(system, (row.version or "") if split_versions else "", r.code)] = _Row(
                system, row.version, r.code, display, r.active, r.not_selectable, (0, r.sort_order), texts,
                designations, status=r.status, properties=wanted.get(r.id, []))
        return out

    def _languages(self, row: CodeSystemVersion) -> Any:
        """The languages displays are chosen in: the request's (displayLanguage, Accept-Language, the value set's
        language), else the language a Danish GP reads this system in; None for the code system's own display."""
        from termserver.services.validation import Languages

        wanted = self.request.display_language or catalog.default_language(row)
        return Languages.parse(wanted) if wanted else None

    def _display(self, row: CodeSystemVersion, display: str | None, designations: list[DesignationView],
                 languages: Any) -> tuple[str | None, list[DesignationView]]:
        """The display to show and the other designations, kept to the request's ``designation`` filters. With no
        language asked for, the display is the one a Danish GP is shown for the system everywhere else (``$lookup``,
        the typeahead): a designation in its default language used as a display, else the stored display."""
        if languages is not None and not self.request.display_language:
            chosen = catalog.preferred_designation(row, display, designations, None)
            shown, others = display, list(designations)
            if chosen is not None:  # a designation is shown: the code system's own display becomes one of the others
                own = _own_designation(display, row.language)
                shown, others = chosen.value, ([own] if own else []) + [d for d in designations if d is not chosen]
        else:
            shown, others = choose_display(row.language, display, designations, languages)
        filters = self.request.designations
        if filters:
            others = [d for d in others if any(_designation_matches(d, f) for f in filters)]
        return shown, others

    def _wanted_properties(self, row: CodeSystemVersion, records: list[Any]) -> dict[int, list[PropertyView]]:
        """The properties the request names (``property``; ``definition`` is the concept's definition, ``*``
        every property) of each record, by concept id."""
        names = set(self.request.properties)
        if not names or not records:
            return {}
        uris = {d.get("code"): d.get("uri") for d in row.property_definitions or [] if isinstance(d, dict)}
        found: dict[int, list[PropertyView]] = {}
        session = self.ctx.session_of(row)
        ids = [r.id for r in records]
        if "definition" in names or "*" in names:
            for concept_id, definition in session.execute(select(Concept.id, Concept.definition).where(
                    Concept.code_system_id == row.id, Concept.definition.is_not(None))):
                found.setdefault(concept_id, []).append(PropertyView(
                    "definition", definition, "string", uri="http://hl7.org/fhir/concept-properties#definition"))
        for start in range(0, len(ids), 900):
            query = select(ConceptProperty).where(ConceptProperty.concept_id.in_(ids[start:start + 900]))
            for p in session.scalars(query.order_by(ConceptProperty.id)):
                if p.code in names or ("*" in names and p.code not in ("definition",)):
                    found.setdefault(p.concept_id, []).append(PropertyView(
                        p.code, p.value, p.type, p.value_system, p.value_display, uris.get(p.code)))
        return found

    def _needs_designations(self, row: CodeSystemVersion) -> bool:
        return bool(self.request.include_designations or self.request.display_language
                    or catalog.default_language(row))

    def _filter(self, row: CodeSystemVersion, flt: dict[str, Any], path: str) -> set[str]:
        prop, op, value = flt.get("property"), flt.get("op"), flt.get("value")
        if prop and op and not value:
            key = "UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE"
            raise InvalidRequest(messages.text(key, row.url, prop, op), tx_code="vs-invalid", expression=path,
                                 message_id=key)
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
            pattern = compile_filter_regex(value, path)
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


def compile_filter_regex(value: str, path: str) -> Any:
    """A ``regex`` filter's pattern, compiled by RE2: matching takes linear time, so no value set can make the
    server backtrack for ever (``(a+)+`` against ``aaaa…!``).

    :raises InvalidRequest: when the pattern is not a valid regular expression.
    """
    import re2

    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(value, options=options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise InvalidRequest(f"{path}: invalid regex '{value}': {reason}", tx_code="vs-invalid",
                             expression=path) from exc


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


def value_set_members(ctx: Context, vs: ResolvedValueSet) -> list[tuple[str, str, str | None]]:
    """Every member of ``vs`` as (system, code, display): its compose evaluated, with no expansion size limit (an
    internal use, such as checking a resource's codings against the value sets its profile binds)."""
    return [(row.system, row.code, row.display) for row in _Evaluator(ctx, ExpandRequest()).evaluate(vs).values()]


def expand_value_set(ctx: Context, vs: ResolvedValueSet, request: ExpandRequest) -> Expansion:
    """Expand ``vs``: evaluate the compose, apply activeOnly and the text filter, then page.

    A filtered expansion of whole code systems (the picker's ``<system>?fhir_vs``) is answered from the search
    index alone; other value sets are evaluated and then ranked by the same index.

    :raises TooCostly: when the result is larger than the configured limit and no count was given.
    """
    request = _with_value_set_parameters(vs, request)
    used_systems: dict[str, None] = {}
    evaluator = _Evaluator(ctx, request)
    rows: list[Any] | None = _rows_from_index(ctx, vs, request, used_systems, evaluator.used_supplements) \
        if request.filter else None
    if rows is None:
        rows = list(evaluator.evaluate(vs).values())
        used_systems = evaluator.used_systems
        if request.filter:
            rows = _rank_rows(ctx, rows, request.filter)
    evaluated = rows
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
        key = "VALUESET_TOO_COSTLY"
        raise TooCostly(messages.text(key, catalog.canonical(vs.url, vs.version) or "(in request)", f">{limit}")
                        + f": it has {total} codes; page it with count and offset, or narrow it with filter",
                        message_id=key)
    if request.offset < 0 or (count is not None and count < 0):
        raise InvalidRequest("count and offset must not be negative")
    if count is not None and min(count, max(total - request.offset, 0)) > limit:
        raise TooCostly(f"count={count} asks for more of value set '{vs.url or '(in request)'}' ({total} codes) "
                        f"than this server returns in one page ({limit}); use a count of at most {limit}")
    show_versions = evaluator.show_versions
    nested = (not request.filter and not request.exclude_nested and evaluator.can_be_hierarchy
              and request.offset == 0 and (count is None or count > total))
    if nested:
        contains = _nest(rows, evaluated, request, show_versions)
    else:
        page = rows[request.offset:request.offset + count] if count is not None else rows[request.offset:]
        page = [r.row() if isinstance(r, _IndexedMatch) else r for r in page]
        contains = [_entry(r, request, show_versions) for r in page]
    parameters: list[tuple[str, str, Any]] = list(request.echo)
    if evaluator.versions_match and not any(name == "versionsMatch" for name, _, _ in parameters):
        parameters.append(("versionsMatch", "Boolean", True))
    parameters += [(name, "Uri", value) for name, value in evaluator.applied]
    parameters += [("used-codesystem", "Uri", used) for used in used_systems]
    parameters += [("used-fragment", "Uri", used) for used in evaluator.used_fragments]
    parameters += [("used-valueset", "Uri", used) for used in evaluator.used_value_sets]
    parameters += [("used-supplement", "Uri", used) for used in evaluator.used_supplements]
    parameters += [(name, "Uri", used) for name, used in evaluator.status_warnings]
    expansion = Expansion(vs.url, vs.version, vs.name, vs.title, vs.status, total, request.offset, contains,
                          parameters, vs.resource, include_definition=request.include_definition,
                          show_offset=request.offset_given)
    expansion.extensions += evaluator.expansion_extensions
    return expansion


# the expansion parameters a value set may set for itself (valueset-expansion-parameter on its compose), and the
# ExpandRequest field each sets when the request does not
_VALUE_SET_PARAMETERS = {"displayLanguage": "display_language", "activeOnly": "active_only",
                         "includeDesignations": "include_designations", "excludeNested": "exclude_nested",
                         "excludeNotForUI": "exclude_not_selectable"}


def _with_value_set_parameters(vs: ResolvedValueSet, request: ExpandRequest) -> ExpandRequest:
    """``request`` with the value set's own expansion parameters where the request gives none, and with the value
    set's language as displayLanguage when nothing else names one (as tx.fhir.org reads them); each one applied is
    repeated in the expansion."""
    given = {name for name, _, _ in request.echo}
    changes: dict[str, Any] = {}
    echo = list(request.echo)
    for name, attribute in _VALUE_SET_PARAMETERS.items():
        value = expansion_parameter(vs, name)
        if value is None or name in given or (name == "displayLanguage" and request.display_language):
            continue
        if attribute == "display_language":
            changes[attribute] = value
            echo.append((name, "Code", value))
        else:
            changes[attribute] = value == "true"
            echo.append((name, "Boolean", value == "true"))
    language = (vs.resource or {}).get("language")
    if not request.display_language and "display_language" not in changes and isinstance(language, str) \
            and language:
        changes["display_language"] = language
        echo.append(("displayLanguage", "Code", language))
    return dataclasses.replace(request, echo=echo, **changes) if changes else request


def _entry(row: _Row, request: ExpandRequest, show_versions: bool) -> ExpansionEntry:
    return ExpansionEntry(row.system, row.code, row.display, row.version if show_versions else None,
                          inactive=not row.active, abstract=row.abstract,
                          designations=row.designations if request.include_designations else [], match=row.match,
                          status=row.status, properties=row.properties, extensions=row.extensions)


def _nest(rows: list[_Row], every: list[Any], request: ExpandRequest,
          show_versions: bool) -> list[ExpansionEntry]:
    """The rows as a tree: each under its nearest ancestor that is in the expansion (roots at the top); ``every``
    evaluated row (before activeOnly and excludeNotForUI) gives the way up past the codes those left out."""
    entries = {(row.system, row.version, row.code): _entry(row, request, show_versions) for row in rows}
    parents_of = {(r.system, r.version, r.code): r.parents for r in every if isinstance(r, _Row)}
    roots: list[ExpansionEntry] = []
    for row in rows:
        parent = _nearest_in(row.system, row.version, row.parents, entries, parents_of)
        entry = entries[(row.system, row.version, row.code)]
        if parent is None:
            roots.append(entry)
        else:
            entries[(row.system, row.version, parent)].contains.append(entry)
    return roots


def _nearest_in(system: str, version: str | None, parents: list[str], members: dict[Any, Any],
                parents_of: dict[Any, list[str]]) -> str | None:
    seen: set[str] = set()
    while parents:
        parent = parents[0]
        if (system, version, parent) in members:
            return parent
        if parent in seen:
            return None
        seen.add(parent)
        parents = parents_of.get((system, version, parent), [])
    return None


def _own_designation(display: str | None, language: str | None) -> DesignationView | None:
    """The code system's own display as a designation (as ``includeDesignations`` lists it)."""
    return DesignationView(display, language, catalog.HL7_TERM_MAINT, "preferredForLanguage",
                           "Preferred For Language") if display else None


def choose_display(base_lang: str | None, display: str | None, designations: list[DesignationView],
                   languages: Any) -> tuple[str | None, list[DesignationView]]:
    """The display to show (the best designation for ``languages``, by tx.fhir.org's rules) and the other
    designations (the code system's own display among them when another one was chosen), as
    ``includeDesignations`` lists them. ``base_lang`` is the code system's language, ``display`` its own display."""
    if languages is None and not designations:
        return display, []
    from termserver.services.validation import Designations, Language as _language

    base = _own_designation(display, base_lang)
    every = ([base] if base else []) + designations
    candidates = Designations()
    candidates.base_lang = _language(base_lang) if base_lang else None
    for item in every:
        candidates.add(item)
    chosen = candidates.preferred(languages) if languages is not None else None
    index = candidates.designations.index(chosen) if chosen is not None else -1
    if chosen is None and languages is not None and any(
            entry.code == "*" and entry.quality <= 0 for entry in languages.languages):
        return None, list(every)  # "de, *; q=0": a display in those languages, or none
    if chosen is None or (base is not None and index == 0):
        return display, list(designations)  # the code system's own display
    return chosen.value, [d for i, d in enumerate(every) if i != index]


@dataclass(slots=True)
class _IndexedMatch:
    """A hit of the search index, turned into a :class:`_Row` only if it lands on the page."""

    system: str  # as the value set names it (an alias stays an alias)
    index: SystemIndex
    match: Match
    # displayLanguage: the display is chosen for these languages from the in-memory snapshot of the system, by the
    # rules the store's expansion uses (None: the index's display, the system's default language)
    languages: Any = None
    snapshot: Any = None  # services.snapshot.SystemSnapshot

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
        display: str | None = hit.display
        if self.languages is not None:
            concept = self.snapshot.concepts[hit.code]
            display = choose_display(self.snapshot.language, concept.display, concept.designations,
                                     self.languages)[0]
        return _Row(self.system, hit.version, hit.code, display, hit.active, hit.abstract, (0, 0),
                    match=(hit.matched_term, hit.match_kind, hit.score))


def _rows_from_index(ctx: Context, vs: ResolvedValueSet, request: ExpandRequest, used_systems: dict[str, None],
                     used_supplements: dict[str, None]) -> list[_IndexedMatch] | None:
    """The ranked rows of a filtered expansion of whole systems, straight from the search index (displays in a
    ``displayLanguage`` from its snapshot); None when the value set or the request needs the store (concept lists,
    filters, imports, other versions, designations, properties, supplements sent with the request)."""
    from termserver.services.validation import parsed_languages

    index = ctx.search
    includes = whole_system_includes(vs)
    if index is None or includes is None or request.include_designations or request.force_versions \
            or request.check_versions or request.default_versions or request.properties \
            or ctx.overlay is not None:
        return None
    languages = parsed_languages(request.display_language) if request.display_language else None
    found: list[tuple[tuple, _IndexedMatch]] = []
    seen: set[str] = set()
    active_only = vs.compose.get("inactive") is False
    for include in includes:
        system = include["system"]
        canonical = ctx.aliases.canonical(system)
        version = request.force_versions.get(canonical) or include.get("version") or \
            request.default_versions.get(canonical)
        system_index = index.get(canonical)
        snapshot = index.snapshots.get(canonical)
        if system_index is None or snapshot is None:
            return None
        if version and version != system_index.version:
            row = catalog.resolve_system(ctx, system, version)
            if row.version != system_index.version:
                return None
        used_systems[f"{canonical}|{system_index.version}" if system_index.version else canonical] = None
        used_supplements.update(dict.fromkeys(snapshot.supplements))
        if canonical in seen:  # the same system included twice: its codes once
            continue
        seen.add(canonical)
        for match in system_index.ranked(request.filter or ""):
            item = _IndexedMatch(system, system_index, match, languages, snapshot)
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

