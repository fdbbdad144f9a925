"""``/healthz`` (the process answers), ``/readyz`` (it can serve: store reachable, index built) and ``/metrics``
(Prometheus). For load balancers, orchestrators and scrapers, so outside ``/fhir`` and without parameters."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy.exc import SQLAlchemyError

from termserver import __version__
from termserver.app import fhir_response
from termserver.errors import StoreUnavailable
from termserver.fhir.render import operation_outcome
from termserver.observability import loaded_code_systems, metrics_exposition
from termserver.services.results import Issue
from termserver.services.search_index import current_generation

bp = Blueprint("health", __name__)
NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/healthz")
def healthz() -> Any:
    # liveness only: never touches the store, so a database outage does not get the process restarted
    return _json({"status": "up", "version": __version__})


@bp.get("/readyz")
def readyz() -> Any:
    holder = current_app.extensions["termserver.search"]
    index = holder.index
    issues: list[Issue] = []
    try:
        with current_app.extensions["termserver.sessions"]() as session:
            generation = current_generation(session)  # the cheap query: one row
            versions = loaded_code_systems(session)
    except SQLAlchemyError as exc:
        current_app.logger.warning("readiness: store not reachable: %s", getattr(exc, "orig", None) or exc)
        issues.append(Issue("error", "transient", "The terminology store is not reachable"))
    if index is None:
        issues.append(Issue("error", "processing", "The search index has not been built"))
    if issues:
        response = fhir_response(operation_outcome(issues), 503)
        response.headers["Retry-After"] = str(StoreUnavailable.retry_after)
        response.headers.update(NO_STORE)
        return response
    return _json({
        "status": "ready",
        "version": __version__,
        "store": {"reachable": True, "generation": generation},
        # the index is rebuilt by the first request after a load changed the store (generation differs until then)
        "index": {"built": True, "generation": index.generation, "systems": len(index.systems),
                  "concepts": sum(len(system.concepts) for system in index.systems.values()),
                  "buildSeconds": round(index.seconds, 3)},
        "codeSystems": [{"url": v.url, "version": v.version, "concepts": v.concepts}
                        | ({"supplements": v.supplements} if v.supplements else {}) for v in versions],
    })


@bp.get("/metrics")
def metrics() -> Any:
    body = metrics_exposition(current_app.extensions["termserver.metrics"])
    return current_app.response_class(body, status=200, headers={"Content-Type": CONTENT_TYPE_LATEST, **NO_STORE})


def _json(payload: dict[str, Any]) -> Any:
    response = current_app.response_class(current_app.json.dumps(payload), status=200, mimetype="application/json")
    response.headers.update(NO_STORE)
    return response
