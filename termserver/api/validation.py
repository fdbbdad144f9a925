"""Whole-resource code checks: every Coding and CodeableConcept of a FHIR resource or Bundle, with repair hints.

``POST /fhir/$validate-codes`` takes the resource itself as the body (any resource; Bundles of any type, nested
Bundles and contained resources included), or a Parameters whose ``resource`` parameter holds it, and answers one
OperationOutcome (200, also when it reports errors). No FHIR-defined or widely used operation does this: the
core ``Resource/$validate`` is type-level profile validation, and Ontoserver's and tx.fhir.org's
``$batch-validate-code`` take a list of codings, not a resource.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from termserver.api import utf8_body
from termserver.app import context, fhir_response
from termserver.errors import InvalidRequest, UnsupportedRequest
from termserver.fhir import render
from termserver.services import resource_check

bp = Blueprint("validation", __name__, url_prefix="/fhir")


@bp.route("/$validate-codes", methods=["GET", "POST"])
def validate_codes() -> Any:
    if request.method == "GET":
        raise InvalidRequest("$validate-codes checks the resource sent as the body of a POST "
                             "(Content-Type: application/fhir+json); a GET has no resource to check")
    result = resource_check.check_resource(context(), _resource_to_check())
    return fhir_response({"resourceType": "OperationOutcome", "issue": [_issue_json(i) for i in result.issues]})


def _resource_to_check() -> dict[str, Any]:
    """The resource in the request body, or in the ``resource`` parameter of a Parameters body.

    :raises InvalidRequest: on an empty or malformed body, or JSON that is not a resource.
    :raises UnsupportedRequest: on a media type other than JSON.
    """
    content_type = (request.mimetype or "").lower()
    if content_type and not content_type.endswith("json"):
        raise UnsupportedRequest(f"Content-Type '{content_type}' is not supported; send application/fhir+json")
    return resource_check.parse_resource(utf8_body(), "The request body")


def _issue_json(issue: resource_check.CodingIssue) -> dict[str, Any]:
    out = render.issue_json(issue)
    if issue.suggestions:
        suggestions = [{"url": resource_check.CODE_SUGGESTION, "valueCoding": {
            k: v for k, v in (("system", s.system), ("code", s.code), ("display", s.display)) if v}}
            for s in issue.suggestions]
        out = {"extension": out.pop("extension", []) + suggestions, **out}
    return out
