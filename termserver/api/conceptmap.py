"""ConceptMap: ``$translate``, read and search."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from termserver.api import full_resource, operation_context
from termserver.app import context, fhir_response
from termserver.errors import InvalidRequest
from termserver.fhir import render
from termserver.services import catalog, conceptmaps, resources

bp = Blueprint("conceptmap", __name__, url_prefix="/fhir/ConceptMap")
METHODS = ["GET", "POST"]


@bp.route("/$translate", methods=METHODS)
@bp.route("/<resource_id>/$translate", methods=METHODS)
def translate(resource_id: str | None = None) -> Any:
    ctx, params = operation_context()
    url = params.str("url")
    if resource_id:
        row = resources.find_by_id(ctx, "ConceptMap", resource_id)
        url = catalog.canonical(row.url, row.version)
    # R5 names (sourceCode, sourceCoding, ...) as tx.fhir.org accepts them; R4's first
    coding = params.coding("coding") or params.coding("sourceCoding")
    concept = params.codeable_concept("codeableConcept") or params.codeable_concept("sourceCodeableConcept")
    if concept is not None:
        codings = concept.get("coding") or []
        if not codings or not isinstance(codings[0], dict):
            raise InvalidRequest("$translate: codeableConcept has no coding")
        first = codings[0]
        system, code, version = first.get("system"), first.get("code"), first.get("version")
    elif coding is not None:
        system, code, version = coding.system, coding.code, coding.version
    else:
        system = params.str("system") or params.str("sourceSystem")
        code = params.str("code") or params.str("sourceCode")
        version = params.str("version") or params.str("sourceVersion")
    reverse = params.bool("reverse")
    if not code and (params.has("targetCode") or params.has("targetCoding")):
        target_coding = params.coding("targetCoding")
        system = target_coding.system if target_coding else params.str("targetSystem")
        code = target_coding.code if target_coding else params.str("targetCode")
        reverse = True
    if not system or not code:
        raise InvalidRequest("$translate needs 'system' and 'code', or 'coding', or 'codeableConcept'")
    result = conceptmaps.translate_code(ctx, conceptmaps.TranslateRequest(
        system=system, code=code, version=version, url=url, map_version=params.str("conceptMapVersion"),
        source_scope=params.str("source"), target_scope=params.str("target"),
        target_system=params.str("targetsystem") or (params.str("targetSystem") if not reverse else None)
        or (params.str("sourceSystem") if reverse else None), reverse=reverse))
    return fhir_response(render.translate_parameters(result))


@bp.get("")
def search() -> Any:
    ctx = context()
    rows = resources.search(ctx, "ConceptMap", request.args.get("url"), request.args.get("version"),
                            request.args.get("name"), request.args.get("title"))
    return fhir_response(resources.bundle((resources.concept_map_json(ctx, r, full=False) for r in rows),
                                          request.url_root.rstrip("/") + "/fhir"))


@bp.get("/<resource_id>")
def read(resource_id: str) -> Any:
    ctx = context()
    return fhir_response(resources.concept_map_json(ctx, resources.find_by_id(ctx, "ConceptMap", resource_id),
                                                    full_resource()))
