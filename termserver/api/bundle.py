"""``POST /fhir``: batch Bundles of terminology operations, and ``$batch-validate-code`` (issue #4: validators over
HTTP).

Every request inside a batch runs through the app's own routing, in-process: a fresh request context and
``full_dispatch_request``, so it gets exactly the handler, guards and error handler a single call gets. The request
context shares the batch's application context, so all of them use the batch's one database session.
"""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, g, request
from werkzeug.test import EnvironBuilder

from termserver.api import json_body, operation_params, with_request_resources
from termserver.app import FHIR_JSON, context, fhir_response
from termserver.services.catalog import Context
from termserver.errors import InvalidRequest, TermserverError, UnsupportedRequest
from termserver.fhir.params import OperationParams
from termserver.services import batch

bp = Blueprint("bundle", __name__, url_prefix="/fhir")
FORWARDED_HEADERS = ("Accept-Language",)


@bp.post("")
def batch_bundle() -> Any:
    bundle = _bundle_body()
    base = batch.ServerBase(request.host, request.script_root + "/fhir")
    planned = batch.plan_bundle(bundle, base)
    return fhir_response(batch.batch_response(batch.run(planned, dispatch_in_process, error_response)))


# here rather than in codesystem.py so both $batch-validate-code routes sit beside the one function they share
@bp.route("/CodeSystem/$batch-validate-code", methods=["GET", "POST"])
def code_system_batch_validate_code() -> Any:
    return batch_validate_code("CodeSystem")


def batch_validate_code(resource_type: str) -> Any:
    """``<resource_type>/$batch-validate-code``: one ``$validate-code`` per ``validation`` parameter."""
    if request.method == "POST" and (request.mimetype or "").lower().endswith("json") \
            and request.get_data(cache=True).strip():
        batch.accept_boolean_strings(json_body())  # the parsed body is cached: operation_params reads this one
    params = operation_params()  # the checks of the Parameters envelope every operation makes
    if params.from_query:
        params.resource("validation")  # a resource in a URL: the usual 400 naming it
        raise InvalidRequest("$batch-validate-code needs 'validation' parameters, each a Parameters resource: "
                             "POST a Parameters (application/fhir+json)")
    parameters = list(json_body().get("parameter", []))
    given = {p["name"] for p in parameters}
    parameters += [{"name": name, "valueString": value} for name, values in request.args.lists()
                   if name not in given for value in values]
    planned = batch.plan_batch_validation(parameters, resource_type)
    ctx = context()  # the one context of this request: every validation of the batch shares it

    def dispatch(sub: batch.SubRequest) -> batch.SubResponse:
        return dispatch_in_process(sub, ctx)

    return fhir_response(batch.batch_validation_parameters(batch.run(planned, dispatch, error_response)))


def dispatch_in_process(sub: batch.SubRequest, ctx: Context | None = None) -> batch.SubResponse:
    """Answer one operation call through the app's routing, as if it had come over HTTP to this server.

    A POSTed ``$validate-code`` (what ``$batch-validate-code`` is made of) skips the routing and the JSON round trip:
    it calls the function the route's handler calls, with the same parameter checks and the same error handler.
    """
    direct = _direct_handler(sub)
    if direct is not None:
        try:
            params = OperationParams.from_parameters(sub.body)
            return batch.SubResponse(200, direct(with_request_resources(ctx or context(), params), params))
        except TermserverError as exc:
            return error_response(exc)
    headers = {name: request.headers[name] for name in FORWARDED_HEADERS if name in request.headers}
    has_body = sub.body is not None
    builder = EnvironBuilder(path=sub.path, method=sub.method, query_string=sub.query or None,
                             base_url=request.url_root, headers=headers,
                             data=json.dumps(sub.body, ensure_ascii=False) if has_body else None,
                             content_type=FHIR_JSON if has_body else None)
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    with current_app.request_context(environ):
        response = current_app.full_dispatch_request()
    if response.status_code >= 500 and "session" in g:
        g.session.rollback()  # a failed call must not leave the shared session unusable for the next one
    return batch.SubResponse(response.status_code, json.loads(response.get_data()))


def _direct_handler(sub: batch.SubRequest) -> Any:
    if sub.method != "POST" or sub.query or sub.body is None:
        return None
    if not _DIRECT:
        from termserver.api import codesystem, valueset  # they import this module

        _DIRECT.update({"/fhir/ValueSet/$validate-code": valueset.validate_code_parameters,
                        "/fhir/CodeSystem/$validate-code": codesystem.validate_code_parameters})
    for suffix, handler in _DIRECT.items():
        if sub.path.endswith(suffix):
            return handler
    return None


_DIRECT: dict[str, Any] = {}  # path suffix → the function its route's handler calls (filled on first use)


def error_response(exc: TermserverError) -> batch.SubResponse:
    """An error as the app's one error handler renders it."""
    response = current_app.handle_user_exception(exc)
    return batch.SubResponse(response.status_code, json.loads(response.get_data()))


def _bundle_body() -> Any:
    """:raises UnsupportedRequest: for a body that is not JSON; :raises InvalidRequest: for an empty or
    malformed one."""
    content_type = (request.mimetype or "").lower()
    if content_type and not content_type.endswith("json"):
        raise UnsupportedRequest(f"Content-Type '{content_type}' is not supported; send the Bundle as "
                                 f"application/fhir+json")
    if not request.get_data(cache=True).strip():
        raise InvalidRequest("POST /fhir needs a body: a FHIR Bundle of type 'batch' whose entries call "
                             "terminology operations")
    return json_body()
