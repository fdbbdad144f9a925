"""Many terminology requests in one: a FHIR ``batch`` Bundle of operations (``POST /fhir``), and
``$batch-validate-code`` as the HL7 Java validator and tx.fhir.org speak it.

Both are planned here and answered by running every request through the server's own operations: the caller passes
a ``dispatch`` function that answers one :class:`SubRequest` (the API layer sends it through the app's routing, so
every handler, guard and error handler is the one a single call uses). Nothing here knows about Flask.

``$batch-validate-code`` (tx.fhir.org ``TFhirValueSetBatchValidationOperation``; HL7 ``BaseWorkerContext
.validateCodeBatch`` / ``TerminologyClientR4.batchValidateVS``): the input is a ``Parameters`` with one
``validation`` parameter per code, each a nested ``Parameters`` as for a single ``$validate-code``; every other
top-level parameter (``url``, ``valueSet``, ``lenient-display-validation``, ``displayLanguage``, ...) is a default
for each validation that does not give it itself. The output is a ``Parameters`` with one ``validation`` per
input, in order: the ``Parameters`` a single ``$validate-code`` returns, or the ``OperationOutcome`` of its error.

``tx-resource``: the top-level ones and a validation's own go with that validation (used for it, never stored;
see services/request_store.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlsplit

from termserver.errors import (InvalidRequest, MethodNotAllowed, TermserverError, TooCostly,
                               UnsupportedRequest)

# One request holds at most this many operations; a client with more sends several requests. A Bundle entry can
# be an $expand of thousands of codes; a validation costs 2-5 ms against a code system or a small value set (but
# 80-300 ms against a whole large system's value set, which each call evaluates anew)
MAX_BATCH_ENTRIES = 100
MAX_BATCH_VALIDATIONS = 500

# The operations a batch may call, by resource type (type level and instance level)
BATCH_OPERATIONS: dict[str, tuple[str, ...]] = {
    "CodeSystem": ("lookup", "validate-code", "subsumes"),
    "ValueSet": ("expand", "validate-code"),
    "ConceptMap": ("translate",),
}
_OPERATION_PATH = re.compile(r"(?P<type>[A-Za-z]+)(?:/(?P<id>[A-Za-z0-9\-.]{1,64}))?/\$(?P<op>[a-z\-]+)")
_OPERATION_LIST = "; ".join(f"{kind}: {', '.join('$' + op for op in ops)}" for kind, ops in BATCH_OPERATIONS.items())

# $batch-validate-code: a validation takes each top-level parameter it does not give itself, except those that
# contradict what it gives: its own coding is not mixed with a shared code, system or version, nor its own value
# set with a shared one (name given → top-level names it then does not take)
_CODE_PIECES = frozenset({"code", "system", "version", "display"})
_EXCLUDES: dict[str, frozenset[str]] = {
    "url": frozenset({"valueSet", "valueSetVersion"}),
    "valueSet": frozenset({"url", "valueSetVersion"}),
    "valueSetVersion": frozenset({"valueSet"}),
    "coding": _CODE_PIECES | {"codeableConcept"},
    "codeableConcept": _CODE_PIECES | {"coding"},
    **{piece: frozenset({"coding", "codeableConcept"}) for piece in _CODE_PIECES},
}
_NOT_DEFAULTS = frozenset({"validation", "tx-resource"})


@dataclass
class SubRequest:
    """One operation call: method, path under the server root (``/fhir/CodeSystem/$lookup``), raw query string and
    the JSON body of a POST."""

    method: str
    path: str
    query: str = ""
    body: dict[str, Any] | None = None


@dataclass
class SubResponse:
    """The answer to one :class:`SubRequest`: HTTP status and the resource returned (an OperationOutcome on error)."""

    status: int
    resource: dict[str, Any]


Dispatch = Callable[[SubRequest], SubResponse]
ErrorResponse = Callable[[TermserverError], SubResponse]


@dataclass(frozen=True)
class ServerBase:
    """Where this server's FHIR API lives, to recognise absolute URLs that point at it."""

    host: str  # network location as the client sees it: ``localhost:8080``
    fhir_path: str  # path of the FHIR base: ``/fhir`` (or ``/prefix/fhir`` behind a proxy's script root)

    @property
    def url(self) -> str:
        return f"http(s)://{self.host}{self.fhir_path}"


def run(planned: Iterable[SubRequest | TermserverError], dispatch: Dispatch,
        error_response: ErrorResponse) -> list[SubResponse]:
    """Answer each planned request in order; a request that could not be planned is answered by its error."""
    return [error_response(item) if isinstance(item, TermserverError) else dispatch(item) for item in planned]


# --- POST /fhir: batch Bundles ---------------------------------------------------------------------------------

