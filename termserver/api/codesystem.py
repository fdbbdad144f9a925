"""CodeSystem: ``$lookup``, ``$validate-code``, ``$subsumes``, read and search."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, has_request_context, request

from termserver.api import full_resource, operation_context
from termserver.app import context, fhir_response
from termserver.errors import InvalidRequest
from termserver.fhir import render
from termserver.fhir.params import OperationParams
from termserver.services import codesystems, resources, validation
from termserver.services.catalog import Context
from termserver.services.results import Coding

bp = Blueprint("codesystem", __name__, url_prefix="/fhir/CodeSystem")
METHODS = ["GET", "POST"]


def _instance_url(ctx: Context, resource_id: str | None) -> str | None:
    return resources.find_by_id(ctx, "CodeSystem", resource_id).url if resource_id else None


def _system_and_code(params: OperationParams, instance_url: str | None, what: str) -> Coding:
    coding = params.coding("coding")
    code, system = params.str("code"), params.str("system") or instance_url
    if coding is not None and code is not None:
        raise InvalidRequest(f"{what}: give either 'code' (with 'system') or 'coding', not both")
    if coding is not None:
        if instance_url and coding.system and coding.system != instance_url:
            raise InvalidRequest(f"{what}: coding.system '{coding.system}' is not this CodeSystem '{instance_url}'")
        coding.system = coding.system or system
        coding.version = coding.version or params.str("version")
        return coding
    if not code:
        raise InvalidRequest(f"{what}: parameter 'code' (with 'system') or 'coding' is required")
    if not system:
        raise InvalidRequest(f"{what}: parameter 'system' is required with 'code'")
    return Coding(system, code, params.str("display"), params.str("version"))


@bp.route("/$lookup", methods=METHODS)
@bp.route("/<resource_id>/$lookup", methods=METHODS)
def lookup(resource_id: str | None = None) -> Any:
    ctx, params = operation_context()
    coding = _system_and_code(params, _instance_url(ctx, resource_id), "$lookup")
    properties = tuple(p for value in params.all("property") for p in str(value).split(","))
    result = codesystems.lookup_code(ctx, codesystems.LookupRequest(
        coding.system or "", coding.code or "", coding.version,
        params.str("displayLanguage") or request.headers.get("Accept-Language"), properties))
    return fhir_response(render.lookup_parameters(result))


@bp.route("/$validate-code", methods=METHODS)
@bp.route("/<resource_id>/$validate-code", methods=METHODS)
def validate_code(resource_id: str | None = None) -> Any:
    return fhir_response(validate_code_parameters(*operation_context(), resource_id))


def validate_code_parameters(ctx: Context, params: OperationParams, resource_id: str | None = None) -> Any:
    """The ``Parameters`` answer of ``CodeSystem/$validate-code`` (shared with ``$batch-validate-code``)."""
    instance_url = _instance_url(ctx, resource_id)
    coded = coded_value(params, code_system=True, default_system=instance_url)
    result = validation.validate_in_code_system(ctx, coded, validation_options(ctx, params),
                                                url=instance_url or params.str("url"),
                                                version=params.str("version") if not params.has("coding") else None)
    return render.validation_parameters(result)


def coded_value(params: OperationParams, *, code_system: bool, default_system: str | None = None
                ) -> validation.Coded:
    """The code to validate: ``codeableConcept``, else ``coding``, else ``code`` (with ``system``/``url``).

    :raises InvalidRequest: when none is given.
    """
    concept = params.codeable_concept("codeableConcept")
    if concept is not None:
        for item in concept.get("coding") or []:
            _coding(item, None)  # checks the element types
        return validation.coded_concept(concept)
    coding = params.coding("coding")  # None also for a 'coding' parameter without a value: then as if not sent
    if coding is not None:
        value = {k: v for k, v in (("system", coding.system or default_system), ("version", coding.version),
                                   ("code", coding.code), ("display", coding.display)) if v}
        return validation.coded_coding(value)
    code = params.str("code")
    if not code:
        # tx.fhir.org's text (validate.js), verbatim, unbalanced parenthesis and all: validators show it as is
        raise InvalidRequest("Unable to find code to validate (looked for coding | codeableConcept | code+system | "
                             "code+inferSystem in parameters")
    if code_system:
        system = params.str("url") or params.str("system") or default_system
        version = params.str("version")
    else:
        system, version = params.str("system"), params.str("systemVersion")
    return validation.coded_from(code, system, version, params.str("display"))


# the parameters validation_options reads (any other leaves every option at its default)
_OPTION_NAMES = frozenset({"system-version", "force-system-version", "check-system-version", "abstract",
                           "displayLanguage", "lenient-display-validation", "valueset-membership-only", "activeOnly",
                           "inferSystem", "useSupplement", "default-valueset-version"})


def validation_options(ctx: Context, params: OperationParams) -> validation.ValidationOptions:
    """The parameters that change how ``$validate-code`` answers (and the Accept-Language header).

    :raises InvalidRequest: for a version rule that is not ``system|version``, or a ``displayLanguage`` that is
        not a list of language tags.
    """
    http_language = request.headers.get("Accept-Language") if has_request_context() else None
    names = params.names()
    if names.isdisjoint(_OPTION_NAMES):  # most calls: code, system, display, url and nothing that changes the rules
        return validation.ValidationOptions(http_language=http_language, explicit=names)
    rules = []
    for name, mode in (("system-version", "default"), ("force-system-version", "override"),
                       ("check-system-version", "check")):
        for value in params.all(name):
            system, sep, version = str(value).rpartition("|")
            if not sep or not system or not version:
                raise InvalidRequest(f"Parameter '{name}' must look like 'system|version', not '{value}'")
            rules.append(validation.VersionRule(ctx.aliases.canonical(system), version, mode))
    abstract = params.one("abstract")
    display_language = params.str("displayLanguage")
    if display_language is not None:
        validation.check_display_language(display_language)
    return validation.ValidationOptions(
        display_language=display_language,
        http_language=http_language,
        display_warning=params.bool("lenient-display-validation"),
        membership_only=params.bool("valueset-membership-only"),
        abstract_ok=str(abstract).lower() != "false" if abstract is not None else True,
        active_only=params.bool("activeOnly"),
        infer_system=params.bool("inferSystem"),
        version_rules=rules,
        supplements=[str(v) for v in params.all("useSupplement")], explicit=params.names(),
        value_set_versions={url: version for url, _, version in (
            str(value).rpartition("|") for value in params.all("default-valueset-version")) if url and version})


def _coding(value: Any, default_system: str | None) -> Coding:
    from termserver.fhir.params import coding_from_json

    if not isinstance(value, dict):
        raise InvalidRequest("codeableConcept.coding entries must be Codings")
    coding = coding_from_json(value, "codeableConcept.coding")
    coding.system = coding.system or default_system
    return coding


@bp.route("/$subsumes", methods=METHODS)
@bp.route("/<resource_id>/$subsumes", methods=METHODS)
def subsumes(resource_id: str | None = None) -> Any:
    ctx, params = operation_context()
    system = params.str("system") or _instance_url(ctx, resource_id)
    coding_a, coding_b = params.coding("codingA"), params.coding("codingB")
    code_a = coding_a.code if coding_a else params.str("codeA")
    code_b = coding_b.code if coding_b else params.str("codeB")
    if coding_a or coding_b:
        codesystems.check_same_system(coding_a.system if coding_a else None,
                                      coding_b.system if coding_b else None, ctx)
        system = system or (coding_a.system if coding_a else None) or (coding_b.system if coding_b else None)
    if not code_a or not code_b:
        raise InvalidRequest("$subsumes needs codeA and codeB (or codingA and codingB)")
    if not system:
        raise InvalidRequest("$subsumes needs 'system' (or codings with a system)")
    result = codesystems.subsumes(ctx, system, code_a, code_b, params.str("version"))
    return fhir_response(render.subsumes_parameters(result))


@bp.get("")
def search() -> Any:
    ctx = context()
    rows = resources.search(ctx, "CodeSystem", request.args.get("url"), request.args.get("version"),
                            request.args.get("name"), request.args.get("title"))
    return fhir_response(resources.bundle((resources.code_system_json(ctx, r, full=False) for r in rows),
                                          request.url_root.rstrip("/") + "/fhir"))


@bp.get("/<resource_id>")
def read(resource_id: str) -> Any:
    ctx = context()
    row = resources.find_by_id(ctx, "CodeSystem", resource_id)
    return fhir_response(resources.code_system_json(ctx, row, full_resource()))
