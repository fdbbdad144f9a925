"""HTTP API: one blueprint per FHIR resource type. Handlers parse, guard, call one service and render."""
from __future__ import annotations

import json
import re
from typing import Any

import dataclasses

from flask import current_app, g, request
from sqlalchemy import select

from termserver.app import context
from termserver.errors import InvalidRequest, NotFound, RequestTooLarge, UnsupportedRequest
from termserver.fhir.params import OperationParams
from termserver.models import CodeSystemVersion
from termserver.services import messages
from termserver.services.catalog import Context, missing_supplements
from termserver.services.request_store import open_request_store


def operation_params() -> OperationParams:
    """The operation's inputs from the query string (GET) or a Parameters body (POST).

    :raises InvalidRequest: on a malformed body or an unsupported media type.
    """
    if request.method == "GET":
        return OperationParams.from_query(request.args.to_dict(flat=False))
    content_type = (request.mimetype or "").lower()
    if content_type == "application/x-www-form-urlencoded":
        merged = request.args.to_dict(flat=False)
        for key, values in request.form.to_dict(flat=False).items():
            merged.setdefault(key, []).extend(values)
        return OperationParams.from_query(merged)
    if content_type and not content_type.endswith("json"):
        raise UnsupportedRequest(f"Content-Type '{content_type}' is not supported; send application/fhir+json")
    raw = request.get_data(cache=True, as_text=True)
    if not raw.strip():
        return OperationParams.from_query(request.args.to_dict(flat=False))
    body = json_body()
    params = OperationParams.from_parameters(body)
    # query parameters on a POST still count (e.g. POST /ValueSet/$expand?url=...)
    for key, values in request.args.to_dict(flat=False).items():
        params.values.setdefault(key, values)
    return params


def operation_context() -> tuple[Context, OperationParams]:
    """The service context and the inputs of this operation call (with its ``tx-resource`` content and the
    supplements it asks for, if any)."""
    params = operation_params()
    return with_supplements(with_request_resources(context(), params), params.all("useSupplement")), params


def with_supplements(ctx: Context, wanted: list[Any]) -> Context:
    """``ctx`` using the supplements named by ``useSupplement``.

    :raises NotFound: (422) when one of them is neither loaded nor sent with the request.
    """
    if not wanted:
        return ctx
    names = [str(w) for w in wanted]
    missing = missing_supplements(ctx, names)
    if missing:
        key = "VALUESET_SUPPLEMENT_MISSING"
        raise NotFound(messages.plural(key, len(missing), ",".join(missing)), status=422, message_id=key)
    return dataclasses.replace(ctx, use_supplements=ctx.use_supplements | set(names))


def with_request_resources(ctx: Context, params: OperationParams) -> Context:
    """``ctx`` seeing the call's ``tx-resource`` code systems, value sets and concept maps before the store's.

    :raises InvalidRequest: when a ``tx-resource`` is not a usable resource.
    """
    resources = params.all("tx-resource")
    if not resources:
        return ctx
    for value in resources:
        if not isinstance(value, dict):
            raise InvalidRequest("Parameter 'tx-resource' must be a resource (a CodeSystem, ValueSet or ConceptMap "
                                 "sent with POST)")
    overlay = open_request_store(resources, current_app.extensions["termserver.aliases"])
    g.setdefault("request_stores", []).append(overlay)
    search = ctx.search
    if search is not None:
        supplied = {url for row in overlay.execute(select(CodeSystemVersion.url, CodeSystemVersion.supplements))
                    for url in row if url}
        if supplied & set(search.systems):
            search = None  # a supplied version or supplement of a hosted system: the index does not know it
    return dataclasses.replace(ctx, overlay=overlay, search=search)