def plan_bundle(bundle: Any, base: ServerBase) -> list[SubRequest | TermserverError]:
    """The operation call of each entry of a ``batch`` Bundle, or the error that entry alone gets.

    :raises InvalidRequest: when the body is not a Bundle, or not one of type ``batch``.
    :raises UnsupportedRequest: for a ``transaction`` Bundle.
    :raises TooCostly: when the Bundle has more than :data:`MAX_BATCH_ENTRIES` entries.
    """
    _check_bundle(bundle)
    entries = bundle.get("entry", [])
    if not isinstance(entries, list):
        raise InvalidRequest("Bundle.entry must be a list of entries", expression="Bundle.entry")
    if len(entries) > MAX_BATCH_ENTRIES:
        raise TooCostly(f"The batch has {len(entries)} entries, more than this server answers in one request "
                        f"({MAX_BATCH_ENTRIES}); split it into several batches", expression="Bundle.entry")
    planned: list[SubRequest | TermserverError] = []
    for index, entry in enumerate(entries):
        try:
            planned.append(_entry_request(entry, f"Bundle.entry[{index}]", base))
        except TermserverError as exc:
            planned.append(exc)
    return planned


def _check_bundle(bundle: Any) -> None:
    hint = "POST /fhir takes a FHIR Bundle of type 'batch' whose entries call terminology operations"
    if not isinstance(bundle, dict):
        raise InvalidRequest(f"The request body must be a JSON object: {hint}")
    kind = bundle.get("resourceType")
    if kind is None:
        raise InvalidRequest(f"Bundle.resourceType is missing: {hint}", expression="Bundle.resourceType")
    if kind != "Bundle":
        extra = (" (to call one operation, POST the Parameters to the operation itself, e.g. "
                 "/fhir/CodeSystem/$lookup)") if kind == "Parameters" else ""
        raise InvalidRequest(f"{hint}, not a {kind!s}{extra}")
    bundle_type = bundle.get("type")
    if bundle_type == "transaction":
        raise UnsupportedRequest("Bundle.type 'transaction' is not supported: this server only answers "
                                 "terminology operations, which change nothing; send type 'batch' (each entry "
                                 "is answered on its own)", expression="Bundle.type")
    if bundle_type != "batch":
        shown = "missing" if bundle_type is None else f"'{bundle_type}'"
        raise InvalidRequest(f"Bundle.type must be 'batch', not {shown}: {hint}", expression="Bundle.type")


def _entry_request(entry: Any, where: str, base: ServerBase) -> SubRequest:
    if not isinstance(entry, dict):
        raise InvalidRequest(f"{where} must be an object with request (method and url)", expression=where)
    request = entry.get("request")
    if not isinstance(request, dict):
        raise InvalidRequest(f"{where}.request is missing: each entry of a batch needs request.method and "
                             f"request.url", expression=f"{where}.request")
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not method:
        raise InvalidRequest(f"{where}.request.method is missing (GET or POST)", expression=f"{where}.request.method")
    if method not in ("GET", "POST"):
        raise MethodNotAllowed(f"{where}.request.method '{method}' is not supported: a batch here calls "
                               f"operations, with GET or POST", expression=f"{where}.request.method")
    if not isinstance(url, str) or not url.strip():
        raise InvalidRequest(f"{where}.request.url is missing: the operation to call, e.g. "
                             f"'CodeSystem/$lookup?system=...&code=...'", expression=f"{where}.request.url")
    path, query = _operation_path(url.strip(), f"{where}.request.url", base)
    body = entry.get("resource")
    if body is not None and method == "GET":
        raise InvalidRequest(f"{where}.resource is only read for POST entries; a GET entry gives its inputs in "
                             f"request.url", expression=f"{where}.resource")
    if body is not None and not isinstance(body, dict):
        raise InvalidRequest(f"{where}.resource must be a resource (a Parameters)", expression=f"{where}.resource")
    return SubRequest(method, path, query, body)


def _operation_path(url: str, where: str, base: ServerBase) -> tuple[str, str]:
    """``(path, query)`` of an entry URL that calls one of :data:`BATCH_OPERATIONS` on this server.

    Accepts a URL relative to the FHIR base (``CodeSystem/$lookup?...``, the FHIR form), an absolute path
    (``/fhir/CodeSystem/$lookup``) and an absolute URL whose base is this server.
    """
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != base.host.lower() \
                or not parts.path.startswith(base.fhir_path + "/"):
            raise UnsupportedRequest(f"{where} '{url}' is not on this server ({base.url}); a batch can only call "
                                     f"this server's own operations", expression=where)
    path = unquote(parts.path)
    if path.startswith(base.fhir_path + "/"):
        path = path[len(base.fhir_path) + 1:]
    path = path.lstrip("/")
    match = _OPERATION_PATH.fullmatch(path)
    if not match or match["op"] not in BATCH_OPERATIONS.get(match["type"], ()):
        raise UnsupportedRequest(f"{where} '{url}' is not a terminology operation of this server; a batch may "
                                 f"call {_OPERATION_LIST}", expression=where)
    return f"/fhir/{path}", parts.query


