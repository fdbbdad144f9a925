"""The application factory's body: settings, database, blueprints and the one error handler."""
from __future__ import annotations

import gc
import logging
from typing import Any, Mapping

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from termserver.config import load_settings
from termserver.db import create_schema, make_engine, make_session_factory
from termserver.errors import TermserverError
from termserver.fhir.render import operation_outcome
from termserver.services.catalog import Context
from termserver.services.results import Issue
from termserver.services.search_index import IndexHolder
from termserver.systems import AliasTable

FHIR_JSON = "application/fhir+json"
log = logging.getLogger("termserver")

_HTTP_ISSUE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               406: "not-supported", 413: "too-costly", 415: "not-supported"}


def build_app(config: Mapping[str, Any] | None = None) -> Flask:
    settings = load_settings(config)
    logging.basicConfig(level=settings["LOG_LEVEL"])
    app = Flask("termserver")
    app.config["TERMSERVER"] = settings
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    engine = make_engine(settings["DATABASE_URL"])
    create_schema(engine)
    app.extensions["termserver.engine"] = engine
    app.extensions["termserver.sessions"] = make_session_factory(engine)
    app.extensions["termserver.aliases"] = AliasTable(settings["SYSTEM_ALIASES"])
    aliases = app.extensions["termserver.aliases"]
    holder = IndexHolder(app.extensions["termserver.sessions"], lambda s: Context(s, aliases, settings),
                         settings["INDEX_CHECK_SECONDS"])
    gc.disable()  # building the index makes ~10⁶ objects: no collections half-way
    try:
        holder.build()  # at start-up, so gunicorn --preload workers share it
    finally:
        gc.enable()
    # everything built so far lives as long as the app: keep it out of every later collection (no 100 ms
    # pauses scanning the index, and no copy-on-write of the forked workers' shared pages)
    gc.freeze()
    app.extensions["termserver.search"] = holder
    # no connection may outlive the fork of gunicorn --preload workers (SQLite connections must not cross fork())
    engine.dispose()

    from termserver.api import bundle, codesystem, conceptmap, metadata, search, validation, valueset

    for blueprint in (codesystem.bp, valueset.bp, conceptmap.bp, metadata.bp, search.bp, bundle.bp, validation.bp):
        app.register_blueprint(blueprint)

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        g.pop("context", None)
        for overlay in g.pop("request_stores", []):
            overlay.close()
        session = g.pop("session", None)
        if session is not None:
            session.close()

    @app.errorhandler(TermserverError)
    def termserver_error(exc: TermserverError) -> Any:
        issue = Issue("error", exc.issue_code, exc.message, exc.tx_code, [exc.expression] if exc.expression else [],
                      exc.message_id)
        return fhir_response(operation_outcome([issue]), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if status == 404:
            text = f"No such endpoint: {request.method} {request.path}"
        elif status == 405:
            allowed = ", ".join(sorted(exc.valid_methods or [])) if hasattr(exc, "valid_methods") else ""
            text = f"Method {request.method} is not allowed on {request.path}" + (
                f"; use {allowed}" if allowed else "")
        elif status == 400:
            text = f"Bad request: {exc.description}"
        else:
            text = exc.description or exc.name
        response = fhir_response(operation_outcome([Issue("error", _HTTP_ISSUE.get(status, "processing"),
                                                          text)]), status)
        if status == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return fhir_response(operation_outcome([Issue("fatal", "exception",
                                                      f"Internal error ({type(exc).__name__}); the request was "
                                                      f"not processed. It has been logged.")]), 500)

    return app


def fhir_response(resource: dict[str, Any], status: int = 200) -> Any:
    from flask import current_app

    response = current_app.response_class(current_app.json.dumps(resource), status=status, mimetype=FHIR_JSON)
    return response


def context() -> Context:
    """The service context for this request (one session and one search index per request, however many
    operations a batch makes of it)."""
    from flask import current_app

    if "context" not in g:
        if "session" not in g:
            g.session = current_app.extensions["termserver.sessions"]()
        index = current_app.extensions["termserver.search"].get(g.session)
        g.context = Context(g.session, current_app.extensions["termserver.aliases"],
                            current_app.config["TERMSERVER"], index)
    return g.context
