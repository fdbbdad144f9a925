"""Whole-resource code check: every Coding of a FHIR resource or Bundle against the code systems hosted here,
answered as the issues of one OperationOutcome, with repair hints (:mod:`termserver.services.hints`).

Finding codings (:func:`find_codings`). The resource is walked as JSON, without StructureDefinitions:

* a Coding is an item of a ``coding`` array (a CodeableConcept), the value of a ``<name>Coding`` choice element
  (``valueCoding``, ``eventCoding``), an item of ``Meta.security``, or any other object with a string ``system``
  and ``code`` and nothing but Coding elements (``Encounter.class``, ``AuditEvent.type``). Quantities,
  Identifiers, References and the like carry ``value``/``unit``/``reference`` and are never taken for one.
* ``Meta.tag`` is skipped: tags are free workflow labels that servers and clients invent (the binding is an
  example), and a warning per tag would bury the codes that matter. ``Meta.security`` is checked.
* Narrative and the definitions inside terminology and conformance resources (``CodeSystem.concept``,
  ``ValueSet.compose``/``expansion``, ``ConceptMap.group``, ``StructureDefinition.snapshot``…) are not codings in use
  and are skipped.
* Resources nest anywhere (``Bundle.entry.resource`` of any Bundle type, nested Bundles, ``contained``,
  ``Parameters.parameter.resource``); expressions are exact FHIRPath from the root:
  ``Bundle.entry[3].resource.code.coding[0]``, ``Observation.value.ofType(Coding)``.

Checking one coding against a hosted system (ICPC-2, SKS, ICD-10, NPU, MCS — strict):

=====================================================  ========  ================  ==============
problem                                                severity  issue.code        tx-issue-type
=====================================================  ========  ================  ==============
unknown code, with repair hints (*)                    error     code-invalid      invalid-code
chapter or block header (not selectable)               error     business-rule     code-rule
inactive concept                                       warning   business-rule     code-comment
display of another concept of the system               error     invalid           invalid-display
display differs only in case, spacing, punctuation     warning   invalid           invalid-display
display not a display or designation of the code       warning   invalid           invalid-display
coding with a system but no code (display hints)       warning   incomplete        invalid-data
coding with a code but no system                       warning   invalid           invalid-data
retired system URI (one issue per URI)                 warning   business-rule     status-check
supplement URI used as the system (one per URI)        warning   business-rule     status-check
unknown version of a hosted system                     error     not-found         version-error
malformed Coding (not an object, non-string element)   error     structure         invalid-data
=====================================================  ========  ================  ==============

(*) ICPC-2 has no component 00, so ``A00`` (or ``A0``) is read as chapter ``A`` and the message says it is a
chapter header, not a codeable rubric; an SKS or ICD-10 range (``DJ40-DJ47``) is said to be a block header.

A display is right when it is the code's display or any of its designations (supplements included, as
``$validate-code`` accepts them), and for NPU and MCS also its definition (:func:`_display_texts`).

Systems not hosted here cannot be judged. Well-known ones (SNOMED CT, LOINC, UCUM, HL7 and FHIR code systems,
MedCom, HL7 Denmark, Danish and HL7 OIDs: :data:`EXTERNAL_PREFIXES`) are counted and named in the closing
information issue as "not checked"; any other system gets one warning (issue.code not-found, tx not-found) listing
every coding that uses it — with "did you mean" when the URI is a near miss of a hosted one
(``urn:oid:1.2.208.176.2.4`` is the SKS root, diagnoses are ``urn:oid:1.2.208.176.2.4.12``).

MedCom rules:

* ConditionList (a Condition whose profile is ``medcom-conditionlist-condition``, or any Condition in a Bundle whose
  profile is ``medcom-conditionlist-bundle`` or whose Composition is a ConditionList: profile
  ``medcom-conditionlist-composition`` or type LOINC 11450-4): a ``Condition.code`` with codings must have one
  in the ICPC-2 slice (``urn:oid:1.2.208.176.2.31``) or the SKS-D slice (``urn:oid:1.2.208.176.2.4.12``); only
  other systems → error (business-rule, code-rule) at ``Condition.code``. A Condition without a code is allowed (the
  IG's 5th example). Repair hints offer codes under the slice URIs.
* HomeCareObservation (an Observation whose profile is ``medcom-homecare-observation``, or any Observation in a
  HomeCareObservation message): NPU and MCS codings of ``Observation.code`` are looked up in the national
  repertoire value sets (:data:`HOMECARE_VALUE_SETS`). Not a member → warning (the binding is preferred), tx
  not-in-vs. A display that is not the full Danish NPU name → warning, in place of the generic display issue; the
  name is the value set's display, else the store's where it has a Danish one (:func:`_full_npu_names`). An NPU
  code missing from the loaded NPU release but listed by the value set → warning, in place of the unknown-code
  error (the release is incomplete, not the message). A value set that is not loaded → one information issue
  (tx process-note) naming it and the codings not checked against it.

With no error or warning, the answer is one information issue: ``All N codings checked, no problems`` (N codings
of hosted systems), naming the systems whose codings were not checked.

Speed: one query per distinct system URI, codes looked up in the search index (which holds every concept's code,
display, status and selectability in memory); the database is read again only for displays the index cannot
confirm (one batch per system) and for versions other than the indexed ones (one batch per system version).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from rapidfuzz.distance import Levenshtein
from sqlalchemy import select

from termserver.errors import InvalidRequest, NotFound, TermserverError, UnknownCodeSystem
from termserver.fhir.params import OperationParams
from termserver.models import CodeSystemVersion, Concept
from termserver.services import catalog, hints, valuesets
from termserver.services.catalog import Context, system_label
from termserver.services.hints import CodeTable, Suggestion
from termserver.services.results import Coding, Issue
from termserver.services.search import KIND_DESIGNATION, KIND_DISPLAY, normalize
from termserver.systems import ICD10, ICPC2, ICPC2_OID, MCS, NPU, SKS_DIAGNOSES

CODE_SUGGESTION = "https://termserver.dk/fhir/StructureDefinition/code-suggestion"
NPU_VALUE_SET = "http://medcomfhir.dk/ig/terminology/ValueSet/npu-observation-codes-valueset"
MCS_VALUE_SET = "http://medcomfhir.dk/ig/terminology/ValueSet/medcom-observation-valueset"
HOMECARE_VALUE_SETS = {NPU: NPU_VALUE_SET, MCS: MCS_VALUE_SET}
CONDITION_LIST_SLICES = {ICPC2: ICPC2_OID, SKS_DIAGNOSES: SKS_DIAGNOSES}  # canonical → the URI the slice fixes
LOINC_PROBLEM_LIST = ("http://loinc.org", "11450-4")
EXTERNAL_PREFIXES = (
    "http://snomed.info/", "http://loinc.org", "http://unitsofmeasure.org", "http://terminology.hl7.org/",
    "http://hl7.org/fhir/", "urn:ietf:", "urn:iso:", "http://dicom.nema.org/", "http://www.nlm.nih.gov/",
    "http://www.whocc.no/", "http://medcomfhir.dk/", "https://medcomfhir.dk/", "http://hl7.dk/fhir/",
    "http://ehealth.sundhed.dk/", "urn:oid:2.16.840.1.113883.", "urn:oid:1.2.208.", "urn:dk:",
)
# URIs people send for a hosted system by mistake, beyond typos: the SKS root instead of its diagnosis branch
NEAR_MISSES = {"urn:oid:1.2.208.176.2.4": SKS_DIAGNOSES}
MAX_DEPTH = 128
_CODING_ELEMENTS = frozenset({"id", "extension", "system", "version", "code", "display", "userSelected"})
_CHOICE = re.compile(r"^([a-z][A-Za-z]*?)(Coding|CodeableConcept)$")
_CHOICE_SUFFIXES = ("Coding", "CodeableConcept")
# terminology and conformance resources: their bodies define codes, they do not use them
_DEFINITIONS = frozenset({"CodeSystem", "ValueSet", "ConceptMap", "NamingSystem", "StructureDefinition",
                          "StructureMap", "OperationDefinition", "SearchParameter", "CapabilityStatement",
                          "TerminologyCapabilities", "ImplementationGuide", "CompartmentDefinition",
                          "GraphDefinition", "MessageDefinition"})
_DEFINITION_KEYS = frozenset({"meta", "jurisdiction", "useContext", "topic", "contained"})


# --- results ----------------------------------------------------------------------------------------------------

@dataclass
class CodingIssue(Issue):
    """An OperationOutcome issue, with the codes offered instead (rendered as :data:`CODE_SUGGESTION`)."""

    suggestions: list[Coding] = field(default_factory=list)
    order: tuple[int, int] = (0, 0)  # (coding number, step): issues come out in document order


@dataclass
class CheckResult:
    """Everything the OperationOutcome says: the issues, best-known first, and what was counted."""

    issues: list[CodingIssue]
    codings: int  # codings found
    checked: int  # codings of hosted systems
    not_checked: dict[str, int]  # system URI → codings of well-known systems not hosted here


# --- finding codings --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Frame:
    """One resource met in the walk, with the MedCom context it is in."""

    resource: dict[str, Any]
    path: str
    kind: str
    condition_list: bool = False
    homecare: bool = False


@dataclass(slots=True)
class FoundCoding:
    """A Coding at ``path``; ``in_code`` when it belongs to the resource's own ``code`` element."""

    number: int
    path: str
    coding: Any
    frame: Frame
    in_code: bool