def batch_response(responses: list[SubResponse]) -> dict[str, Any]:
    """The ``batch-response`` Bundle: one entry per request, in order, with its status and resource."""
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "batch-response"}
    if responses:  # FHIR JSON has no empty arrays
        out["entry"] = [{"resource": r.resource, "response": {"status": status_line(r.status)}}
                        for r in responses]
    return out


def status_line(status: int) -> str:
    """``Bundle.entry.response.status``: the HTTP status code and its reason phrase (``404 Not Found``)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


# --- $batch-validate-code --------------------------------------------------------------------------------------

def plan_batch_validation(parameters: list[dict[str, Any]], resource_type: str
                          ) -> list[SubRequest | TermserverError]:
    """One ``$validate-code`` call per ``validation`` parameter of a ``$batch-validate-code`` request.

    ``parameters`` is the request's (well-formed) ``Parameters.parameter`` list. Each call gets the validation's
    own parameters, then the top-level defaults it does not give itself, and every ``tx-resource``. On
    ``ValueSet/$batch-validate-code`` a call without ``url`` or ``valueSet`` checks the code against its code
    system, as tx.fhir.org does.

    :raises InvalidRequest: when there is no ``validation`` parameter.
    :raises TooCostly: when there are more than :data:`MAX_BATCH_VALIDATIONS`.
    """
    validations = [(index, p) for index, p in enumerate(parameters) if p.get("name") == "validation"]
    if not validations:
        raise InvalidRequest("$batch-validate-code needs at least one 'validation' parameter: a Parameters resource "
                             "holding one $validate-code request")
    if len(validations) > MAX_BATCH_VALIDATIONS:
        raise TooCostly(f"The request has {len(validations)} 'validation' parameters, more than this server answers "
                        f"in one $batch-validate-code ({MAX_BATCH_VALIDATIONS}); split it into several requests")
    defaults = [p for p in parameters if p.get("name") not in _NOT_DEFAULTS]
    shared_resources = [p for p in parameters if p.get("name") == "tx-resource"]
    planned: list[SubRequest | TermserverError] = []
    for index, parameter in validations:
        try:
            planned.append(_validation_request(parameter.get("resource"), f"Parameters.parameter[{index}]",
                                               defaults, shared_resources, resource_type))
        except TermserverError as exc:
            planned.append(exc)
    return planned


def _validation_request(resource: Any, where: str, defaults: list[dict[str, Any]],
                        shared_resources: list[dict[str, Any]], resource_type: str) -> SubRequest:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Parameters":
        raise InvalidRequest(f"{where} ('validation') must have a resource that is a Parameters holding one "
                             f"$validate-code request", expression=f"{where}.resource")
    own = resource.get("parameter", [])
    if not isinstance(own, list):
        raise InvalidRequest(f"{where}.resource.parameter must be a list", expression=f"{where}.resource.parameter")
    given = {p.get("name") for p in own if isinstance(p, dict)}
    blocked = set(given).union(*(_EXCLUDES.get(name, ()) for name in given))
    # own parameters first, so the positions a malformed one is reported at are the client's own
    merged = own + [p for p in defaults if p.get("name") not in blocked] + shared_resources
    names = {p.get("name") for p in merged if isinstance(p, dict)}
    target = "ValueSet" if resource_type == "ValueSet" and names & {"url", "valueSet"} else "CodeSystem"
    return SubRequest("POST", f"/fhir/{target}/$validate-code", "",
                      {"resourceType": "Parameters", "parameter": merged})


def accept_boolean_strings(body: Any) -> None:
    """Read a ``valueBoolean`` sent as the JSON string ``"true"`` or ``"false"`` as that boolean, in the request's
    parameters and in those of each ``validation`` (in place).

    Why: tx.fhir.org's ``$batch-validate-code`` reads them so, and batches built by hand by validators' users
    carry them (the HL7 conformance test batch-validate-bad does); a single call keeps the strict check.
    """
    if not isinstance(body, dict) or not isinstance(body.get("parameter"), list):
        return
    for parameter in body["parameter"]:
        if not isinstance(parameter, dict):
            continue
        value = parameter.get("valueBoolean")
        if isinstance(value, str) and value in ("true", "false"):
            parameter["valueBoolean"] = value == "true"
        if parameter.get("name") == "validation":
            accept_boolean_strings(parameter.get("resource"))


def batch_validation_parameters(responses: list[SubResponse]) -> dict[str, Any]:
    """The ``$batch-validate-code`` answer: one ``validation`` per input, in order, with what a single
    ``$validate-code`` returned (its ``Parameters``, or the ``OperationOutcome`` of its error)."""
    return {"resourceType": "Parameters",
            "parameter": [{"name": "validation", "resource": r.resource} for r in responses]}
