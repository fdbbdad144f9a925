"""``$validate-code`` as tx.fhir.org answers it: which issues, in which order, with which severity, codes, message
ids and locations, which output parameters, and how ``message`` is built.

A port of the behaviour of tx.fhir.org's value-set checker (HealthIntersections/FHIRsmith, ``tx/workers/validate.js``:
``ValueSetChecker.prepare``/``check``/``checkConceptSet``/``checkCodeableConcept``/``checkDisplays`` and the
``ValidateWorker`` entry points, with the helpers they call from ``worker.js``, ``designations.js`` and
``params.js``), written for this server's store. ``CodeSystem/$validate-code`` runs through the same checker, with
a value set made of the whole code system (``internally defined``), as tx.fhir.org does.

Why a port and not our own rules: a validator (the HL7 Java validator, the IG publisher) shows these answers to its
user unchanged, and the HL7 terminology conformance tests compare every issue and message with tx.fhir.org's.

Codes of the big Danish systems are looked up in the in-memory snapshot when it holds the version asked for and
nothing in the request (its own code systems or supplements, version rules) could make the store answer otherwise.
"""
from __future__ import annotations

import dataclasses

import copy
import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import or_, select

from termserver.errors import InvalidRequest, NotFound, TermserverError
from termserver.models import CodeSystemVersion, Concept
from termserver.services import catalog
from termserver.services.catalog import Context, DesignationView
from termserver.services.messages import plural, text
from termserver.services.results import Issue, ValidationResult

STANDARDS_STATUS = "http://hl7.org/fhir/StructureDefinition/structuredefinition-standards-status"
VALUESET_DEPRECATED = "http://hl7.org/fhir/StructureDefinition/valueset-deprecated"
VALUESET_SUPPLEMENT = "http://hl7.org/fhir/StructureDefinition/valueset-supplement"
HL7_TERM_MAINT = "http://terminology.hl7.org/CodeSystem/hl7TermMaintInfra"
SNOMED = "http://snomed.info/sct"
DISPLAY_USE = (HL7_TERM_MAINT, "preferredForLanguage", "Preferred For Language")
EXPANSION_PARAMETER = ("http://hl7.org/fhir/StructureDefinition/valueset-expansion-parameter",
                       "http://hl7.org/fhir/tools/StructureDefinition/valueset-expansion-parameter")

# which parts of a language tag two tags must share, by match type (designations.js LangMatchType)
FULL, LANG_REGION, LANG = 3, 2, 1


# --- parameters -----------------------------------------------------------------------------------------------

@dataclass
class VersionRule:
    """A ``system-version`` (default), ``force-system-version`` (override) or ``check-system-version`` rule."""

    system: str
    version: str
    mode: str  # default | override | check


@dataclass
class ValidationOptions:
    """The request parameters that change how ``$validate-code`` answers (tx.fhir.org's ``TxParameters``)."""

    display_language: str | None = None  # displayLanguage
    http_language: str | None = None  # Accept-Language
    display_warning: bool = False  # lenient-display-validation
    membership_only: bool = False  # valueset-membership-only
    abstract_ok: bool = True  # abstract
    active_only: bool = False  # activeOnly
    infer_system: bool = False  # inferSystem
    version_rules: list[VersionRule] = field(default_factory=list)
    supplements: list[str] = field(default_factory=list)  # useSupplement
    # default-valueset-version: the version of a value set imported without one (url → version)
    value_set_versions: dict[str, str] = field(default_factory=dict)
    explicit: set[str] = field(default_factory=set)  # names of the parameters the request itself gave

    def see_parameter(self, name: str, value: Any) -> None:
        """A value set's own expansion parameter: used unless the request gave that parameter."""
        if name in self.explicit or value is None:
            return
        flag = str(value).lower() == "true"
        if name == "displayLanguage" and not self.display_language:
            self.display_language = str(value)
        elif name == "lenient-display-validation":
            self.display_warning = flag
        elif name == "valueset-membership-only":
            self.membership_only = flag
        elif name == "activeOnly":
            self.active_only = flag
        elif name == "inferSystem":
            self.infer_system = flag
        elif name == "abstract" and str(value).lower() in ("true", "false"):
            self.abstract_ok = flag
        else:
            return
        self.explicit.add(name)

    def working_languages(self) -> Languages | None:
        value = self.display_language or self.http_language
        return parsed_languages(value) if value else None

    def lang_summary(self) -> str:
        return self.display_language or self.http_language or "--"

    def rules_for(self, system: str) -> list[VersionRule]:
        return [rule for rule in self.version_rules if rule.system == system]


@dataclass
class Coded:
    """What to validate: the codings of a CodeableConcept (one for ``code`` and ``coding``) and how they came."""

    concept: dict[str, Any]  # CodeableConcept JSON; a single code or Coding is wrapped as one
    mode: str  # code | coding | codeableConcept

    @property
    def issue_path(self) -> str:
        return {"code": "", "coding": "Coding"}.get(self.mode, "CodeableConcept")


# --- languages ----------------------------------------------------------------------------------------------

class Language:
    """A language tag, with its weight in an Accept-Language list (its parts split once: matching is hot)."""

    __slots__ = ("code", "quality", "parts")

    def __init__(self, code: str, quality: float = 1.0) -> None:
        self.code = code
        self.quality = quality
        self.parts = [p.lower() for p in code.split("-")]

    def __repr__(self) -> str:
        return f"Language(code={self.code!r}, quality={self.quality!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Language) and (self.code, self.quality) == (other.code, other.quality)

    __hash__ = None  # type: ignore[assignment]  # as the dataclass it replaces: mutable, compared by value

    def matches(self, other: Language, depth: int = FULL) -> bool:
        """True when ``other`` has the parts this tag names, up to ``depth`` (language, region, the rest)."""
        mine, theirs = self.parts, other.parts
        for index in range(min(depth, len(mine)) if depth < FULL else len(mine)):
            if index >= len(theirs) or mine[index] != theirs[index]:
                return False
        return True


@dataclass
class Languages:
    languages: list[Language]

    @classmethod
    def parse(cls, value: str) -> Languages:
        """An Accept-Language or displayLanguage value: ``en, en-AU; q=0.4``."""
        found = []
        for item in value.split(","):
            tag, _, params = item.strip().partition(";")
            quality = 1.0
            match = re.search(r"q\s*=\s*([0-9.]+)", params)
            if match:
                try:
                    quality = float(match.group(1))
                except ValueError:
                    quality = 1.0
            if tag.strip():
                found.append(Language(tag.strip(), quality))
        return cls(found)


@functools.lru_cache(maxsize=256)
def parsed_languages(value: str) -> Languages:
    """``Languages.parse``, once per text (the same few values come with every request; the result is only read)."""
    return Languages.parse(value)


_LANGUAGE_TAG = re.compile(r"\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")


def check_display_language(value: str) -> None:
    """A ``displayLanguage`` must be a list of language tags (``da``, ``en-GB; q=0.5``, ``*``), as tx.fhir.org
    requires before it looks at any code.

    :raises InvalidRequest: for a value with something else in it (``-``).
    """
    for item in value.split(","):
        tag = item.partition(";")[0].strip()
        if not _LANGUAGE_TAG.fullmatch(tag):
            raise InvalidRequest(text("INVALID_DISPLAY_NAME", value), issue_code="processing",
                                 tx_code="invalid-display", message_id="INVALID_DISPLAY_NAME")


def _lang(code: str | None) -> Language | None:
    return _language(code) if code else None


@functools.lru_cache(maxsize=1024)
def _language(code: str) -> Language:
    """One shared (never changed) Language per tag: designations name the same few languages over and over."""
    return Language(code)


# --- designations (tx/library/designations.js) ------------------------------------------------------------------

_DISPLAY_USES = ((HL7_TERM_MAINT, "preferredForLanguage"), (SNOMED, "900000000000548007"))
_PREFERRED_USES = _DISPLAY_USES + ((SNOMED, "900000000000013009"),)


class _Designation:
    """One display or designation; what the matching rules ask of it again and again is worked out once."""

    __slots__ = ("value", "language", "use", "status", "display", "preferred", "active", "lower", "_squashed")

    def __init__(self, value: str, language: Language | None,
                 use: tuple[str | None, str | None, str | None] | None,  # system, code, display
                 status: str = "unknown") -> None:
        self.value = value
        self.language = language
        self.use = use
        self.status = status
        self.display = use is None or (use[0], use[1]) in _DISPLAY_USES or use[1] == "display"
        self.preferred = use is None or (use[0], use[1]) in _PREFERRED_USES
        self.active = status not in ("withdrawn", "inactive")
        self.lower = value.lower()
        self._squashed: str | None = None

    def squashed(self) -> str:
        """The value with its whitespace runs made one space, trimmed and lower case (worked out when needed)."""
        if self._squashed is None:
            self._squashed = _squash(self.value)
        return self._squashed

    def is_active(self) -> bool:
        return self.active


_WHITESPACE = re.compile(r"\s+")