def find_codings(resource: dict[str, Any]) -> tuple[list[FoundCoding], list[Frame]]:
    """Every Coding of ``resource`` in document order, and every resource met (see the module docstring).

    :raises InvalidRequest: when the JSON nests deeper than any FHIR resource does.
    """
    found: list[FoundCoding] = []
    frames: list[Frame] = []

    def add(path: str, coding: Any, frame: Frame, in_code: bool) -> None:
        found.append(FoundCoding(len(found), path, coding, frame, in_code))

    def visit_resource(res: dict[str, Any], path: str, outer: Frame | None, depth: int) -> None:
        kind = res["resourceType"]
        profiles = _profiles(res)
        condition_list = bool(outer and outer.condition_list)
        homecare = bool(outer and outer.homecare)
        if kind == "Bundle":
            condition_list = condition_list or _is_condition_list_bundle(res, profiles)
            homecare = homecare or _is_homecare_message(res, profiles)
        elif kind == "Condition":
            condition_list = condition_list or any("medcom-conditionlist-condition" in p for p in profiles)
        elif kind == "Observation":
            homecare = homecare or any("medcom-homecare-observation" in p for p in profiles)
        frame = Frame(res, path, kind, condition_list, homecare)
        frames.append(frame)
        definition = kind in _DEFINITIONS
        for key, value in res.items():
            kind_of_value = type(value)
            if kind_of_value is not dict and kind_of_value is not list:
                continue
            if key == "meta":
                security = value.get("security") if kind_of_value is dict else None
                if isinstance(security, list):
                    for index, item in enumerate(security):
                        add(f"{path}.meta.security[{index}]", item, frame, False)
                continue
            if (key == "text" and kind_of_value is dict and "div" in value) or (
                    definition and key not in _DEFINITION_KEYS):
                continue  # the narrative; the body of a definition
            visit_member(key, value, path, frame, depth + 1, key == "code")

    def visit_member(key: str, value: Any, path: str, frame: Frame, depth: int, in_code: bool) -> None:
        """``value`` (an object or a list) of element ``key`` of the object at ``path``."""
        if depth > MAX_DEPTH:
            raise InvalidRequest(f"The resource nests deeper than {MAX_DEPTH} levels at {path}; no FHIR resource "
                                 f"does")
        if type(value) is dict:
            choice = _CHOICE.match(key) if key.endswith(_CHOICE_SUFFIXES) else None
            if choice is None:
                visit_value(value, f"{path}.{key}", frame, depth, in_code)
            elif choice.group(2) == "Coding":
                add(f"{path}.{choice.group(1)}.ofType(Coding)", value, frame, in_code)
            else:
                visit_value(value, f"{path}.{choice.group(1)}.ofType(CodeableConcept)", frame, depth, in_code)
        elif key == "coding":
            for index, item in enumerate(value):
                add(f"{path}.coding[{index}]", item, frame, in_code)
        else:
            for index, item in enumerate(value):
                if type(item) is dict:
                    visit_value(item, f"{path}.{key}[{index}]", frame, depth, in_code)

    def visit_value(value: dict[str, Any], path: str, frame: Frame, depth: int, in_code: bool) -> None:
        if isinstance(value.get("resourceType"), str):
            visit_resource(value, path, frame, depth + 1)
        elif "code" in value and "system" in value and _looks_like_coding(value):
            add(path, value, frame, in_code)
        else:
            for key, member in value.items():
                if type(member) is dict or type(member) is list:
                    visit_member(key, member, path, frame, depth + 1, in_code)

    visit_resource(resource, resource["resourceType"], None, 0)
    return found, frames


