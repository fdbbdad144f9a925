"""The application factory's body: settings, database, blueprints and the one error handler."""
from __future__ import annotations

import logging
from typing import Any, Mapping

from flask import Flask, g, request
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from termserver.config import load_settings
from termserver.db import check_schema, is_query_timeout, make_engine, make_session_factory, upgrade_schema
from termserver.errors import QueryTimeout, StoreUnavailable, TermserverError
from termserver.fhir.render import operation_outcome
from termserver.observability import (OPERATION_ENVIRON, UNMATCHED, RequestObserver, StoreCollector, add_cors_headers,
                                      configure_logging, loaded_code_systems)
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
    configure_logging(settings["LOG_LEVEL"], settings["LOG_FORMAT"])
    app = Flask("termserver")
    app.config["TERMSERVER"] = settings
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    engine = make_engine(settings["DATABASE_URL"])
    try:
        if settings["MIGRATE_ON_START"]:
            upgrade_schema(engine)  # only reads when the schema is current
        else:
            check_schema(engine)  # nodes on a read-only replica: never write; refuse a schema not at head
    except Exception:
        engine.dispose()  # start-up is abandoned: no pooled connection left behind
        raise
    # requests get the query time limit; the schema step above does not (a migration may take minutes)
    engine.dispose()
    engine = make_engine(settings["DATABASE_URL"], query_timeout=settings["QUERY_TIMEOUT_SECONDS"])
    app.extensions["termserver.engine"] = engine
    app.extensions["termserver.sessions"] = make_session_factory(engine)
    app.extensions["termserver.aliases"] = AliasTable(settings["SYSTEM_ALIASES"])
    aliases = app.extensions["termserver.aliases"]
    holder = IndexHolder(app.extensions["termserver.sessions"], lambda s: Context(s, aliases, settings),
                         settings["INDEX_CHECK_SECONDS"])
    # at start-up, so gunicorn --preload workers share it; everything built so far lives as long as the app and is
    # frozen with the index (IndexHolder.build)
    holder.build()
    app.extensions["termserver.search"] = holder
    # no connection may outlive the fork of gunicorn --preload workers (SQLite connections must not cross fork())
    engine.dispose()

    from termserver.api import bundle, codesystem, conceptmap, metadata, search, validation, valueset, web

    from termserver.api import check_request_input, health

    for blueprint in (codesystem.bp, valueset.bp, conceptmap.bp, metadata.bp, search.bp, bundle.bp, validation.bp,
                      health.bp, web.bp):
        app.register_blueprint(blueprint)

    # request ids, access log and request metrics wrap the whole app (a batch's in-process entries are not requests)
    app.wsgi_app = RequestObserver(app.wsgi_app)  # type: ignore[method-assign]
    # werkzeug stops reading a body (even one sent without Content-Length) at this size: a 413
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_BODY_BYTES"]
    store_metrics = CollectorRegistry(auto_describe=False)
    store_metrics.register(StoreCollector(holder, lambda: _read_versions(app)))
    app.extensions["termserver.metrics"] = store_metrics

    @app.before_request
    def name_operation_and_check_input() -> None:
        request.environ.setdefault(OPERATION_ENVIRON, request.endpoint or UNMATCHED)
        check_request_input(settings["MAX_BODY_BYTES"], settings["JSON_MAX_DEPTH"])

    origins = settings["CORS_ORIGINS"]
    origins = tuple(origins.replace(",", " ").split()) if isinstance(origins, str) else tuple(origins)
    if origins:
        @app.after_request
        def cors(response: Any) -> Any:
            return add_cors_headers(response, origins)

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
        response = fhir_response(operation_outcome([issue]), exc.status)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def store_failure(exc: Exception) -> Any:
        return termserver_error(_store_error(exc, settings["QUERY_TIMEOUT_SECONDS"]))

    @app.errorhandler(DBAPIError)
    def database_error(exc: DBAPIError) -> Any:
        if exc.connection_invalidated:  # the connection broke under the statement: the store went away
            return termserver_error(_store_error(exc, settings["QUERY_TIMEOUT_SECONDS"]))
        return unexpected(exc)

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
        elif status == 413:
            text = (f"The request body is larger than this server accepts ({settings['MAX_BODY_BYTES']:,} bytes, "
                    f"TERMSERVER_MAX_BODY_BYTES)")
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


def _store_error(exc: Exception, limit: float) -> TermserverError:
    """The error to answer for a database failure, after discarding the request's session (its connection may be
    dead: the pool reconnects, pre-pinged, on the next checkout, so the app recovers once the store is back)."""
    session = g.get("session")
    timed_out = is_query_timeout(exc)
    if session is not None:
        try:
            session.rollback() if timed_out else session.invalidate()
        except Exception:  # noqa: BLE001 - the session is being thrown away; its own failure changes nothing
            log.debug("discarding the session failed", exc_info=True)
    if timed_out:
        log.warning("query time limit (%g s) reached on %s %s", limit, request.method, request.path)
        return QueryTimeout(f"The request needed a database query that ran longer than this server's limit of "
                            f"{limit:g} s (TERMSERVER_QUERY_TIMEOUT_SECONDS), so it was stopped. Narrow the request "
                            f"(a filter, a smaller count, fewer codes) or try again later.")
    log.warning("terminology store not reachable on %s %s: %s", request.method, request.path,
                getattr(exc, "orig", exc) or type(exc).__name__)
    return StoreUnavailable("The terminology store is not reachable; try again shortly")


def _read_versions(app: Flask) -> list[tuple[str, str, int]]:
    with app.extensions["termserver.sessions"]() as session:
        return [(row.url, row.version, row.concepts) for row in loaded_code_systems(session)]


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