def _squash(value: str) -> str:
    return _WHITESPACE.sub(" ", value).strip().lower()


def _display_designation(value: str, language: str | None) -> _Designation:
    return _Designation(value, _lang(language), DISPLAY_USE, "active")


def _designation_of(designation: DesignationView) -> _Designation:
    use = (designation.use_system, designation.use_code, designation.use_display) \
        if designation.use_system or designation.use_code else None
    return _Designation(designation.value.strip(), _lang(designation.language), use)


class Designations:
    """Every display and designation known for one code, with tx.fhir.org's language matching rules."""

    def __init__(self) -> None:
        self.base_lang: Language | None = None
        self.designations: list[_Designation] = []

    def clear(self) -> None:
        self.base_lang = None
        self.designations = []

    def add_display(self, value: str, language: str | None) -> None:
        self.designations.append(_display_designation(value, language))

    def add(self, designation: DesignationView) -> None:
        self.designations.append(_designation_of(designation))

    @staticmethod
    def is_display(cd: _Designation) -> bool:
        return cd.display

    @staticmethod
    def _is_preferred(cd: _Designation) -> bool:
        return cd.preferred

    def _lang_matches(self, entry: Language, stated: Language | None, depth: int) -> bool:
        actual = stated or self.base_lang
        if entry.quality <= 0:
            return False
        if entry.code == "*":
            return True
        return actual is not None and entry.matches(actual, depth)

    def _langs_match(self, langs: Languages | None, stated: Language | None, depth: int,
                     def_lang: Language | None) -> bool:
        if def_lang is not None and stated is not None and stated.matches(def_lang):
            return True
        if stated is None or langs is None:
            return True
        return any(self._lang_matches(entry, stated, depth) for entry in langs.languages)

    def has_display(self, langs: Languages | None, def_lang: Language | None, value: str, active: bool,
                    ) -> tuple[bool, str]:
        """(found, difference): a case-insensitive match, else whether only whitespace differs (``normalized``)."""
        if langs is None:  # every designation's language matches
            candidates = [cd for cd in self.designations if cd.value and (cd.active or not active)]
        else:
            candidates = [cd for cd in self.designations if self._langs_match(langs, cd.language, LANG, def_lang)
                          and (not active or cd.active) and cd.value]
        wanted = value.lower()
        if any(wanted == cd.lower for cd in candidates):
            return True, "exact"
        squashed = _squash(value)
        if any(squashed == cd.squashed() for cd in candidates):
            return False, "normalized"
        return False, "none"

    def display_count(self, langs: Languages | None, def_lang: Language | None, display_only: bool) -> int:
        if langs is None:  # every designation's language matches, at every depth
            return sum(1 for cd in self.designations if (cd.display or not display_only) and cd.value)
        for depth in (FULL, LANG_REGION, LANG):
            count = sum(1 for cd in self.designations if (not display_only or self.is_display(cd))
                        and self._langs_match(langs, cd.language, depth, def_lang) and cd.value)
            if count:
                return count
        return 0

    def present(self, langs: Languages | None, display_only: bool) -> str:
        def shown(cd: _Designation) -> str:
            return f"'{cd.value}' ({cd.language.code})" if cd.language else f"'{cd.value}'"

        if langs is None:  # every designation's language matches
            results = [shown(cd) for cd in self.designations if (cd.display or not display_only) and cd.value]
        else:
            results = [shown(cd) for cd in self.designations if (not display_only or self.is_display(cd))
                       and self._langs_match(langs, cd.language, LANG, None) and cd.value]
        if not results:
            results = [shown(cd) for cd in self.designations if (not display_only or self.is_display(cd))
                       and cd.value]
        if len(results) <= 2:
            return " or ".join(results)
        return ", ".join(results[:-1]) + " or " + results[-1]

    def preferred(self, langs: Languages | None) -> _Designation | None:
        if not self.designations:
            return None
        if langs is None or not langs.languages:
            for test in (lambda cd: self._is_preferred(cd) and cd.is_active(),
                         lambda cd: self.is_display(cd) and cd.is_active(), self.is_display, self._is_preferred):
                found = next((cd for cd in self.designations if test(cd)), None)
                if found is not None:
                    return found
            return self.designations[0]
        for entry in langs.languages:
            if entry.quality <= 0:
                continue
            for active_only in (True, False):
                for depth in (FULL, LANG_REGION, LANG):
                    for test in (self._is_preferred, self.is_display, lambda cd: True):
                        found = next((cd for cd in self.designations if self._lang_matches(entry, cd.language, depth)
                                      and test(cd) and (not active_only or cd.is_active())), None)
                        if found is not None:
                            return found
        return next((cd for cd in self.designations if cd.language is None and self.is_display(cd)), None)

    def preferred_display(self, langs: Languages | None) -> str:
        found = self.preferred(langs)
        return found.value if found else ""

    def allowed_displays(self) -> list[str]:
        seen: list[str] = []
        for cd in self.designations:
            if cd.is_active() and self.is_display(cd) and cd.value and cd.value not in seen:
                seen.append(cd.value)
        return seen

    def status_of(self, display: str) -> str:
        return next((cd.status for cd in self.designations if cd.value == display), "")


# --- code systems ---------------------------------------------------------------------------------------------

_UNSET: Any = object()


@dataclass(slots=True)
class _Concept:
    code: str
    display: str | None
    active: bool
    status: str | None
    abstract: bool
    designations: list[DesignationView]
    shown: Any = _UNSET  # the display shown when no language is asked for (worked out once)
    # the display and designations as the checker matches them (worked out once: the same for every request)
    displays: list[_Designation] | None = None


class _CodeSystem:
    """One code system version as the checker sees it (tx.fhir.org's ``CodeSystemProvider``): from the store, or
    from the in-memory snapshot."""

    def __init__(self, ctx: Context | None, row: Any, snapshot: Any = None) -> None:
        self.ctx = ctx  # None for a snapshot's: it answers without the store, and is shared by every request
        self.row = row
        self.snapshot = snapshot
        self.url: str = row.url
        self.version: str | None = row.version or None
        self.content: str = getattr(row, "content", "complete") or "complete"
        self.language: str | None = row.language
        self.status: str = getattr(row, "status", "active") or "active"
        extra = getattr(row, "extra", None) or {}
        self.experimental = extra.get("experimental") is True
        self.standards_status = next((e.get("valueCode") for e in extra.get("extension") or []
                                      if isinstance(e, dict) and e.get("url") == STANDARDS_STATUS), None)
        self._found: dict[str, _Concept | None] = {}

    def vurl(self) -> str:
        return f"{self.url}|{self.version}" if self.version else self.url

    def locate(self, code: str) -> _Concept | None:
        if self.snapshot is not None:  # no memo: a dict lookup, and a shared one must not grow with unknown codes
            return self._locate(code)
        if code not in self._found:
            self._found[code] = self._locate(code)
        return self._found[code]

    def _locate(self, code: str) -> _Concept | None:
        if self.snapshot is not None:
            found = self.snapshot.find(code)
            if found is None:
                return None
            concept = found.checked
            if concept is None:  # kept in the snapshot: nothing a request does changes it
                concept = found.checked = _Concept(found.code, found.display, found.active, found.status,
                                                   found.not_selectable, list(found.designations), found.shown)
            return concept
        concept = catalog.find_concept(self.ctx, self.row, code)
        if concept is None:
            return None
        view = catalog.concept_view(self.ctx, self.row, concept)
        return _Concept(view.code, view.display, view.active, view.status, view.not_selectable, view.designations)

    def case_variant(self, code: str) -> str | None:
        """The one code of a case-sensitive system that equals ``code`` ignoring case (``k86`` → ``K86``); None
        when there is none, or more than one."""
        if self.snapshot is not None:
            if not self.snapshot.case_sensitive:
                return None
            return self.snapshot.find_folded(code)
        if not getattr(self.row, "case_sensitive", True):
            return None
        found = list(self.ctx.session_of(self.row).scalars(select(Concept.code).where(
            Concept.code_system_id == self.row.id, Concept.code_folded == code.casefold()).limit(2)))
        return found[0] if len(found) == 1 and found[0] != code else None

    def list_displays(self, displays: Designations, concept: _Concept) -> None:
        """``listDisplaysFromCodeSystem``: the display (in the system's language), then every designation."""
        if displays.base_lang is None:
            displays.base_lang = _lang(self.language)
        prepared = concept.displays
        if prepared is None:
            prepared = [_display_designation(concept.display, self.language)] if concept.display else []
            prepared += [_designation_of(designation) for designation in concept.designations]
            concept.displays = prepared
        displays.designations.extend(prepared)

    def shown_display(self, concept: _Concept) -> str | None:
        """The display this server shows when no language is asked for (a Danish system's default language)."""
        if concept.shown is _UNSET:
            concept.shown = catalog.preferred_display(self.row, concept.display, concept.designations, None)
        return concept.shown

    def has_supplement(self, url: str) -> bool:
        if self.snapshot is not None:
            return False
        base, _, version = url.partition("|")
        return any(s.url == base and (not version or s.version == version)
                   for s in catalog.supplements_of(self.ctx, self.row))