def _looks_like_coding(value: dict[str, Any]) -> bool:
    return (isinstance(value.get("system"), str) and isinstance(value.get("code"), str)
            and all(key in _CODING_ELEMENTS or key.startswith("_") for key in value))


def _profiles(resource: dict[str, Any]) -> list[str]:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


def _entry_resources(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    entries = bundle.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            yield resource


def _codings_of(concept: Any) -> list[dict[str, Any]]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return [c for c in codings if isinstance(c, dict)] if isinstance(codings, list) else []


def _is_condition_list_bundle(bundle: dict[str, Any], profiles: list[str]) -> bool:
    if any("medcom-conditionlist" in p for p in profiles):
        return True
    for resource in _entry_resources(bundle):
        if resource.get("resourceType") == "Composition" and (
                any("medcom-conditionlist-composition" in p for p in _profiles(resource))
                or any((c.get("system"), c.get("code")) == LOINC_PROBLEM_LIST
                       for c in _codings_of(resource.get("type")))):
            return True
    return False


def _is_homecare_message(bundle: dict[str, Any], profiles: list[str]) -> bool:
    if any("homecareobservation" in p for p in profiles):
        return True
    for resource in _entry_resources(bundle):
        event = resource.get("eventCoding") if resource.get("resourceType") == "MessageHeader" else None
        if isinstance(event, dict) and event.get("code") == "homecareobservation-message":
            return True
    return False


# --- value sets the MedCom rules need ---------------------------------------------------------------------------

@dataclass
class ValueSetMembers:
    """Who is in a value set: concepts it lists (with the display it gives them) and systems it takes whole."""

    url: str
    version: str | None
    listed: dict[tuple[str, str], str | None]  # (canonical system, code) → display
    whole_systems: frozenset[str] = frozenset()

    def lists(self, system: str, code: str) -> bool:
        return (system, code) in self.listed

    def contains(self, system: str, code: str, known: bool) -> bool:
        """Whether the code (``known``: it exists in its system) is a member."""
        return self.lists(system, code) or (known and system in self.whole_systems)

    def display(self, system: str, code: str) -> str | None:
        return self.listed.get((system, code))


def value_set_members(ctx: Context, url: str) -> ValueSetMembers | None:
    """The members of the stored value set ``url``; None when it is not loaded.

    Includes of whole systems and concept lists are read from the definition; anything else (filters, imports,
    excludes) is expanded.

    :raises TermserverError: when the value set cannot be expanded.
    """
    try:
        vs = valuesets.resolve_value_set(ctx, url)
    except NotFound:
        return None
    if valuesets.is_implicit(vs):
        return None
    includes = [i for i in vs.compose.get("include") or [] if isinstance(i, dict)]
    listed: dict[tuple[str, str], str | None] = {}
    if not vs.compose.get("exclude") and all(i.get("system") and not i.get("filter") and not i.get("valueSet")
                                             for i in includes):
        whole: set[str] = set()
        for include in includes:
            system = ctx.aliases.canonical(include["system"])
            concepts = include.get("concept") or []
            if not concepts:
                whole.add(system)
            for concept in concepts:
                if isinstance(concept, dict) and isinstance(concept.get("code"), str):
                    listed[(system, concept["code"])] = concept.get("display")
        return ValueSetMembers(vs.url or url, vs.version, listed, frozenset(whole))
    for system, code, display in valuesets.value_set_members(ctx, vs):
        listed[(ctx.aliases.canonical(system), code)] = display
    return ValueSetMembers(vs.url or url, vs.version, listed)


# --- checking ---------------------------------------------------------------------------------------------------

@dataclass
class _Record:
    """A concept as the check needs it (from the search index or the database)."""

    code: str
    display: str | None
    active: bool
    abstract: bool
    number: int | None = None  # its number in the index, when it came from there


@dataclass
class _System:
    """A system URI as sent, resolved once per request."""

    uri: str
    canonical: str
    row: CodeSystemVersion | None = None  # None: not hosted here
    table: CodeTable | None = None  # the index holds exactly this version
    records: dict[str, _Record] = field(default_factory=dict)  # codes read from the database (no table)
    version_error: str | None = None
    supplement_of: str | None = None  # the URI named a supplement; ``row`` is its base system

    @property
    def label(self) -> str:
        assert self.row is not None
        return system_label(self.row, self.uri)

    def record(self, code: str) -> _Record | None:
        if self.table is not None:
            number = self.table.find(code)
            if number is None:
                return None
            info = self.table.index.concepts[number]
            return _Record(info.code, info.display, info.active, info.abstract, number)
        return self.records.get(code)


@dataclass
class _PendingDisplay:
    item: FoundCoding
    system: _System
    record: _Record
    display: str
    others: list[int]  # index numbers of other concepts whose display or designation this is


class _Checker:
    """One request's check: systems resolved once, issues collected in document order."""

    def __init__(self, ctx: Context, found: list[FoundCoding]) -> None:
        self.ctx = ctx
        self.found = found
        self.issues: list[CodingIssue] = []
        self.systems: dict[tuple[str, str | None], _System] = {}
        self.grouped: dict[tuple[str, str], CodingIssue] = {}  # (kind, uri) → one issue for every coding
        self.unknown: dict[int, CodingIssue] = {}  # coding number → its unknown-code error
        self.display_issues: dict[int, CodingIssue] = {}  # coding number → its display issue
        self.pending: list[_PendingDisplay] = []
        self.checked = 0
        self.not_checked: Counter[str] = Counter()
        self.preferred_uri: dict[str, str] = {}  # canonical → the URI this resource uses for it
        self.text_cache: dict[tuple[str, str | None, str | None], list[Suggestion]] = {}
        self.near_misses: dict[str, str | None] = {}

    # -- systems --

    def system(self, uri: str, version: str | None) -> _System:
        key = (uri, version)
        known = self.systems.get(key)
        if known is None:
            known = self.systems[key] = self._resolve(uri, version)
        return known

    def _resolve(self, uri: str, version: str | None) -> _System:
        ctx = self.ctx
        info = _System(uri, ctx.aliases.canonical(uri))
        rows = catalog.versions_of(ctx, uri, supplements=True)
        if not rows:
            return info
        if all(r.content == "supplement" for r in rows) and rows[0].supplements:
            info.supplement_of = rows[0].url
            info.canonical = ctx.aliases.canonical(rows[0].supplements)
            uri = info.canonical
        try:
            info.row = catalog.resolve_system(ctx, uri, version)
        except UnknownCodeSystem as exc:
            info.row = catalog.resolve_system(ctx, uri)
            info.version_error = exc.message
            return info
        index = ctx.search.get(info.row.url) if ctx.search is not None else None
        if index is not None and index.version == info.row.version:
            info.table = hints.code_table(index)
        return info

    def prepare(self) -> None:
        """Resolve every system URI once; note the URI this resource itself uses for each hosted system (hints in
        another system use it); read the codes of system versions the index does not hold, one query each."""
        wanted: dict[int, tuple[_System, set[str]]] = {}
        for item in self.found:
            coding = item.coding
            if type(coding) is not dict:
                continue
            uri, version = coding.get("system"), coding.get("version")
            if not isinstance(uri, str) or not uri or (version is not None and not isinstance(version, str)):
                continue
            info = self.system(uri, version)
            if info.row is None:
                continue
            if not self.ctx.aliases.is_retired(uri):
                self.preferred_uri.setdefault(info.canonical, uri)
            code = coding.get("code")
            if info.table is None and not info.version_error and isinstance(code, str) and "\x00" not in code:
                wanted.setdefault(id(info), (info, set()))[1].add(code)
        for info, codes in wanted.values():
            assert info.row is not None
            code_list = sorted(codes)
            for start in range(0, len(code_list), 900):
                query = select(Concept.code, Concept.display, Concept.active, Concept.not_selectable).where(
                    Concept.code_system_id == info.row.id, Concept.code.in_(code_list[start:start + 900]))
                for code, display, active, not_selectable in self.ctx.session_of(info.row).execute(query):
                    info.records[code] = _Record(code, display, active, not_selectable)

    def suggestion_uri(self, canonical: str, item: FoundCoding) -> str:
        """The URI to offer a code of ``canonical`` under: the ConditionList slice's; the coding's own (when not
        retired); the one the resource uses elsewhere; the canonical."""
        if item.frame.condition_list and canonical in CONDITION_LIST_SLICES:
            return CONDITION_LIST_SLICES[canonical]
        sent = item.coding.get("system") if type(item.coding) is dict else None
        if isinstance(sent, str) and self.ctx.aliases.canonical(sent) == canonical \
                and not self.ctx.aliases.is_retired(sent):
            return sent
        return self.preferred_uri.get(canonical, canonical)

    # -- issues --

    def add(self, item: FoundCoding, step: int, severity: str, code: str, text: str, tx_code: str,
            expression: str, suggestions: Sequence[Suggestion] = ()) -> CodingIssue:
        issue = CodingIssue(severity, code, text, tx_code, [expression],
                            suggestions=[Coding(self.suggestion_uri(s.system, item), s.code, s.display)
                                         for s in suggestions], order=(item.number, step))
        self.issues.append(issue)
        return issue

    def add_grouped(self, kind: str, uri: str, item: FoundCoding, severity: str, code: str, text: str,
                    tx_code: str) -> None:
        """One issue per (problem, system URI), listing every coding it concerns."""
        expression = f"{item.path}.system"
        issue = self.grouped.get((kind, uri))
        if issue is None:
            issue = self.grouped[(kind, uri)] = self.add(item, 0, severity, code, text, tx_code, expression)
        elif expression not in issue.expression:
            issue.expression.append(expression)

    # -- the checks --

    def run(self) -> None:
        self.prepare()
        for item in self.found:
            self.check(item)
        self.resolve_displays()

    def check(self, item: FoundCoding) -> None:
        coding = item.coding
        if not isinstance(coding, dict):
            self.add(item, 0, "error", "structure", f"A Coding must be a JSON object, not {_json_type(coding)}",
                     "invalid-data", item.path)
            return
        for key in ("system", "code", "display", "version"):
            if key in coding and not isinstance(coding[key], str):
                self.add(item, 0, "error", "structure", f"Coding.{key} must be a JSON string, not "
                         f"{_json_type(coding[key])}", "invalid-data", f"{item.path}.{key}")
                return
        uri, code, display = coding.get("system"), coding.get("code"), coding.get("display")
        if code is not None and "\x00" in code:
            self.add(item, 0, "error", "structure", "Coding.code contains a NUL character", "invalid-data",
                     f"{item.path}.code")
            return
        if not uri:
            if code:
                self.add(item, 0, "warning", "invalid", f"Coding has no system: code '{code}' has no defined "
                         f"meaning and was not checked. A system should be provided", "invalid-data", item.path)
            return
        info = self.system(uri, coding.get("version"))
        if info.row is None:
            self.not_hosted(item, uri)
            return
        self.checked += 1
        if self.ctx.aliases.is_retired(uri):
            self.add_grouped("retired", uri, item, "warning", "business-rule",
                             f"System URI '{uri}' is retired; use '{info.row.url}'", "status-check")
        if info.supplement_of:
            self.add_grouped("supplement", uri, item, "warning", "business-rule",
                             f"System URI '{uri}' names a supplement of '{info.row.url}': a supplement adds "
                             f"designations, it does not define codes; use '{info.row.url}'", "status-check")
        if info.version_error:
            self.add(item, 0, "error", "not-found", info.version_error, "version-error", f"{item.path}.version")
            return
        if not code:
            self.no_code(item, info, display)
            return
        record = info.record(code)
        if record is None:
            self.unknown_code(item, info, code, display)
            return
        if record.abstract:
            self.add(item, 1, "error", "business-rule", f"Code '{record.code}' ('{record.display}') in "
                     f"{info.label} is {_header_kind(info.canonical, record.code)}, not a codeable rubric",
                     "code-rule", item.path)
            return
        if not record.active:
            self.add(item, 1, "warning", "business-rule", f"Code '{record.code}' ('{record.display}') in "
                     f"{info.label} is inactive; its use should be reviewed", "code-comment", item.path)
        if display is not None:
            self.check_display(item, info, record, display)

    def not_hosted(self, item: FoundCoding, uri: str) -> None:
        if uri not in self.near_misses:
            self.near_misses[uri] = _near_miss(uri, self.ctx)
        near = self.near_misses[uri]
        if near is not None:
            self.add_grouped("unknown-system", uri, item, "warning", "not-found",
                             f"Code system '{uri}' is not hosted by this server, so its codes were not checked. "
                             f"Did you mean '{near}'?", "not-found")
        elif uri.startswith(EXTERNAL_PREFIXES):
            self.not_checked[uri] += 1
        else:
            self.add_grouped("unknown-system", uri, item, "warning", "not-found",
                             f"Code system '{uri}' is not hosted by this server and not one this server knows of, "
                             f"so its codes were not checked", "not-found")

    def suggestions(self, canonical: str, code: str | None, display: str | None) -> list[Suggestion]:
        key = (canonical, code, display)
        cached = self.text_cache.get(key)
        if cached is None:
            cached = self.text_cache[key] = hints.suggest_codes(self.ctx.search, canonical, code, display)
        return cached

    def unknown_code(self, item: FoundCoding, info: _System, code: str, display: str | None) -> None:
        table = hints.table_for(self.ctx.search, info.canonical)
        suggestions = self.suggestions(info.canonical, code, display)
        chapter = hints.icpc_chapter(table, code) if info.canonical == ICPC2 else None
        if chapter is not None:
            letter, title = chapter
            text = (f"Code '{code}' is not in code system {info.label}: ICPC-2 has no component 00, so '{code}' "
                    f"stands for chapter {letter} '{title}', a chapter header, not a codeable rubric. Code the "
                    f"condition with a rubric of chapter {letter} ({letter}01-{letter}99)")
        elif info.canonical in (SKS_DIAGNOSES, ICD10) and hints.is_block_range(code):
            text = (f"Code '{code}' is not in code system {info.label}: it names a range of categories, a chapter or "
                    f"block header, not a codeable rubric")
        else:
            text = f"Unknown code '{code}' in code system {info.label}"
        hint = hints.describe(suggestions) or (hints.shape_note(info.canonical, code) or "")
        if hint:
            text += f". {hint}"
        self.unknown[item.number] = self.add(item, 1, "error", "code-invalid", text, "invalid-code", item.path,
                                             suggestions)

    def no_code(self, item: FoundCoding, info: _System, display: str | None) -> None:
        suggestions = self.suggestions(info.canonical, None, display)
        text = (f"Coding for code system {info.label} has no code" + (f" (display '{display}')" if display else "")
                + ": it carries no coded meaning")
        if suggestions:
            text += f". {hints.describe(suggestions)}"
        self.add(item, 1, "warning", "incomplete", text, "invalid-data", item.path, suggestions)

    def check_display(self, item: FoundCoding, info: _System, record: _Record, display: str) -> None:
        if display == record.display:
            return
        others: list[int] = []
        if info.table is not None and record.number is not None:
            own_texts = []
            for concept, text, kind in info.table.with_text(normalize(display)):
                if concept == record.number:
                    own_texts.append(text)
                elif kind in (KIND_DISPLAY, KIND_DESIGNATION) and concept not in others:
                    others.append(concept)
            if display in own_texts:
                return
        self.pending.append(_PendingDisplay(item, info, record, display, others))

    def resolve_displays(self) -> None:
        """Displays the index could not confirm, against every display and designation (supplements included) and,
        for NPU and MCS, the definition (see :func:`_display_texts`): one batch per system."""
        by_system: dict[int, list[_PendingDisplay]] = {}
        for pending in self.pending:
            assert pending.system.row is not None
            by_system.setdefault(pending.system.row.id, []).append(pending)
        for items in by_system.values():
            row = items[0].system.row
            assert row is not None
            texts = _display_texts(self.ctx, row, sorted({p.record.code for p in items}))
            for pending in items:
                self.judge_display(pending, texts.get(pending.record.code))

    def judge_display(self, pending: _PendingDisplay, texts: tuple[str | None, list[str]] | None) -> None:
        item, info, record, display = pending.item, pending.system, pending.record, pending.display
        expected, candidates = texts if texts is not None else (record.display, [])
        expected = record.display if record.number is not None else expected  # the index's: preferred language
        if display in candidates:
            return
        norm = normalize(display)
        where = f"{item.path}.display"
        if norm and any(normalize(c) == norm for c in candidates):
            issue = self.add(item, 2, "warning", "invalid", f"Display '{display}' for code '{record.code}' in "
                             f"{info.label} differs from '{expected}' only in case, spacing or punctuation",
                             "invalid-display", where)
        elif pending.others and info.table is not None:
            other = info.table.index.concepts[pending.others[0]]
            issue = self.add(item, 2, "error", "invalid", f"Display '{display}' for code '{record.code}' in "
                             f"{info.label} is the display of another concept: {other.code} '{other.display}'. "
                             f"'{record.code}' is '{expected}'; correct the code or the display", "invalid-display",
                             where, [Suggestion(info.canonical, other.code, other.display, "display")])
        else:
            issue = self.add(item, 2, "warning", "invalid", f"Display '{display}' for code '{record.code}' in "
                             f"{info.label} is not a display or designation of that code; expected "
                             f"'{expected}'", "invalid-display", where)
        self.display_issues[item.number] = issue

    # -- MedCom --

    def condition_list_rules(self, frames: list[Frame]) -> None:
        first: dict[int, FoundCoding] = {}
        for item in self.found:
            if item.in_code:
                first.setdefault(id(item.frame), item)
        for frame in frames:
            if frame.kind != "Condition" or not frame.condition_list or id(frame) not in first:
                continue
            systems = [c.get("system") for c in _codings_of(frame.resource.get("code"))]
            if any(s in CONDITION_LIST_SLICES.values() for s in systems):
                continue
            sent = ", ".join(f"'{s}'" for s in dict.fromkeys(s if isinstance(s, str) else "(no system)"
                                                                for s in systems))
            aliases = [s for s in systems if isinstance(s, str)
                       and self.ctx.aliases.canonical(s) in CONDITION_LIST_SLICES]
            text = (f"MedCom ConditionList: Condition.code has no coding in the ICPC-2 slice ('{ICPC2_OID}') or the "
                    f"SKS-D slice ('{SKS_DIAGNOSES}'); it has {sent}")
            if aliases:
                text += (f". '{aliases[0]}' names the same code system but does not fill the slice: use "
                         f"'{CONDITION_LIST_SLICES[self.ctx.aliases.canonical(aliases[0])]}'")
            self.add(first[id(frame)], -1, "error", "business-rule", text, "code-rule", f"{frame.path}.code")

    def homecare_rules(self) -> None:
        members: dict[str, ValueSetMembers | None | str] = {}
        skipped: dict[str, list[FoundCoding]] = {}
        full_names: dict[int, dict[str, str]] = {}  # system row id → code → full Danish NPU name
        for item in self.found:
            coding = item.coding
            if not (item.in_code and item.frame.homecare and item.frame.kind == "Observation"
                    and type(coding) is dict and isinstance(coding.get("system"), str)
                    and isinstance(coding.get("code"), str) and "\x00" not in coding["code"]):
                continue
            version = coding.get("version")
            info = self.system(coding["system"], version if isinstance(version, str) else None)
            url = HOMECARE_VALUE_SETS.get(info.canonical)
            if url is None or info.row is None or info.version_error:
                continue
            if url not in members:
                try:
                    members[url] = value_set_members(self.ctx, url)
                except TermserverError as exc:
                    members[url] = exc.message
            vs = members[url]
            code, display = coding["code"], coding.get("display")
            unknown = self.unknown.get(item.number)
            if unknown is not None:
                if isinstance(vs, ValueSetMembers) and vs.lists(info.canonical, code):
                    listed = vs.display(info.canonical, code)
                    unknown.severity, unknown.code = "warning", "not-found"
                    unknown.text = (f"Code '{code}' is not in the loaded release of code system {info.label}, but "
                                    f"value set '{vs.url}' lists it" + (f" ('{listed}')" if listed else "")
                                    + "; the release is incomplete, the code is not wrong")
                elif not isinstance(vs, ValueSetMembers):
                    skipped.setdefault(url, []).append(item)
                continue
            record = info.record(code)
            if record is None or record.abstract:
                continue
            expected: str | None = None
            if isinstance(vs, ValueSetMembers):
                if not vs.contains(info.canonical, code, True):
                    self.add(item, 3, "warning", "code-invalid", f"HomeCareObservation: code '{code}' "
                             f"('{record.display}') is not in the national repertoire value set '{vs.url}'. The "
                             f"binding is preferred, so it is allowed, but receivers may not recognise it",
                             "not-in-vs", item.path)
                    continue
                expected = vs.display(info.canonical, code)
            else:
                skipped.setdefault(url, []).append(item)
            if expected is None:
                if info.row.id not in full_names:
                    full_names[info.row.id] = _full_npu_names(self.ctx, info.row, [
                        f.coding.get("code") for f in self.found if type(f.coding) is dict])
                expected = full_names[info.row.id].get(code)
            if display is None or expected is None:
                continue
            generic = self.display_issues.pop(item.number, None)
            if generic is not None:
                self.issues = [i for i in self.issues if i is not generic]
            if display != expected:
                self.add(item, 2, "warning", "invalid", f"HomeCareObservation: the display of '{code}' should be "
                         f"the full Danish NPU name '{expected}', not '{display}'", "invalid-display",
                         f"{item.path}.display")
        for url, items in skipped.items():
            reason = members[url]
            why = f"could not be evaluated ({reason})" if isinstance(reason, str) else "is not loaded on this server"
            issue = self.add(items[0], 3, "information", "informational",
                             f"Value set '{url}' {why}: {len(items)} HomeCareObservation code(s) were not checked "
                             f"against the national repertoire", "process-note", items[0].path)
            issue.expression = [i.path for i in items]

    def result(self) -> CheckResult:
        issues = sorted(self.issues, key=lambda i: i.order)
        if not any(i.severity in ("error", "warning", "fatal") for i in issues):
            issues.append(CodingIssue("information", "informational", self._summary(), "process-note"))
        return CheckResult(issues, len(self.found), self.checked, dict(self.not_checked))

    def _summary(self) -> str:
        if not self.found:
            return "No codings found: nothing to check"
        text = f"All {self.checked} codings checked, no problems"
        if self.not_checked:
            total = sum(self.not_checked.values())
            systems = ", ".join(f"{uri} ({count})" for uri, count in sorted(self.not_checked.items()))
            text += (f"; {total} coding{'s' if total != 1 else ''} of code systems this server does not host "
                     f"were not checked: {systems}")
        return text


def parse_resource(raw: str, what: str) -> dict[str, Any]:
    """The resource in the JSON text ``raw``, or in the ``resource`` parameter of a Parameters; ``what`` names
    the text in messages ("The request body").

    :raises InvalidRequest: on empty or malformed JSON, or JSON that is not a resource.
    """
    if not raw.strip():
        raise InvalidRequest(f"{what} is empty: send the FHIR resource to check (or a Parameters with a "
                             f"'resource' parameter)")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"Malformed JSON in {what[0].lower()}{what[1:]}: {exc.msg} at line {exc.lineno} "
                             f"column {exc.colno}") from exc
    except RecursionError:
        raise InvalidRequest(f"{what} nests too deeply to be a FHIR resource") from None
    if not isinstance(body, dict):
        raise InvalidRequest(f"{what} must be a JSON object: the FHIR resource to check, or a Parameters "
                             f"with a 'resource' parameter")
    kind = body.get("resourceType")
    if not isinstance(kind, str) or not kind:
        raise InvalidRequest(f"{what} has no resourceType, so it is not a FHIR resource: send the resource "
                             f"to check, or a Parameters (Parameters.resourceType 'Parameters') with a 'resource' "
                             f"parameter")
    if kind != "Parameters":
        return body
    resource = OperationParams.from_parameters(body).resource("resource")
    if resource is None:
        raise InvalidRequest("$validate-codes: the Parameters has no 'resource' parameter holding the resource to "
                             "check")
    return resource