def full_resource() -> bool | None:
    """What ``_summary`` asks of a read: True for everything (``false``), False for a summary (``true``, ``text``,
    ``data``), None for the server's default (whole when small).

    :raises InvalidRequest: on any other value.
    """
    summary = request.args.get("_summary")
    if summary is None:
        return None
    if summary not in ("true", "false", "text", "data"):
        raise InvalidRequest(f"Parameter '_summary' must be true, false, text or data, not '{summary}'")
    return summary == "false"


def json_body() -> Any:
    """The request body as JSON.

    :raises InvalidRequest: when it is not JSON.
    """
    # parsed once per request (on the request object: a batch's in-process sub-requests share the app context)
    cached = request.environ.get("termserver.json_body", _UNPARSED)
    if cached is _UNPARSED:
        try:
            cached = json.loads(utf8_body())
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"Malformed JSON in request body: {exc.msg} at line {exc.lineno} column "
                                 f"{exc.colno}") from exc
        except RecursionError:  # the depth check before the handler makes this unlikely; never a 500
            raise InvalidRequest(_too_deep_message(current_app.config["TERMSERVER"]["JSON_MAX_DEPTH"])) from None
        request.environ["termserver.json_body"] = cached
    return cached


_UNPARSED = object()


def check_request_input(max_body_bytes: int, max_depth: int) -> None:
    """The checks every request passes before its handler: the body's size (from Content-Length, before reading
    it), the nesting depth of a JSON body (before parsing it: ``json.loads`` recurses), and no NUL character in the
    path (no id has one, and PostgreSQL cannot compare one; parameters are checked where they are read).

    :raises RequestTooLarge: for a body over ``max_body_bytes``.
    :raises InvalidRequest: for JSON nested deeper than ``max_depth``.
    :raises NotFound: for a NUL character in the path.
    """
    environ = request.environ
    if not environ.get("CONTENT_LENGTH") and environ.get("REQUEST_METHOD") not in ("POST", "PUT", "PATCH") \
            and "\x00" not in environ.get("PATH_INFO", ""):
        return  # the checks below would find nothing (most requests: a GET without a body): skip their parsing
    length = request.content_length
    if length is not None and length > max_body_bytes:
        raise RequestTooLarge(f"The request body has {length:,} bytes; this server accepts at most "
                              f"{max_body_bytes:,} (TERMSERVER_MAX_BODY_BYTES)")
    if "\x00" in request.path:  # no id or operation name has one: nothing is there (and PostgreSQL cannot look)
        raise NotFound(f"No such resource or endpoint: {request.path.replace(chr(0), '%00')} (a path with a NUL "
                       f"character)")
    content_type = (request.mimetype or "").lower()
    if request.method in ("POST", "PUT", "PATCH") and (not content_type or content_type.endswith("json")):
        if json_nesting_exceeds(request.get_data(cache=True), max_depth):
            raise InvalidRequest(_too_deep_message(max_depth))


def _too_deep_message(max_depth: int) -> str:
    return (f"The JSON body nests arrays and objects deeper than {max_depth} levels, more than this server accepts "
            f"(TERMSERVER_JSON_MAX_DEPTH)")


# a JSON string (escapes included), and anything that is not a bracket: what the depth scan skips
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPENING = frozenset(b"[{")


def json_nesting_exceeds(data: bytes, limit: int) -> bool:
    """Whether the JSON text ``data`` nests arrays and objects deeper than ``limit``, found without parsing it
    (so without recursion) in one linear scan; brackets inside strings do not count. Malformed text is scanned
    as well as it can be: the parser reports what is wrong with it."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for byte in _NOT_BRACKET.sub(b"", _JSON_STRING.sub(b"", data)):
        if byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def utf8_body() -> str:
    """The request body decoded as UTF-8 (JSON's only encoding), strictly: invalid bytes are not replaced.

    :raises InvalidRequest: when the body is not UTF-8.
    """
    try:
        return request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid UTF-8 (byte {exc.start}: "
                             f"{exc.object[exc.start:exc.start + 1]!r})") from None
