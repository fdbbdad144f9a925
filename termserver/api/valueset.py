"""ValueSet: ``$expand``, ``$validate-code``, ``$batch-validate-code``, read and search."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from termserver.api import bundle, operation_context
from termserver.api.codesystem import coded_value, validation_options
from termserver.app import context, fhir_response
from termserver.errors import InvalidRequest
from termserver.fhir import render
from termserver.fhir.params import OperationParams
from termserver.services import resources, validation, valuesets
from termserver.services.catalog import Context

bp = Blueprint("valueset", __name__, url_prefix="/fhir/ValueSet")
METHODS = ["GET", "POST"]


def _value_set(ctx: Context, params: OperationParams, resource_id: str | None) -> valuesets.ResolvedValueSet:
    url, resource = params.str("url"), params.resource("valueSet")
    if resource_id:
        row = resources.find_by_id(ctx, "ValueSet", resource_id)
        url = row.url
        return valuesets.resolve_value_set(ctx, url, row.version)
    if url and resource:
        raise InvalidRequest("Give either 'url' or 'valueSet', not both")
    return valuesets.resolve_value_set(ctx, url, params.str("valueSetVersion"), resource)


# the expansion repeats these request parameters (as tx.fhir.org does), with these FHIR types
ECHOED: dict[str, str] = {
    "filter": "String", "count": "Integer", "offset": "Integer", "activeOnly": "Boolean",
    "includeDesignations": "Boolean", "includeDefinition": "Boolean", "excludeNested": "Boolean",
    "excludeNotForUI": "Boolean", "excludePostCoordinated": "Boolean", "designation": "String",
    "displayLanguage": "Code", "default-valueset-version": "Uri",
}  # system-version, check-system-version and force-system-version are repeated where they chose a version


def _system_versions(ctx: Context, params: OperationParams, name: str) -> dict[str, str]:
    """``system|version`` values of ``name`` by canonical system URL.

    :raises InvalidRequest: for a value without ``|version``.
    """
    pins: dict[str, str] = {}
    for value in params.all(name):
        system, sep, version = str(value).rpartition("|")
        if not sep or not system or not version:
            raise InvalidRequest(f"Parameter '{name}' must look like 'system|version', not '{value}'")
        pins[ctx.aliases.canonical(system)] = version
    return pins


def _echo(params: OperationParams, display_language: str | None) -> list[tuple[str, str, Any]]:
    echo = []
    for name, kind in ECHOED.items():
        values = [_language_list(display_language)] if name == "displayLanguage" and display_language \
            else params.all(name) if name != "displayLanguage" else []
        for value in values:
            if kind == "Boolean":
                value = params.bool(name)
            elif kind == "Integer":
                value = params.int(name)
            echo.append((name, kind, value))
    return echo


def _language_list(value: str) -> str:
    """A displayLanguage / Accept-Language value as tx.fhir.org repeats it: unchanged, unless it weighs languages
    (``de,*; q=0`` → ``de, *; q=0``)."""
    if ";" not in value:
        return value
    items = []
    for item in value.split(","):
        tag, _, weight = item.strip().partition(";")
        items.append(f"{tag.strip()}; {weight.strip().replace(' ', '')}" if weight else tag.strip())
    return ", ".join(items)


@bp.route("/$expand", methods=METHODS)
@bp.route("/<resource_id>/$expand", methods=METHODS)
def expand(resource_id: str | None = None) -> Any:
    ctx, params = operation_context()
    vs = _value_set(ctx, params, resource_id)
    display_language = params.str("displayLanguage") or request.headers.get("Accept-Language")
    expansion_request = valuesets.ExpandRequest(
        filter=params.str("filter"), count=params.int("count"), offset=params.int("offset") or 0,
        active_only=params.bool("activeOnly"), include_designations=params.bool("includeDesignations"),
        include_definition=params.bool("includeDefinition"), display_language=display_language,
        exclude_not_selectable=params.bool("excludeNotForUI") or params.bool("excludeNotSelectable"),
        exclude_nested=params.bool("excludeNested"), versions_match=params.bool("versionsMatch"),
        default_versions=_system_versions(ctx, params, "system-version"),
        force_versions=_system_versions(ctx, params, "force-system-version"),
        check_versions=_system_versions(ctx, params, "check-system-version"),
        echo=_echo(params, display_language),
        properties=tuple(p for value in params.all("property") for p in str(value).split(",") if p),
        designations=tuple(str(value) for value in params.all("designation")), offset_given=params.has("offset"),
        default_value_set_versions={url: version for url, _, version in (
            str(value).rpartition("|") for value in params.all("default-valueset-version")) if url and version})
    return fhir_response(render.expansion_value_set(valuesets.expand_value_set(ctx, vs, expansion_request)))


@bp.route("/$validate-code", methods=METHODS)
@bp.route("/<resource_id>/$validate-code", methods=METHODS)
def validate_code(resource_id: str | None = None) -> Any:
    return fhir_response(validate_code_parameters(*operation_context(), resource_id))


def validate_code_parameters(ctx: Context, params: OperationParams, resource_id: str | None = None) -> Any:
    """The ``Parameters`` answer of ``ValueSet/$validate-code`` (shared with ``$batch-validate-code``)."""
    options = validation_options(ctx, params)
    # the value set first, as tx.fhir.org: an unknown one (or instance id) is the answer whatever the code
    vs = _value_set_to_validate(ctx, params, resource_id)
    coded = coded_value(params, code_system=False)
    if coded.mode == "code" and not (coded.concept["coding"][0].get("system") or options.infer_system
                                     or valuesets.is_implicit_url(vs.get("url"))):
        raise InvalidRequest("$validate-code: parameter 'system' is required with 'code' on a value set "
                             "(or inferSystem=true)")
    options.infer_system = options.infer_system and coded.mode == "code"
    if coded.mode == "code" and valuesets.is_implicit_url(vs.get("url")):
        options.infer_system = True
    return render.validation_parameters(validation.validate_in_value_set(ctx, vs, coded, options))


def _value_set_to_validate(ctx: Context, params: OperationParams, resource_id: str | None) -> dict[str, Any]:
    """``valuesets.value_set_to_validate``; the implicit value set of a system in the snapshot (``<system>?fhir_vs``,
    no version), which is the same for every request, is made once and kept in the snapshot."""
    url, version, resource = params.str("url"), _valueset_version(ctx, params), params.resource("valueSet")
    snapshot = None
    if url and not resource_id and resource is None and version is None and ctx.search is not None \
            and url.endswith(valuesets.IMPLICIT) and "|" not in url:
        system = url[:-len(valuesets.IMPLICIT)]
        if valuesets.IMPLICIT not in system:
            snapshot = ctx.search.snapshots.get(ctx.aliases.canonical(system))
    if snapshot is None:
        return valuesets.value_set_to_validate(ctx, url, version, resource, resource_id)
    vs = snapshot.value_sets.get(url)
    if vs is None:
        vs = snapshot.value_sets[url] = valuesets.value_set_to_validate(ctx, url, None, None, None)
    return dict(vs)  # the checker only reads it; a copy keeps the kept one safe from a change to its top level


def _valueset_version(ctx: Context, params: OperationParams) -> str | None:
    """``valueSetVersion``, else the ``default-valueset-version`` for the value set asked for."""
    version = params.str("valueSetVersion")
    url = params.str("url")
    if version or not url:
        return version
    for value in params.all("default-valueset-version"):
        system, sep, pinned = str(value).rpartition("|")
        if sep and system == url.partition("|")[0]:
            return pinned
    return None


@bp.route("/$batch-validate-code", methods=METHODS)
def batch_validate_code() -> Any:
    # each validation runs through validate_code above (in-process dispatch), so a batch answers as single calls do
    return bundle.batch_validate_code("ValueSet")


@bp.get("")
def search() -> Any:
    ctx = context()
    rows = resources.search(ctx, "ValueSet", request.args.get("url"), request.args.get("version"),
                            request.args.get("name"), request.args.get("title"))
    return fhir_response(resources.bundle((resources.value_set_json(r) for r in rows),
                                          request.url_root.rstrip("/") + "/fhir"))


@bp.get("/<resource_id>")
def read(resource_id: str) -> Any:
    return fhir_response(resources.value_set_json(resources.find_by_id(context(), "ValueSet", resource_id)))