def check_resource(ctx: Context, resource: dict[str, Any]) -> CheckResult:
    """Check every Coding of ``resource`` (any resource or Bundle) and apply the MedCom rules.

    :raises InvalidRequest: when the resource nests deeper than any FHIR resource does.
    """
    found, frames = find_codings(resource)
    checker = _Checker(ctx, found)
    checker.run()
    checker.condition_list_rules(frames)
    checker.homecare_rules()
    return checker.result()


# --- helpers ----------------------------------------------------------------------------------------------------

def _display_texts(ctx: Context, row: CodeSystemVersion,
                   codes: list[str]) -> dict[str, tuple[str | None, list[str]]]:
    """code → (preferred display, every text accepted as its display) for ``codes`` of ``row``: the display and
    every designation, and for NPU and MCS also the definition, where eHealth keeps the full NPU name of the codes
    whose display it made the short name (MCS…, DNK05472); MedCom's own CodeSystems use that full name as display."""
    concepts: list[Any] = []
    for start in range(0, len(codes), 900):
        concepts += list(ctx.session_of(row).execute(select(Concept.id, Concept.code, Concept.display, Concept.definition)
                                             .where(Concept.code_system_id == row.id,
                                                    Concept.code.in_(codes[start:start + 900]))))
    own = catalog.own_designations(ctx, row, [c.id for c in concepts])
    supplements = catalog.supplement_designations(ctx, row, codes)
    result: dict[str, tuple[str | None, list[str]]] = {}
    for concept in concepts:
        designations = own.get(concept.id, []) + supplements.get(concept.code, [])
        texts = [t for t in [concept.display] + [d.value for d in designations] if t]
        if row.url in (MCS, NPU) and concept.definition:
            texts.append(concept.definition)
        result[concept.code] = (catalog.preferred_display(row, concept.display, designations, None), texts)
    return result