def _snapshot_code_system(snapshot: Any) -> _CodeSystem:
    """The checker's view of a snapshot's code system: made once and kept in the snapshot (it holds no request
    state)."""
    cs = snapshot.checked
    if cs is None:
        cs = snapshot.checked = _CodeSystem(None, snapshot, snapshot)
    return cs


def _version_parts(version: str) -> list[str]:
    return re.split(r"[.\-]", version)


def version_matches(pattern: str, version: str | None) -> bool:
    """A requested version against a loaded one: equal, or a wildcard (``1.x``)."""
    return version is not None and (pattern == version or catalog.version_matches(pattern, version))


def version_is_more_detailed(general: str, specific: str | None) -> bool:
    """``specific`` is one of the versions the wildcard ``general`` names (``1.x`` → ``1.0.2``)."""
    if not specific or specific == general:
        return False
    return any(p in ("x", "X", "*") for p in general.split(".")) and catalog.version_matches(general, specific)


def _compare_versions(a: str, b: str) -> int:
    def key(v: str) -> tuple[Any, ...]:
        return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _version_parts(v))
    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)


def present_version_list(items: list[str]) -> str:
    if len(items) <= 1:
        return items[0] if items else ""
    if len(items) == 2:
        return f"{items[0]} or {items[1]}"
    return ", ".join(items[:-1]) + " and " + items[-1]


def is_absolute_url(url: str) -> bool:
    return re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", url) is not None


# --- outcome --------------------------------------------------------------------------------------------------

