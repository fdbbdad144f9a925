"""CodeSystem operations: ``$lookup``, ``$validate-code`` and ``$subsumes``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from termserver.errors import InvalidRequest, NotFound
from termserver.services import catalog
from termserver.services import validation
from termserver.services.catalog import Context
from termserver.services.results import Coding, LookupResult, SubsumesResult, ValidationResult

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

    Answered from the in-memory snapshot when it holds the version asked for (the newest), else from the store;
    both give the same answer.

    :raises UnknownCodeSystem: when the system or version is not loaded.
    :raises NotFound: when the code is not in the system.
    """
    snapshot = catalog.snapshot_of(ctx, request.system, request.version)
    if snapshot is not None:
        found = snapshot.find(request.code)
        if found is None:
            raise NotFound(f"Code '{request.code}' not found in code system "
                           f"{catalog.system_label(snapshot, request.system)}", tx_code="invalid-code")
        row: Any = snapshot
        view = found.view()
        parents, children = list(found.parents), list(found.children)
        names = {code: concept.display for code in parents + children
                 if (concept := snapshot.concepts.get(code)) is not None}
    else:
        row = catalog.resolve_system(ctx, request.system, request.version)
        concept = catalog.require_concept(ctx, row, request.code, request.system)
        view = catalog.concept_view(ctx, row, concept)
        parents = catalog.parents_of(ctx, row, concept.code)
        children = catalog.children_of(ctx, row, concept.code)
        names = catalog.displays_for(ctx, row, parents + children)
    language = catalog.parse_language(request.display_language)
    display = catalog.preferred_display(row, view.display, view.designations, language)
    result = LookupResult(name=row.name or row.title or row.url, version=row.version, display=display,
                          code=view.code, system=request.system, definition=view.definition,
                          abstract=view.not_selectable, inactive=not view.active, designations=view.designations)
    if view.display:
        # the code system's own display is a designation too, in the system's language (as tx.fhir.org lists it)
        result.designations = [catalog.DesignationView(view.display, row.language, catalog.HL7_TERM_MAINT,
                                                       "preferredForLanguage", "Preferred For Language")] \
            + result.designations
    result.used_supplements = list(view.supplements)
    wanted = set(request.properties)

    def want(name: str) -> bool:
        return not wanted or name in wanted or "*" in wanted

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
    """``CodeSystem/$validate-code`` for one coding: system known, code exists, display right (as tx.fhir.org).

    ``path`` is the FHIRPath prefix of issue locations: ``Coding``, or empty for the plain ``code``/``system``/
    ``display`` parameters.
    """
    value = {k: v for k, v in (("system", coding.system), ("version", coding.version), ("code", coding.code),
                               ("display", coding.display)) if v}
    coded = validation.coded_coding(value) if path else validation.Coded({"coding": [value]}, "code")
    options = validation.ValidationOptions(display_language=display_language, display_warning=lenient_display)
    return validation.validate_in_code_system(ctx, coded, options)


def validate_codings(ctx: Context, codings: list[Coding], codeable_concept: dict[str, Any], *,
                     display_language: str | None = None) -> ValidationResult:
    """``CodeSystem/$validate-code`` for a CodeableConcept: valid when one of its codings is."""
    options = validation.ValidationOptions(display_language=display_language)
    return validation.validate_in_code_system(ctx, validation.coded_concept(codeable_concept), options)


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