def _full_npu_names(ctx: Context, row: CodeSystemVersion, codes: list[Any]) -> dict[str, str]:
    """code → the full Danish NPU name (``P—C-reaktivt protein; massek. = ? mg/L``) of ``codes`` of an NPU or MCS
    version, where the store has one: the definition when it has the NPU form (eHealth keeps the short name as
    display and the full name as definition for MCS and DNK codes), else the display when it has that form; for NPU
    only concepts with Danish designations (the Norwegian NLK list has English definitions)."""
    wanted = sorted({c for c in codes if isinstance(c, str) and "\x00" not in c})
    concepts: list[Any] = []
    for start in range(0, len(wanted), 900):
        concepts += list(ctx.session_of(row).execute(select(Concept.id, Concept.code, Concept.display, Concept.definition)
                                             .where(Concept.code_system_id == row.id,
                                                    Concept.code.in_(wanted[start:start + 900]))))
    danish = {concept_id for concept_id, designations in catalog.own_designations(ctx, row, [c.id for c in concepts]).items()
              if any(catalog.language_matches("da", d.language) for d in designations)}
    names: dict[str, str] = {}
    for concept in concepts:
        if row.url == NPU and concept.id not in danish:
            continue
        for text in (concept.definition, concept.display):
            if text and "—" in text:
                names[concept.code] = text
                break
    return names