class _Outcome:
    """The issues of one validation (tx.fhir.org's ``OperationOutcome``: ``addIssue`` may skip a duplicate text)."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def add(self, severity: str, code: str, path: str | None, message_id: str | None, message: str,
            tx_code: str | None, if_new: bool = False) -> bool:
        if if_new and any(i.text == message for i in self.issues):
            return False
        self.issues.append(Issue(severity, code, message, tx_code, [path] if path else [], message_id))
        return True

    def has_errors(self) -> bool:
        return any(i.severity == "error" for i in self.issues)


def _add_to_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _unknown_code_message(system: str, version: str | None, code: str) -> str:
    if system == SNOMED:
        edition = "unknown" if version else ""
        return text("Unknown_Code_in_Version_SCT", code, system, version, edition)
    if version:
        return text("Unknown_Code_in_Version", code, system, version)
    return text("Unknown_Code_in", code, system)


class PrepareError(Exception):
    """A problem with the value set found while preparing it: the answer is ``result=false`` with this issue
    (tx.fhir.org's ``handlePrepareError``), not an HTTP error."""

    def __init__(self, issue: Issue, unknown_system: str | None = None) -> None:
        super().__init__(issue.text)
        self.issue = issue
        self.unknown_system = unknown_system


@dataclass
class _State:
    """What ``check`` reports back about the codings of one request (tx.fhir.org passes these as ``{value}``)."""

    inactive: bool = False
    inactive_path: str | None = None
    inactive_code: str | None = None
    vstatus: str = ""
    normal_form: str = ""
    cause: str = "null"
    implied_system: str = ""
    # per coding
    ver: str = ""
    content_mode: str | None = None
    def_lang: Language | None = None
    found: tuple[_CodeSystem, _Concept] | None = None  # where the code was found in the value set
    sent_system: str = ""  # the system as the coding names it (an alias stays an alias in messages)

    def see_inactive(self, concept: _Concept, path: str, code: str) -> None:
        if not self.inactive:
            self.inactive = not concept.active
            self.inactive_path = path
            self.inactive_code = code
            self.vstatus = _status_of(concept)


def _status_of(concept: _Concept) -> str:
    if concept.status:
        return concept.status
    return "inactive" if not concept.active else ""


# --- the checker ----------------------------------------------------------------------------------------------

class Checker:
    """Checks codes against one value set (tx.fhir.org's ``ValueSetChecker``)."""

    def __init__(self, run: _Run, vs: dict[str, Any], internally_defined: bool = False) -> None:
        self.run = run
        self.ctx = run.ctx
        self.options = run.options
        self.vs = vs
        self.compose: dict[str, Any] = vs.get("compose") or {}
        self.internally_defined = internally_defined
        self.others: dict[str, Checker] = {}

    # names
    @property
    def vurl(self) -> str:
        url = self.vs.get("url") or ""
        return f"{url}|{self.vs['version']}" if url and self.vs.get("version") else url

    def canonical(self, system: str | None) -> str:
        return self.ctx.aliases.canonical(system) if system else ""

    # -- prepare --
    def prepare(self, seen: tuple[str, ...] = ()) -> None:
        """Resolve imported value sets and check the compose's filters (``ValueSetChecker.prepare``).

        :raises PrepareError: an imported value set cannot be found.
        :raises InvalidRequest: a filter without a value.
        """
        key = self.vurl
        if key and key in seen:
            # worded and coded as the expansion's check words it (valuesets._Evaluator)
            raise InvalidRequest(text("VALUESET_CIRCULAR_REFERENCE", self.vs.get("url"), "[" + ", ".join(seen) + "]"),
                                 issue_code="processing", tx_code="vs-invalid",
                                 message_id="VALUESET_CIRCULAR_REFERENCE")
        seen = seen + ((key,) if key else ())
        for extension in self.compose.get("extension") or []:
            if isinstance(extension, dict) and extension.get("url") in EXPANSION_PARAMETER:
                parts = {e.get("url"): e for e in extension.get("extension") or [] if isinstance(e, dict)}
                name = next((v for k, v in (parts.get("name") or {}).items() if k.startswith("value")), None)
                value = next((v for k, v in (parts.get("value") or {}).items() if k.startswith("value")), None)
                if name:
                    self.options.see_parameter(str(name), value)
        if not self.options.http_language and self.vs.get("language") and self.run.top is self:
            self.options.http_language = self.vs["language"]
        for part in ("include", "exclude"):
            for index, cc in enumerate(self.compose.get(part) or []):
                self._prepare_concept_set(f"{part}[{index}]", cc, seen)

    def _prepare_concept_set(self, desc: str, cc: dict[str, Any], seen: tuple[str, ...]) -> None:
        for url in cc.get("valueSet") or []:
            pinned = self.run.pin_value_set(url)
            if pinned in self.others:
                continue
            other = self.run.find_value_set(pinned, self.vs)
            if other is None:
                issue = Issue("error", "not-found", text("Unable_to_resolve_value_Set_", pinned), "not-found", [],
                              "Unable_to_resolve_value_Set_")
                raise PrepareError(issue)
            checker = Checker(self.run, other)
            checker.prepare(seen)
            self.others[pinned] = checker
        system = cc.get("system")
        if not system:
            return
        version = self.run.determine_version_base(system, cc.get("version"))
        cs = self.run.find_code_system(system, version)
        if cs is None:
            return
        for index, item in enumerate(cc.get("filter") or []):
            if not item.get("value"):
                raise InvalidRequest(text("UNABLE_TO_HANDLE_SYSTEM_FILTER_WITH_NO_VALUE", cs.url, item.get("property"),
                                          item.get("op")), tx_code="vs-invalid",
                                     expression=f"ValueSet.compose.{desc}.filter[{index}]")
        for supplement in self.run.required_supplements:
            if cs.has_supplement(supplement):
                self.run.used_supplements.add(supplement)

    # -- status of what a value set refers to --
    def check_canonical_status(self, op: _Outcome, resource: dict[str, Any], rtype: str,
                               source: dict[str, Any] | None) -> None:
        url = resource.get("url")
        vurl = f"{url}|{resource['version']}" if url and resource.get("version") else url
        standards = next((e.get("valueCode") for e in resource.get("extension") or []
                          if isinstance(e, dict) and e.get("url") == STANDARDS_STATUS), None)
        self._status_issue(op, vurl, rtype, resource.get("status"), standards, resource.get("experimental") is True,
                           source)

    def check_canonical_status_cs(self, op: _Outcome, cs: _CodeSystem, source: dict[str, Any] | None) -> None:
        self._status_issue(op, cs.vurl(), "CodeSystem", cs.status, cs.standards_status, cs.experimental, source)

    def _status_issue(self, op: _Outcome, vurl: str | None, rtype: str, status: str | None, standards: str | None,
                      experimental: bool, source: dict[str, Any] | None) -> None:
        if not vurl:
            return
        key = None
        if standards == "deprecated":
            key = "MSG_DEPRECATED"
        elif standards == "withdrawn":
            key = "MSG_WITHDRAWN"
        elif status == "retired":
            key = "MSG_RETIRED"
        elif source is not None:
            source_standards = next((e.get("valueCode") for e in source.get("extension") or []
                                     if isinstance(e, dict) and e.get("url") == STANDARDS_STATUS), None)
            if experimental and source.get("experimental") is not True:
                key = "MSG_EXPERIMENTAL"
            elif (status == "draft" or standards == "draft") and not (
                    source.get("status") == "draft" or source_standards == "draft"):
                key = "MSG_DRAFT"
        if key:
            op.add("information", "business-rule", None, key, text(key, vurl, "", rtype), "status-check",
                   if_new=True)

    # -- infer the system --
    def determine_system(self, code: str, systems: list[str]) -> str:
        need_expansion = any(i.get("valueSet") or not i.get("system") or i.get("filter")
                             for i in self.compose.get("exclude") or [])
        need_expansion |= any(i.get("valueSet") or not i.get("system") for i in self.compose.get("include") or [])
        may_need = any(i.get("filter") for i in self.compose.get("include") or [])
        if need_expansion:
            return self._system_from_expansion(code, systems)
        result = ""
        for include in self.compose.get("include") or []:
            cs = self.run.find_code_system(include["system"], None)
            if cs is None:
                return ""
            if include.get("concept"):
                found = any(c.get("code") == code for c in include["concept"])
            else:
                found = cs.locate(code) is not None
            if found:
                if include["system"] not in systems:
                    systems.append(include["system"])
                if not result:
                    result = include["system"]
                elif result != include["system"]:
                    if may_need and not include.get("concept"):
                        return self._system_from_expansion(code, systems)
                    return ""
        return result

    def _system_from_expansion(self, code: str, systems: list[str]) -> str:
        result = ""
        for member in self.run.members(self.vs):
            if member.code == code:
                if member.system not in systems:
                    systems.append(member.system)
                if not result:
                    result = member.system
                else:
                    return ""
        return result

    # -- versions --
    def determine_version(self, path: str, system: str, version_vs: str | None, version_coding: str | None,
                          op: _Outcome, unknown_systems: list[str], messages: list[str]) -> str | None:
        run = self.run
        csa = run.find_code_system(system, None, apply_rules=False)
        result = run.determine_version_base(system, version_vs)
        if version_coding:
            if result and csa is not None and version_coding != result \
                    and version_is_more_detailed(result, version_coding):
                result = version_coding
            if not result:
                if any(v == version_coding or version_is_more_detailed(version_coding, v)
                       for v in run.list_versions(system)):
                    result = version_coding
            cs = run.find_code_system(system, result)
            if cs is not None and cs.version != version_coding \
                    and not version_is_more_detailed(version_coding, cs.version):
                level = "error"
                if not result:
                    level = "warning"
                    mid = "VALUESET_VALUE_MISMATCH_DEFAULT"
                    msg = text(mid, system, cs.version, version_vs, version_coding)
                elif result != version_vs:
                    mid = "VALUESET_VALUE_MISMATCH_CHANGED"
                    msg = text(mid, system, result, version_vs or "", version_coding)
                else:
                    mid = "VALUESET_VALUE_MISMATCH"
                    msg = text(mid, system, version_vs, version_coding)
                op.add(level, "invalid", _add_to_path(path, "version"), mid, msg, "vs-invalid")
                if level == "error":
                    messages.append(msg)
                if run.find_code_system(system, version_coding, apply_rules=False) is None:
                    _add_unique(unknown_systems, f"{system}|{version_coding}")
                    msg = text("UNKNOWN_CODESYSTEM_VERSION", system, version_coding,
                               present_version_list(run.list_versions(system)))
                    op.add("error", "not-found", _add_to_path(path, "system"), "UNKNOWN_CODESYSTEM_VERSION", msg,
                           "not-found")
                    messages.append(msg)
            elif cs is None and result != version_coding:
                msg = text("VALUESET_VALUE_MISMATCH", system, result, version_coding)
                op.add("error", "invalid", _add_to_path(path, "version"), "VALUESET_VALUE_MISMATCH", msg,
                       "vs-invalid")
                messages.append(msg)
        return result

    def _pick_applicable_version(self, versions: list[str], system: str, code: str, display: str | None
                                 ) -> str | None:
        found = []
        for version in versions:
            cs = self.run.find_code_system(system, version, apply_rules=False)
            concept = cs.locate(code) if cs is not None else None
            if concept is not None and (not display or display == concept.display
                                        or any(d.value == display for d in concept.designations)):
                found.append(version)
        if len(found) == len(versions):
            return None
        pool = found or versions
        return sorted(pool, key=functools.cmp_to_key(_compare_versions), reverse=True)[0]

    def _use_this_version(self, include: dict[str, Any], version: str | None) -> bool:
        if not version or include.get("version") == version:
            return True
        return not any(i.get("version") == version for i in self.compose.get("include") or [])

    def find_vs_version_for_system(self, system: str | None) -> str | None:
        versions = {i["version"] for i in self.compose.get("include") or []
                    if i.get("system") == system and i.get("version")}
        best = None
        for version in versions:
            if best is None or _compare_versions(version, best) > 0:
                best = version
        return best

    def exclude_inactives(self) -> bool:
        return self.compose.get("inactive") is False

    # -- check one code --
    def check(self, path: str, system: str | None, version: str | None, code: str, displays: Designations,
              unknown_systems: list[str], st: _State, op: _Outcome, messages: list[str],
              display: str | None = None) -> bool | None:
        """Whether ``code`` is in this value set: True, False, or None when that cannot be known (a code system
        it needs is unknown)."""
        options = self.options
        st.def_lang = _language("en")
        if not system and not options.infer_system:
            msg = text("Coding_has_no_system__cannot_validate")
            messages.append(msg)
            op.add("warning", "invalid", path, "Coding_has_no_system__cannot_validate", msg, "invalid-data")
            return False
        if not system and options.infer_system:
            systems: list[str] = []
            system = self.determine_system(code, systems)
            if not system:
                if len(systems) > 1:
                    mid = "Unable_to_resolve_system__value_set_has_multiple_matches"
                    # tx.fhir.org lists them as a Java list prints: [a, b]
                    msg = text(mid, code, self.vurl, "[" + ", ".join(systems) + "]")
                else:
                    mid = "UNABLE_TO_INFER_CODESYSTEM"
                    msg = text(mid, code, self.vurl)
                messages.append(msg)
                op.add("error", "not-found", "code", mid, msg, "cannot-infer")
                return False
            st.implied_system = system
        st.sent_system = system
        canonical = self.canonical(system)
        result: bool | None = False
        determined = None
        includes = self.compose.get("include") or []
        if not version and len(includes) > 1:  # (one include names one version at most)
            versions = list(dict.fromkeys(i["version"] for i in includes
                                          if self.canonical(i.get("system")) == canonical and i.get("version")))
            if len(versions) > 1:
                determined = self._pick_applicable_version(versions, system, code, display)

        def by_version(a: dict[str, Any], b: dict[str, Any]) -> int:
            if a.get("system") == b.get("system") and a.get("version") and b.get("version"):
                return -_compare_versions(a["version"], b["version"])
            return 0

        if len(includes) > 1:
            includes = sorted(includes, key=functools.cmp_to_key(by_version))
        for cc in includes:
            if not cc.get("system"):
                result = True
            elif self.canonical(cc["system"]) == canonical and (not determined or cc.get("version") == determined) \
                    and self._use_this_version(cc, version):
                v = self.determine_version(path, cc["system"], cc.get("version"), version, op, unknown_systems,
                                           messages)
                cs = self.run.find_code_system(system, v, op=op)
                if cs is None:
                    if options.membership_only:
                        return False
                    add = True
                    if not v:
                        msg = text("UNKNOWN_CODESYSTEM", system)
                        _add_unique(unknown_systems, system)
                        mid = "UNKNOWN_CODESYSTEM"
                    else:
                        known = self.run.list_versions(system)
                        if not known:
                            mid, key = "UNKNOWN_CODESYSTEM_VERSION_NONE", system
                        else:
                            mid, key = "UNKNOWN_CODESYSTEM_VERSION", f"{system}|{v}"
                        msg = text(mid, system, v, present_version_list(known))
                        add = key not in unknown_systems
                        if add:
                            unknown_systems.append(key)
                    messages.append(msg)
                    if add:
                        op.add("error", "not-found", _add_to_path(path, "system"), mid, msg, "not-found")
                    return None
                st.def_lang = _language(cs.language or "en")
                self.check_canonical_status_cs(op, cs, self.vs)
                st.content_mode = cs.content
                if self.check_concept_set(path, "in", cs, cc, code, displays, st, op, messages):
                    st.ver = cs.version or ""
                    result = True
                else:
                    result = False
            else:
                result = False
            for url in cc.get("valueSet") or []:
                checker = self.others[self.run.pin_value_set(url)]
                self.check_canonical_status(op, checker.vs, "ValueSet", self.vs)
                if result is True:
                    result = checker.check(path, system, version, code, displays, unknown_systems, st, op, messages)
            if result is True:
                break
        if result is True:
            for cc in self.compose.get("exclude") or []:
                if not cc.get("system"):
                    excluded = True
                else:
                    cs = self.run.find_code_system(cc["system"], cc.get("version"), op=op)
                    if cs is None:
                        raise NotFound(f"No Match for {cc['system']}|{cc.get('version')}")
                    self.check_canonical_status_cs(op, cs, self.vs)
                    st.content_mode = cs.content
                    excluded = self.canonical(cs.url) == canonical and self.check_concept_set(
                        path, "not in", cs, cc, code, displays, st, op, messages)
                for url in cc.get("valueSet") or []:
                    checker = self.others[self.run.pin_value_set(url)]
                    self.check_canonical_status(op, checker.vs, "ValueSet", self.vs)
                    excluded = excluded and checker.check(path, system, version, code, displays, unknown_systems,
                                                          st, op, messages) is True
                if excluded:
                    return False
        return result

    def check_concept_set(self, path: str, role: str, cs: _CodeSystem, cset: dict[str, Any], code: str,
                          displays: Designations, st: _State, op: _Outcome, messages: list[str]) -> bool:
        options = self.options
        inside = role != "not in"
        if not cset.get("concept") and not cset.get("filter"):
            concept = cs.locate(code)
            if concept is None:
                if not options.membership_only and inside:
                    if cs.content != "complete":
                        op.add("warning", "code-invalid", _add_to_path(path, "code"), "UNKNOWN_CODE_IN_FRAGMENT",
                               text("UNKNOWN_CODE_IN_FRAGMENT", code, cs.url, cs.version), "invalid-code")
                        return True
                    op.add("error", "code-invalid", _add_to_path(path, "code"),
                           "Unknown_Code_in_Version" if cs.version else "Unknown_Code_in",
                           _unknown_code_message(st.sent_system or cs.url, cs.version, code), "invalid-code")
                    _case_hint(op, path, cs, code)
                return False
            if concept.code != code:
                self.run.normalisation_issue(op, path, code, concept.code, cs)
                st.normal_form = concept.code
            cs.list_displays(displays, concept)
            return self._found(path, inside, cs, concept, code, st, op, messages, None)
        for cc in cset.get("concept") or []:
            if cc.get("code") != code:
                continue
            concept = cs.locate(code)
            if concept is None:
                continue
            cs.list_displays(displays, concept)
            if cc.get("display"):
                displays.base_lang = _lang(self.vs.get("language"))
                displays.add_display(cc["display"].strip(), None)
            for designation in cc.get("designation") or []:
                use = designation.get("use") or {}
                displays.add(DesignationView(designation.get("value", ""), designation.get("language"),
                                             use.get("system"), use.get("code"), use.get("display")))
            return self._found(path, inside, cs, concept, code, st, op, messages, cc)
        if cset.get("filter"):
            concept = cs.locate(code)
            if concept is not None and self.run.in_filter(cs, cset, concept.code):
                cs.list_displays(displays, concept)
                return self._found(path, inside, cs, concept, code, st, op, messages, None, filtered=True)
        return False

    def _found(self, path: str, inside: bool, cs: _CodeSystem, concept: _Concept, code: str, st: _State,
               op: _Outcome, messages: list[str], listed: dict[str, Any] | None, filtered: bool = False) -> bool:
        """A code the concept set names: is it usable here (abstract, inactive rules)?"""
        options = self.options
        where = _add_to_path(path, "code")
        if not options.abstract_ok and concept.abstract:
            if not options.membership_only and inside:
                op.add("error", "business-rule", where, "ABSTRACT_CODE_NOT_ALLOWED",
                       text("ABSTRACT_CODE_NOT_ALLOWED", cs.url, code), "code-rule")
            return False
        plain = listed is None and not filtered
        if self.exclude_inactives() and not concept.active:
            if plain and inside:
                msg = text("STATUS_CODE_WARNING_CODE", "not active", code)
                op.add("error", "business-rule", where, "STATUS_CODE_WARNING_CODE", msg, "code-rule")
                messages.append(msg)
            if not options.membership_only and inside:
                st.inactive, st.inactive_path, st.inactive_code = True, path, code
                st.vstatus = _status_of(concept)
            return False
        if plain and options.active_only and not concept.active:
            if inside:
                st.inactive, st.inactive_path, st.inactive_code = True, path, code
                st.vstatus = _status_of(concept)
                msg = text("STATUS_CODE_WARNING_CODE", "not active", code)
                messages.append(msg)
                op.add("error", "business-rule", where, "STATUS_CODE_WARNING_CODE", msg, "code-rule")
            return False
        if listed is not None:
            standards = next((e.get("valueCode") for e in listed.get("extension") or []
                              if isinstance(e, dict) and e.get("url") == STANDARDS_STATUS), None)
            if standards in ("withdrawn", "deprecated"):
                op.add("warning", "business-rule", where, "CONCEPT_DEPRECATED_IN_VALUESET",
                       text("CONCEPT_DEPRECATED_IN_VALUESET", cs.url, code, standards, self.vurl), "code-comment")
            elif any(isinstance(e, dict) and e.get("url") == VALUESET_DEPRECATED for e in listed.get("extension") or []):
                op.add("warning", "business-rule", where, "CONCEPT_DEPRECATED_IN_VALUESET",
                       text("CONCEPT_DEPRECATED_IN_VALUESET", cs.url, code, "deprecated", self.vurl), "code-comment")
        if inside:
            st.see_inactive(concept, path, code)
            st.found = (cs, concept)
        return True

    # -- a whole CodeableConcept --
    def check_codeable_concept(self, coded: Coded) -> ValidationResult:
        """``checkCodeableConcept``: every coding, then the answer's parameters and message."""
        options = self.options
        issue_path, mode = coded.issue_path, coded.mode
        concept = coded.concept
        st = _State()
        op = _Outcome()
        mt: list[str] = []

        def msg(s: str | None) -> None:
            if s and s not in mt:
                mt.append(s)

        self.check_canonical_status(op, self.vs, "ValueSet", self.vs)
        displays = Designations()
        ok: bool | None = False
        no_code = False
        matched: set[int] = set()
        codelist = ""
        unknown_systems: list[str] = []
        reported_unknown_codes: list[str] = []
        psys = pcode = ppath = pver = None
        pdisp = ""
        tsys = tcode = tver = None
        result_version: str | None = None
        codings = concept.get("coding") or []
        for i, c in enumerate(codings):
            path = _add_to_path(issue_path, f"coding[{i}]") if issue_path == "CodeableConcept" else issue_path
            system, code, version, display = c.get("system"), c.get("code"), c.get("version"), c.get("display")
            if system and self.ctx.aliases.is_retired(system):
                canonical = self.ctx.aliases.canonical(system)
                op.add("warning", "business-rule", _add_to_path(path, "system"), None,
                       f"System URI '{system}' is retired; use '{canonical}'", "status-check")
            if not code:
                if not system and not options.infer_system:
                    m = text("Coding_has_no_system_or_code__cannot_validate")
                    op.add("warning", "invalid", path, "Coding_has_no_system_or_code__cannot_validate", m,
                           "invalid-data")
                else:
                    m = (f"Coding has no code for system {system} and cannot be validated" if system
                         else "Coding has no code and cannot be validated")
                    op.add("warning", "invalid", path, None, m, "invalid-data")
                msg(m)
                no_code = True
                break
            vs_version = self.find_vs_version_for_system(system)
            displays.clear()
            st.ver, st.content_mode, st.def_lang, st.found = "", None, None, None
            v = self.check(path, system, version, code, displays, unknown_systems, st, op, mt, display)
            if v is False:
                st.cause = "code-invalid"
            if v is True:
                matched.add(i)
            ws = st.implied_system or system or ""
            if not tcode or v is True:
                tsys, tcode, tver = system, code, version
            if not tver and st.ver:
                tver = st.ver
            shown = f"{ws}|{version}#{code}" if version else f"{ws}#{code}"
            if display:
                shown += f" ('{display}')"
            codelist = f"'{shown}'" if not codelist else f"{codelist}, '{shown}'"
            if v is False and not self.internally_defined and mode == "codeableConcept":
                m = text("None_of_the_provided_codes_are_in_the_value_set_one", "", self.vurl_or_msg, f"'{shown}'")
                op.add("information", "code-invalid", f"{issue_path}.coding[{i}].code",
                       "None_of_the_provided_codes_are_in_the_value_set_one", m, "this-code-not-in-vs")
                if st.cause == "null":
                    st.cause = "unknown"
            if ok is not True and v is not False:
                ok = v
            if v is True:
                if (st.cause == "not-found" and st.content_mode != "complete") or st.content_mode == "example":
                    m = (f"The system {system} was found but did not contain enough information to properly "
                         f"validate the code \"{code}\" (\"{display}\") (mode = {st.content_mode})")
                    msg(m)
                    op.add("warning", "not-found", path, None, m, "vs-invalid")
                elif display and displays.designations:
                    self.check_displays(displays, st.def_lang, c, msg, op, path)
                if pcode is None:
                    psys, pcode, ppath = system, code, path
                    if st.ver:
                        pver = st.ver
                    pdisp = self._shown(displays, st) or pdisp
            elif not options.membership_only and ws:
                if not is_absolute_url(ws):
                    m = text("Terminology_TX_System_Relative")
                    where = {"coding": f"{issue_path}.system",
                             "codeableConcept": f"{issue_path}.coding[{i}].system"}.get(mode, issue_path)
                    mt.append(m)
                    op.add("error", "invalid", where, "Terminology_TX_System_Relative", m, "invalid-data")
                lookup_version = version or vs_version
                prov = self.run.find_code_system(ws, lookup_version, op=op)
                if prov is None:
                    if self.run.find_value_set(ws, None) is not None:
                        m = text("Terminology_TX_System_ValueSet2", ws)
                        msg(m)
                        op.add("error", "invalid", _add_to_path(path, "system"), "Terminology_TX_System_ValueSet2", m,
                               "invalid-data")
                        st.cause = "invalid"
                    elif self.run.find_supplement(ws) is not None:
                        supplement = self.run.find_supplement(ws)
                        m = text("CODESYSTEM_CS_NO_SUPPLEMENT", supplement)
                        msg(m)
                        op.add("error", "invalid", _add_to_path(path, "system"), "CODESYSTEM_CS_NO_SUPPLEMENT", m,
                               "invalid-data")
                        st.cause = "invalid"
                    else:
                        any_version = self.run.find_code_system(ws, None, apply_rules=False)
                        if any_version is None and not lookup_version:
                            mid, m = "UNKNOWN_CODESYSTEM", text("UNKNOWN_CODESYSTEM", ws)
                            key = ws
                        else:
                            known = self.run.list_versions(system or ws)
                            if not known:
                                mid, key = "UNKNOWN_CODESYSTEM_VERSION_NONE", ws
                            else:
                                mid, key = "UNKNOWN_CODESYSTEM_VERSION", f"{ws}|{lookup_version}"
                            m = text(mid, ws, lookup_version, present_version_list(known))
                        if key not in unknown_systems:
                            unknown_systems.append(key)
                            op.add("error", "not-found", _add_to_path(path, "system"), mid, m, "not-found")
                        msg(m)
                        st.cause = "not-found"
                else:
                    self.check_canonical_status_cs(op, prov, self.vs)
                    located = prov.locate(code)
                    if located is None:
                        key = f"{ws}|{prov.version}#{code}"
                        if key not in reported_unknown_codes:
                            reported_unknown_codes.append(key)
                            st.cause = "code-invalid"
                            if prov.content == "complete":
                                m = _unknown_code_message(ws, prov.version, code)
                                msg(m)
                                if op.add("error", "code-invalid", _add_to_path(path, "code"),
                                          "Unknown_Code_in_Version", m, "invalid-code", if_new=True):
                                    _case_hint(op, path, prov, code)
                            else:
                                m = text("UNKNOWN_CODE_IN_FRAGMENT", code, ws, prov.version)
                                op.add("warning", "code-invalid", _add_to_path(path, "code"),
                                       "UNKNOWN_CODE_IN_FRAGMENT", m, "invalid-code", if_new=True)
                    else:
                        if not version and mode == "codeableConcept" and prov.version:
                            c["version"] = prov.version
                        prov.list_displays(displays, located)
                        if not options.membership_only and not st.inactive and not located.active:
                            st.inactive, st.inactive_path, st.inactive_code = True, path, code
                            if _status_of(located):
                                st.vstatus = _status_of(located)
                        pdisp = self._shown_from(displays, prov, located) or pdisp
                        self._check_display_outside(displays, st, prov, c, msg, op, path)
                        if prov.version and mode != "codeableConcept":
                            result_version = prov.version
        if issue_path == "CodeableConcept" and matched:
            not_checked = ("UNKNOWN_CODESYSTEM", "UNKNOWN_CODESYSTEM_VERSION", "UNKNOWN_CODESYSTEM_VERSION_NONE")
            for j, c in enumerate(codings):
                if j in matched:
                    continue
                where = f"{issue_path}.coding[{j}].system"
                for issue in op.issues:
                    if issue.severity == "error" and issue.message_id in not_checked and where in issue.expression:
                        was = issue.text
                        now = text("UNKNOWN_CODESYSTEM_CODING_NOT_CHECKED",
                                   f"{c.get('system')}|{c['version']}" if c.get("version") else c.get("system"))
                        issue.severity, issue.text = "warning", now
                        issue.message_id = "UNKNOWN_CODESYSTEM_CODING_NOT_CHECKED"
                        mt[:] = [t for t in mt if t != was]
                        msg(now)
        no_code_summary = no_code and (mode != "codeableConcept" or self.internally_defined)
        if ok is False and not no_code_summary and (not self.internally_defined or not op.has_errors()):
            if mode == "codeableConcept":
                mid = "TX_GENERAL_CC_ERROR_MESSAGE"
                m = text(mid, self.vurl_or_msg)
                where = ""
            else:
                mid = "None_of_the_provided_codes_are_in_the_value_set_one"
                m = text(mid, "", self.vurl_or_msg, codelist)
                where = "code" if not issue_path else f"{issue_path}.code"
            if op.add("error", "code-invalid", where, mid, m, "not-in-vs"):
                msg(m)
            if st.cause == "null":
                st.cause = "unknown"
        valid = ok is True and not op.has_errors()
        out = ValidationResult(valid)
        if psys:
            out.system = psys
        elif ok is True and st.implied_system:
            out.system = st.implied_system
        elif tsys and mode != "codeableConcept":
            out.system = tsys
        for unknown in unknown_systems:
            if ok is False:
                out.unknown_systems.append(unknown)
            elif not valid:
                out.caused_by_unknown_systems.append(unknown)
        if st.normal_form:
            out.normalized_code = st.normal_form
        if pcode:
            out.code = pcode
        elif tcode and mode != "codeableConcept":
            out.code = tcode
        out.version = pver or (tver if tver and mode != "codeableConcept" else None) or result_version
        if pdisp and (pcode or (tcode and mode != "codeableConcept")):
            out.display = pdisp
        if st.inactive:
            if mode != "codeableConcept" or (pcode and st.inactive_path == ppath):
                out.inactive = True
                if st.vstatus and st.vstatus != "inactive":
                    out.status = st.vstatus
            where = st.inactive_path or "code"
            if st.vstatus not in ("inactive", "DISCOURAGED"):
                m = text("INACTIVE_CONCEPT_FOUND_ADD", st.vstatus, st.inactive_code or tcode, "inactive")
            else:
                m = text("INACTIVE_CONCEPT_FOUND", st.vstatus, st.inactive_code or tcode, "")
            msg(m)
            op.add("warning", "business-rule", where, "INACTIVE_CONCEPT_FOUND", m, "code-comment")
        elif st.vstatus.lower() == "deprecated":
            out.status = "deprecated"
            m = text("DEPRECATED_CONCEPT_FOUND", st.vstatus, tcode)
            msg(m)
            op.add("warning", "business-rule", issue_path, "DEPRECATED_CONCEPT_FOUND", m, "code-comment")
        for issue in op.issues:
            if issue.severity == "error" and issue.text not in mt:
                mt.append(issue.text)
        if mt:
            out.message = "; ".join(sorted(mt))
        if mode == "codeableConcept":
            out.codeable_concept = concept
        self._alias_notes(codings, issue_path, op)
        out.issues = op.issues
        return out

    def _alias_notes(self, codings: list[dict[str, Any]], issue_path: str, op: _Outcome) -> None:
        """Our own addition to tx.fhir.org's answer: when an unknown-code or display issue names a system the
        client sent by one of this server's aliases (``urn:oid:1.2.208.176.2.31``), an information issue says
        which system that is. The HL7 texts stay as they are (they name the system as sent); the HL7 tests never
        use an alias."""
        about_the_system = [issue.text for issue in op.issues
                            if issue.tx_code in ("invalid-code", "invalid-display", "display-comment")]
        if not about_the_system:
            return
        for i, c in enumerate(codings):
            system = c.get("system")
            if not system or self.ctx.aliases.is_retired(system):  # a retired alias has its own warning
                continue
            canonical = self.ctx.aliases.canonical(system)
            named = _system_named(system)
            if canonical == system or not any(named.search(t) for t in about_the_system):
                continue
            cs = self.run.find_code_system(system, None, apply_rules=False)
            label = catalog.system_label(cs.row) if cs is not None else f"'{canonical}'"
            path = f"{issue_path}.coding[{i}]" if issue_path == "CodeableConcept" else issue_path
            op.add("information", "informational", _add_to_path(path, "system"), None,
                   f"'{system}' is this server's alias of {label}", "process-note", if_new=True)

    @property
    def vurl_or_msg(self) -> str:
        return self.vurl or "(unidentified)"  # tx.fhir.org's name for a value set without a url

    def _shown(self, displays: Designations, st: _State) -> str:
        if st.found is not None:
            return self._shown_from(displays, *st.found)
        langs = self.options.working_languages()
        return displays.preferred_display(langs) or displays.preferred_display(None)

    def _shown_from(self, displays: Designations, cs: _CodeSystem, concept: _Concept) -> str:
        langs = self.options.working_languages()
        if langs is None:
            shown = cs.shown_display(concept)
            if shown:
                return shown
        return displays.preferred_display(langs) or displays.preferred_display(None)

    def _check_display_outside(self, displays: Designations, st: _State, prov: _CodeSystem, c: dict[str, Any],
                               msg: Callable[[str], None], op: _Outcome, path: str) -> None:
        """The display check for a code found in its system but not in the value set."""
        display = c.get("display")
        langs = self.options.working_languages()
        def_lang = st.def_lang
        if not display or not displays.designations:
            return
        found, difference = displays.has_display(langs, def_lang, display, False)
        if found:
            return
        severity = "warning" if self.options.display_warning else "error"
        base = "Display_Name_WS_for__should_be_one_of__instead_of" if difference == "normalized" \
            else "Display_Name_for__should_be_one_of__instead_of"
        count = displays.display_count(langs, None, True)
        if count == 0:
            severity, base = "warning", "NO_VALID_DISPLAY_AT_ALL"
            m = text("NO_VALID_DISPLAY_AT_ALL", display, prov.url, c.get("code"), self.options.lang_summary())
        else:
            m = plural(base, count, prov.url, c.get("code"), displays.present(langs, True), display,
                       self.options.lang_summary())
        msg(m)
        op.add(severity, "invalid", _add_to_path(path, "display"), base, m, "invalid-display")

    def check_displays(self, displays: Designations, def_lang: Language | None, c: dict[str, Any],
                       msg: Callable[[str], None], op: _Outcome, path: str) -> None:
        """``checkDisplays``: the display of a code that is in the value set."""
        options = self.options
        langs = options.working_languages()
        display, system, code = c["display"], c.get("system"), c.get("code")
        found, difference = displays.has_display(langs, None, display, False)
        where = _add_to_path(path, "display")
        if not found:
            severity = "warning" if options.display_warning else "error"
            base = "Display_Name_WS_for__should_be_one_of__instead_of" if difference == "normalized" \
                else "Display_Name_for__should_be_one_of__instead_of"
            count = displays.display_count(langs, None, True)
            mid = base
            if count == 0:
                severity = "warning"
                count = displays.display_count(langs, None, False)
            if count == 0:
                default = displays.preferred_display(None)
                if not default:
                    mid = "NO_VALID_DISPLAY_AT_ALL"
                    m = text(mid, display, system, code)
                elif displays.has_display(langs, def_lang, display, False)[0]:
                    mid = "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_OK"
                    m = text(mid, display, system, code, options.lang_summary(), default)
                    severity = "information"
                else:
                    mid = "NO_VALID_DISPLAY_FOUND_NONE_FOR_LANG_ERR"
                    m = text(mid, display, system, code, options.lang_summary(), default)
                    severity = "warning" if options.display_warning else "error"
            else:
                m = plural(base, count, system, code, displays.present(langs, True), display,
                           options.lang_summary())
            msg(m)
            op.add(severity, "invalid", where, mid, m, "invalid-display")
        elif not displays.has_display(langs, None, display, True)[0]:
            allowed = displays.allowed_displays()
            m = plural("INACTIVE_DISPLAY_FOUND", len(allowed), display, code, ",".join(allowed),
                       displays.status_of(display))
            op.add("warning" if options.display_warning else "error", "invalid", where, "INACTIVE_DISPLAY_FOUND", m,
                   "display-comment")


@functools.lru_cache(maxsize=256)
def _system_named(system: str) -> re.Pattern[str]:
    """A pattern finding ``system`` named in a message (not as the start of a longer URI)."""
    return re.compile(re.escape(system) + r"(?![\w.])")


def _case_hint(op: _Outcome, path: str, cs: _CodeSystem, code: str) -> None:
    """Our own addition to tx.fhir.org's answer, after an unknown code: when the code system is case sensitive and
    exactly one of its codes equals this one ignoring case, an information issue names it (``k86`` → ``K86``)."""
    near = cs.case_variant(code)
    if near is not None:
        op.add("information", "business-rule", _add_to_path(path, "code"), None,
               f"Did you mean '{near}'? Codes in {catalog.system_label(cs.row)} are case sensitive", "code-rule",
               if_new=True)


def _add_unique(items: list[str], value: str) -> None:
    if value not in items:
        items.append(value)


def _has(key: str) -> bool:
    from termserver.services.messages import TEMPLATES

    return key in TEMPLATES


# --- one request ----------------------------------------------------------------------------------------------

class _Run:
    """What one ``$validate-code`` request shares: the context, the options, code systems found so far."""

    def __init__(self, ctx: Context, options: ValidationOptions) -> None:
        self.ctx = ctx
        self.options = options
        self.top: Checker | None = None
        self.required_supplements: set[str] = set(options.supplements)
        self.used_supplements: set[str] = set()
        self._systems: dict[tuple[str, str | None], _CodeSystem | None] = {}
        self._versions: dict[str, list[str]] = {}
        self._members: dict[str, list[Any]] = {}
        self._filters: dict[str, set[str]] = {}
        self._overlay_systems: dict[str, bool] = {}

    # version rules (worker.js determineVersionBase / checkVersion)
    def determine_version_base(self, url: str, version: str | None) -> str | None:
        if not self.options.version_rules:  # most requests have none
            return version or None
        rules = self.options.rules_for(self.ctx.aliases.canonical(url)) or self.options.rules_for(url)
        result = version
        overrides = [r.version for r in rules if r.mode == "override"]
        if overrides:
            if len(set(overrides)) > 1:
                raise InvalidRequest(text("SYSTEM_VERSION_MULTIPLE_OVERRIDE", url, overrides[0], overrides[1])
                                     if _has("SYSTEM_VERSION_MULTIPLE_OVERRIDE") else
                                     f"Multiple force-system-version values for {url}", tx_code="version-error")
            result = overrides[0]
        if not result:
            defaults = [r.version for r in rules if r.mode == "default"]
            if defaults:
                result = defaults[0]
        if not result:
            checks = [r.version for r in rules if r.mode == "check"]
            if checks:
                result = checks[0]
        return result or None

    def pin_value_set(self, url: str) -> str:
        base, _, version = url.partition("|")
        version = version or self.options.value_set_versions.get(base, "")
        version = self.determine_version_base(base, version or None) or ""
        return f"{base}|{version}" if version else url

    # code systems
    def find_code_system(self, url: str | None, version: str | None, *, op: _Outcome | None = None,
                         apply_rules: bool = True) -> _CodeSystem | None:
        """``findCodeSystem``: the version asked for (after the version rules), else the newest; None when unknown.
        With ``op``, a ``check-system-version`` the version found breaks is reported there."""
        if not url:
            return None
        if apply_rules:
            version = self.determine_version_base(url, version)
        key = (url, version or None)
        if key not in self._systems:
            self._systems[key] = self._load_code_system(url, version or None)
        cs = self._systems[key]
        if cs is not None and op is not None and self.options.version_rules:
            for rule in self.options.rules_for(self.ctx.aliases.canonical(url)) or self.options.rules_for(url):
                if rule.mode == "check" and not version_matches(rule.version, cs.version):
                    op.add("error", "exception", None, "VALUESET_VERSION_CHECK",
                           text("VALUESET_VERSION_CHECK", url, cs.version, rule.version), "version-error")
        return cs

    def _request_shadows(self, canonical: str) -> bool:
        """True when this request's own resources hold a version or a supplement of ``canonical``."""
        if self.ctx.overlay is None:
            return False
        if canonical not in self._overlay_systems:
            found = self.ctx.overlay.scalar(select(CodeSystemVersion.id).where(or_(
                CodeSystemVersion.url == canonical, CodeSystemVersion.supplements == canonical)).limit(1))
            self._overlay_systems[canonical] = found is not None
        return self._overlay_systems[canonical]

    def _load_code_system(self, url: str, version: str | None) -> _CodeSystem | None:
        canonical = self.ctx.aliases.canonical(url)
        search = self.ctx.search
        snapshot = search.snapshots.get(canonical) if search is not None else None
        if snapshot is not None and (not version or version == snapshot.version) \
                and not self._request_shadows(canonical):
            return _snapshot_code_system(snapshot)
        rows = [r for r in catalog.versions_of(self.ctx, url) if r.content in ("complete", "fragment", "example")]
        if not rows:
            return None
        if not version:
            return _CodeSystem(self.ctx, rows[0])
        exact = [r for r in rows if r.version == version]
        if exact:
            return _CodeSystem(self.ctx, exact[0])
        matched = [r for r in rows if version_matches(version, r.version)]
        return _CodeSystem(self.ctx, matched[0]) if matched else None

    def list_versions(self, url: str) -> list[str]:
        if url not in self._versions:
            self._versions[url] = sorted({r.version for r in catalog.versions_of(self.ctx, url) if r.version})
        return list(self._versions[url])

    def find_supplement(self, url: str) -> str | None:
        rows = [r for r in catalog.versions_of(self.ctx, url, supplements=True) if r.content == "supplement"]
        if not rows:
            return None
        return f"{rows[0].url}|{rows[0].version}" if rows[0].version else rows[0].url

    # value sets
    def find_value_set(self, url: str, source: dict[str, Any] | None) -> dict[str, Any] | None:
        """A value set by canonical (``url|version``) or a contained one (``#id``); None when unknown."""
        if url.startswith("#"):
            for contained in (source or {}).get("contained") or []:
                if isinstance(contained, dict) and contained.get("id") == url[1:] \
                        and contained.get("resourceType") == "ValueSet":
                    return contained
            return None
        from termserver.services.valuesets import IMPLICIT, resolve_value_set

        base, _, version = url.partition("|")
        if IMPLICIT not in base and catalog.versions_of(self.ctx, base, supplements=True) \
                and not self._stored_value_set(base):
            return None  # a code system URL: not a value set
        try:
            resolved = resolve_value_set(self.ctx, base, version or None)
        except TermserverError:
            return None
        resource = dict(resolved.resource or {})
        resource.setdefault("resourceType", "ValueSet")
        for key, value in (("url", resolved.url), ("version", resolved.version), ("status", resolved.status)):
            if value and key not in resource:
                resource[key] = value
        resource["compose"] = resolved.compose
        return resource

    def _stored_value_set(self, url: str) -> bool:
        from termserver.models import ValueSetVersion

        return any(session.scalar(select(ValueSetVersion.id).where(ValueSetVersion.url == url).limit(1)) is not None
                   for session in self.ctx.sessions())

    def members(self, vs: dict[str, Any]) -> list[Any]:
        """Every member of ``vs`` (an expansion; used to infer a system)."""
        key = repr(vs.get("url")) + repr(vs.get("version")) + repr(vs.get("compose"))
        if key not in self._members:
            from termserver.services.valuesets import ExpandRequest, ResolvedValueSet, _Evaluator

            resolved = ResolvedValueSet(vs.get("url"), vs.get("version"), vs.get("name"), vs.get("title"),
                                        vs.get("status", "active"), vs.get("compose") or {}, vs)
            self._members[key] = list(_Evaluator(self.ctx, ExpandRequest()).evaluate(resolved).values())
        return self._members[key]

    def in_filter(self, cs: _CodeSystem, cset: dict[str, Any], code: str) -> bool:
        """Whether ``code`` passes every filter of the concept set (evaluated by the expansion code)."""
        include = {"system": cs.url, "filter": cset["filter"]}
        if cs.version:
            include["version"] = cs.version
        key = repr(include)
        if key not in self._filters:
            from termserver.services.valuesets import ExpandRequest, ResolvedValueSet, _Evaluator

            resolved = ResolvedValueSet(None, None, None, None, "active", {"include": [include]}, None)
            rows = _Evaluator(self.ctx, ExpandRequest()).evaluate(resolved)
            self._filters[key] = {row.code for row in rows.values()}
        return code in self._filters[key]

    def normalisation_issue(self, op: _Outcome, path: str, code: str, normalised: str, cs: _CodeSystem) -> str:
        key = "CODE_CASE_DIFFERENCE" if normalised.lower() == code.lower() else "CODE_NOT_IN_NORMAL_FORM"
        message = text(key, code, normalised, cs.vurl())
        op.add("information", "business-rule", _add_to_path(path, "code"), key, message, "code-rule")
        return message


# --- entry points ---------------------------------------------------------------------------------------------

def _prepare_error(ctx: Context, options: ValidationOptions, error: PrepareError, coded: Coded) -> ValidationResult:
    """``handlePrepareError``: the value set could not be prepared; the answer says why."""
    out = ValidationResult(False, message=error.issue.text, issues=[error.issue])
    codings = coded.concept.get("coding") or []
    if coded.mode == "codeableConcept":
        out.codeable_concept = coded.concept
    elif codings:
        first = codings[0]
        out.system = first.get("system")
        out.code = first.get("code")
        if first.get("version"):
            out.version = first["version"]
        elif first.get("system"):
            cs = _Run(ctx, options).find_code_system(first["system"], None)
            out.version = cs.version if cs is not None else None
    if error.unknown_system:
        out.caused_by_unknown_systems.append(error.unknown_system)
    return out


def validate_in_value_set(ctx: Context, vs: dict[str, Any], coded: Coded,
                          options: ValidationOptions) -> ValidationResult:
    """``ValueSet/$validate-code``: is the code (Coding, CodeableConcept) in the value set, and right?

    :raises InvalidRequest: a malformed value set (a filter without a value, a circular import).
    :raises NotFound: a supplement the value set needs is not loaded.
    """
    run = _Run(ctx, options)
    for extension in vs.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == VALUESET_SUPPLEMENT:
            value = extension.get("valueCanonical") or extension.get("valueUri") or extension.get("valueString")
            if value:
                run.required_supplements.add(value)
    # supplements sent with the request apply only when asked for (catalog.supplements_of)
    if run.required_supplements - ctx.use_supplements:
        run.ctx = dataclasses.replace(ctx, use_supplements=ctx.use_supplements | run.required_supplements)
    checker = Checker(run, vs)
    run.top = checker
    try:
        checker.prepare()
    except PrepareError as error:
        return _prepare_error(ctx, options, error, coded)
    unused = sorted(run.required_supplements - run.used_supplements)
    if unused:
        raise NotFound(plural("VALUESET_SUPPLEMENT_MISSING", len(unused), ",".join(unused)), status=422)
    return checker.check_codeable_concept(coded)


def validate_in_code_system(ctx: Context, coded: Coded, options: ValidationOptions, *, url: str | None = None,
                            version: str | None = None) -> ValidationResult:
    """``CodeSystem/$validate-code``: is the code in the code system (``url`` or the coding's own), and right?"""
    run = _Run(ctx, options)
    codings = coded.concept.get("coding") or []
    first = codings[0] if codings else {}
    from_coded = False
    if not url and first.get("system"):
        url, from_coded = first["system"], True
    if not url:
        if not first.get("system"):
            path = {"code": "", "coding": "Coding"}.get(coded.mode, "CodeableConcept.coding[0]")
            message = text("Coding_has_no_system__cannot_validate")
            issue = Issue("warning", "invalid", message, "invalid-data", [path] if path else [],
                          "Coding_has_no_system__cannot_validate")
            return _prepare_error(ctx, options, PrepareError(issue), coded)
        raise InvalidRequest("No CodeSystem specified - provide url parameter or codeSystem resource")
    system_path = {"code": "system", "coding": "Coding.system"}.get(coded.mode, "CodeableConcept.coding[0].system")
    if not version and from_coded:
        version = first.get("version")
    version = run.determine_version_base(url, version)
    cs = run.find_code_system(url, version, apply_rules=False)
    if cs is None:
        supplement = run.find_supplement(url)
        if supplement is not None and not run.find_code_system(url, None, apply_rules=False):
            message = text("CODESYSTEM_CS_NO_SUPPLEMENT", supplement)
            issue = Issue("error", "invalid", message, "invalid-data", [system_path], "CODESYSTEM_CS_NO_SUPPLEMENT")
            return _prepare_error(ctx, options, PrepareError(issue), coded)
        if run.find_value_set(url, None) is not None:
            message = text("Terminology_TX_System_ValueSet2", url)
            issue = Issue("error", "invalid", message, "invalid-data", [system_path], "Terminology_TX_System_ValueSet2")
            return _prepare_error(ctx, options, PrepareError(issue), coded)
        if version:
            known = run.list_versions(url)
            if not known:
                key, unknown = "UNKNOWN_CODESYSTEM_VERSION_NONE", url
            else:
                key, unknown = "UNKNOWN_CODESYSTEM_VERSION", f"{url}|{version}"
            message = text(key, url, version, present_version_list(known))
        else:
            key, unknown = "UNKNOWN_CODESYSTEM", url
            message = text(key, url)
        issue = Issue("error", "not-found", message, "not-found", [system_path], key)
        return _prepare_error(ctx, options, PrepareError(issue, unknown), coded)
    vs: dict[str, Any] = {"resourceType": "ValueSet", "status": "active",
                          "url": getattr(cs.row, "value_set", None) or f"{cs.url}/vs",
                          "compose": {"include": [{"system": url}]}}
    if cs.version:
        vs["version"] = cs.version
        vs["compose"]["include"][0]["version"] = cs.version
    checker = Checker(run, vs, internally_defined=True)
    run.top = checker
    return checker.check_codeable_concept(coded)


def coded_from(code: str | None, system: str | None, version: str | None, display: str | None) -> Coded:
    """A ``code``/``system``/``version``/``display`` request as a one-coding CodeableConcept."""
    coding = {k: v for k, v in (("system", system), ("version", version), ("code", code), ("display", display))
              if v}
    return Coded({"coding": [coding]}, "code")


def coded_coding(coding: dict[str, Any]) -> Coded:
    return Coded({"coding": [copy.deepcopy(coding)]}, "coding")


def coded_concept(concept: dict[str, Any]) -> Coded:
    return Coded(copy.deepcopy(concept), "codeableConcept")
