"""CodeSystem operations: ``$lookup``, ``$validate-code`` and ``$subsumes``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from termserver.errors import InvalidRequest, NotFound, UnknownCodeSystem
from termserver.services import catalog
from termserver.services.catalog import Context, system_label
from termserver.services.snapshot import ConceptSnapshot, SystemSnapshot
from termserver.services.results import Coding, Issue, LookupResult, SubsumesResult, ValidationResult
from termserver.text import fold

TX_ISSUE_TYPE = "http://hl7.org/fhir/tools/CodeSystem/tx-issue-type"


@dataclass
class LookupRequest:
    system: str
    code: str
    version: str | None = None
    display_language: str | None = None
    properties: tuple[str, ...] = ()


def lookup_code(ctx: Context, request: LookupRequest) -> LookupResult:
    """Everything known about one code: display, designations, properties, parents and children.

    :raises UnknownCodeSystem: when the system or version is not loaded.
    :raises NotFound: when the code is not in the system.
    """
    row = catalog.resolve_system(ctx, request.system, request.version)
    concept = catalog.require_concept(ctx, row, request.code, request.system)
    view = catalog.concept_view(ctx, row, concept)
    language = catalog.parse_language(request.display_language)
    display = catalog.preferred_display(row, view.display, view.designations, language)
    result = LookupResult(name=row.name or row.title or row.url, version=row.version, display=display,
                          code=concept.code, system=request.system, definition=view.definition,
                          abstract=view.not_selectable, inactive=not view.active, designations=view.designations)
    if display != view.display and view.display:
        # keep the stored display reachable: it is a designation in the system's own language
        result.designations = [catalog.DesignationView(view.display, row.language)] + result.designations
    wanted = set(request.properties)

    def want(name: str) -> bool:
        return not wanted or name in wanted or "*" in wanted

    parents = catalog.parents_of(ctx, row, concept.code)
    children = catalog.children_of(ctx, row, concept.code)
    names = catalog.displays_for(ctx, row, parents + children)
    if want("parent"):
        result.properties += [("parent", ("code", code), names.get(code)) for code in parents]
    if want("child"):
        result.properties += [("child", ("code", code), names.get(code)) for code in children]
    if want("inactive"):
        result.properties.append(("inactive", ("boolean", not view.active), None))
    if view.status and want("status"):
        result.properties.append(("status", ("code", view.status), None))
    if want("notSelectable") and view.not_selectable:
        result.properties.append(("notSelectable", ("boolean", True), None))
    for prop in view.properties:
        if prop.code in ("inactive", "status", "notSelectable") or not want(prop.code):
            continue
        if prop.type == "Coding":
            value = ("Coding", {"system": prop.system, "code": prop.value, "display": prop.display})
        else:
            value = (prop.type, prop.value)
        result.properties.append((prop.code, value, None))
    return result


def validate_coding(ctx: Context, coding: Coding, *, display_language: str | None = None,
                    path: str = "", lenient_display: bool = False) -> ValidationResult:
    """Check one coding against its code system: system known, code exists, display right.

    ``path`` is the FHIRPath prefix for issue locations (``Coding`` or ``CodeableConcept.coding[0]``; empty for the
    plain ``code``/``system``/``display`` parameters).
    """
    where = (lambda leaf: f"{path}.{leaf}" if path else leaf)
    if not coding.system:
        # a warning, as in the HL7 conformance tests: in a value set the error is that the code is not a member
        text = (f"Coding has no system. A code with no system has no defined meaning, and it cannot be validated "
                f"(code '{coding.code}'). A system should be provided")
        return ValidationResult(False, code=coding.code, message=text, issues=[
            Issue("warning", "invalid", text, "invalid-data", [path or "system"],
                  "Coding_has_no_system__cannot_validate")])
    if not coding.code:
        text = f"Coding for system '{coding.system}' has no code"
        return ValidationResult(False, system=coding.system, message=text,
                                issues=[Issue("error", "invalid", text, "invalid-data", [where("code")])])
    snapshot = _snapshot(ctx, coding.system, coding.version)
    try:
        row: Any = snapshot or catalog.resolve_system(ctx, coding.system, coding.version)
    except UnknownCodeSystem as exc:
        if coding.version and catalog.versions_of(ctx, coding.system):
            text = exc.message
            return ValidationResult(False, system=coding.system, code=coding.code, version=coding.version,
                                    message=text, issues=[Issue("error", "not-found", text, "not-found",
                                                                [where("version")], "UNKNOWN_CODESYSTEM_VERSION")])
        text = (f"A definition for CodeSystem '{coding.system}' could not be found, so the code cannot be "
                f"validated")
        return ValidationResult(False, system=coding.system, code=coding.code, message=text,
                                issues=[Issue("error", "not-found", text, "not-found", [where("system")],
                                              "UNKNOWN_CODESYSTEM")])
    issues: list[Issue] = []
    if ctx.aliases.is_retired(coding.system):
        issues.append(Issue("warning", "business-rule",
                            f"System URI '{coding.system}' is retired; use '{row.url}'", "status-check",
                            [where("system")]))
    view = _concept_facts(ctx, row, snapshot, coding.code)
    if view is None:
        text = f"Unknown code '{coding.code}' in the CodeSystem {system_label(row, coding.system)}"
        near = snapshot.find_folded(coding.code) if snapshot is not None else getattr(
            catalog.find_concept_folded(ctx, row, coding.code), "code", None)
        if near is not None:
            text += f"; did you mean '{near}' (codes are case sensitive)?"
        issues.append(Issue("error", "code-invalid", text, "invalid-code", [where("code")], "Unknown_Code_in_Version"))
        return ValidationResult(False, system=coding.system, code=coding.code, version=row.version, message=text,
                                issues=issues)
    language = catalog.parse_language(display_language)
    if language is None and isinstance(view, ConceptSnapshot):
        display = view.shown  # worked out once, when the snapshot was built
    else:
        display = catalog.preferred_display(row, view.display, view.designations, language)
    result = ValidationResult(True, system=coding.system, code=view.code, version=row.version, display=display,
                              issues=issues)
    if not view.active:
        result.inactive = True
        result.status = view.status or "inactive"
        issues.append(Issue("warning", "business-rule",
                            f"The concept '{view.code}' has a status of {result.status} and its use should be "
                            f"reviewed", "code-comment", [where("code")], "INACTIVE_CONCEPT_FOUND"))
    if coding.display is not None:
        candidates = [d for d in [view.display] + [x.value for x in view.designations] if d]
        if coding.display not in candidates:
            loose = fold(coding.display) in {fold(c) for c in candidates}
            shown = "', '".join(dict.fromkeys(c for c in [display, view.display] if c))
            text = (f"Wrong display '{coding.display}' for code '{view.code}' in "
                    f"{system_label(row, coding.system)}: should be '{shown}'")
            severity = "warning" if (loose and lenient_display) else "error"
            issues.append(Issue(severity, "invalid", text, "invalid-display", [where("display")],
                                "Display_Name_for__should_be_one_of__instead_of"))
            if severity == "error":
                result.result = False
            result.message = text
    if result.message is None and issues:
        result.message = "; ".join(i.text for i in issues)
    return result


def _snapshot(ctx: Context, system: str, version: str | None) -> SystemSnapshot | None:
    """The in-memory snapshot of ``system`` when it answers for this version (the newest, or the pinned one)."""
    if ctx.search is None:
        return None
    snapshot = ctx.search.snapshots.get(ctx.aliases.canonical(system))
    if snapshot is None or (version and version != snapshot.version):
        return None
    return snapshot


def _concept_facts(ctx: Context, row: Any, snapshot: SystemSnapshot | None,
                   code: str) -> ConceptSnapshot | catalog.ConceptView | None:
    """Code, display, designations, active and status of ``code``: from the snapshot, else from the store."""
    if snapshot is not None:
        return snapshot.find(code)
    concept = catalog.find_concept(ctx, row, code)
    return catalog.concept_view(ctx, row, concept) if concept is not None else None


def validate_codings(ctx: Context, codings: list[Coding], codeable_concept: dict[str, Any], *,
                     display_language: str | None = None) -> ValidationResult:
    """Check a CodeableConcept's codings against their code systems: valid when one of them is.

    The answer is the first valid coding's; when none is valid, it carries every coding's issues and a message
    naming each problem.
    """
    results = [validate_coding(ctx, coding, display_language=display_language, path=f"CodeableConcept.coding[{i}]")
               for i, coding in enumerate(codings)]
    result = next((r for r in results if r.result), results[0])
    result.codeable_concept = codeable_concept
    if not result.result:
        result.issues = [issue for r in results for issue in r.issues]
        result.message = "; ".join(dict.fromkeys(i.text for i in result.issues
                                                 if i.severity in ("error", "warning"))) or None
    return result


def subsumes(ctx: Context, system: str, code_a: str, code_b: str, version: str | None = None) -> SubsumesResult:
    """Whether ``code_a`` subsumes ``code_b`` in the system's is-a hierarchy.

    :raises UnknownCodeSystem: when the system is not loaded.
    :raises NotFound: when either code is unknown.
    """
    row = catalog.resolve_system(ctx, system, version)
    a = catalog.require_concept(ctx, row, code_a, system).code
    b = catalog.require_concept(ctx, row, code_b, system).code
    if a == b:
        return SubsumesResult("equivalent")
    if a in catalog.ancestors(ctx, row, b):
        return SubsumesResult("subsumes")
    if b in catalog.ancestors(ctx, row, a):
        return SubsumesResult("subsumed-by")
    return SubsumesResult("not-subsumed")


def check_same_system(system_a: str | None, system_b: str | None, ctx: Context) -> None:
    """$subsumes with two codings needs them in one system.

    :raises InvalidRequest: when the systems differ.
    """
    if system_a and system_b and ctx.aliases.canonical(system_a) != ctx.aliases.canonical(system_b):
        raise InvalidRequest(f"codingA and codingB are in different systems ('{system_a}', '{system_b}')")


__all__ = ["LookupRequest", "lookup_code", "validate_coding", "validate_codings", "subsumes", "check_same_system",
           "NotFound"]