def _header_kind(system: str, code: str) -> str:
    if system == ICPC2:
        return "a chapter header"
    if system == SKS_DIAGNOSES and code == "D":
        return "the root of the classification (a chapter header)"
    return "a chapter or block header"


def _near_miss(uri: str, ctx: Context) -> str | None:
    """The hosted system URI ``uri`` was probably meant to be: a known slip (:data:`NEAR_MISSES`), the same URI but
    for case, spaces, a trailing slash or https, or — for URLs, not OIDs, whose neighbours are real systems
    (``urn:oid:1.2.208.176.2.21`` is FSIII) — one typo away."""
    stripped = uri.strip().rstrip("/")
    if stripped in NEAR_MISSES:
        return NEAR_MISSES[stripped]
    hosted = set(ctx.search.systems) if ctx.search is not None else set()
    candidates = sorted(hosted | {c for _, c in ctx.aliases.items()}
                        | {a for a, _ in ctx.aliases.items() if not ctx.aliases.is_retired(a)})
    for candidate in candidates:
        if stripped.casefold() == candidate.casefold() or stripped.replace("https:", "http:", 1) == candidate:
            return candidate
    if stripped.startswith(("http:", "https:")):
        for candidate in candidates:
            if candidate.startswith("http") and Levenshtein.distance(stripped, candidate, score_cutoff=1) <= 1:
                return candidate
    return None


def _json_type(value: Any) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
