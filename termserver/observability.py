"""What running the server needs besides answering: request ids, access logs, Prometheus metrics, CORS.

The request id, the access log line and the request metrics come from one WSGI middleware around the Flask app
(:class:`RequestObserver`), not from Flask hooks: a batch Bundle answers its entries by dispatching them in-process
through Flask, and those sub-requests must not count as requests of their own. Flask only tells the middleware
which operation (route endpoint) the request was, through the WSGI environ.

Metrics use ``prometheus_client``. Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory shared by the workers (``termserver serve`` does): the counters and histograms of every worker are then
summed when ``/metrics`` is scraped, whichever worker answers. Without it the plain in-process registry is used.
The store and index gauges are computed at scrape time from the answering process's own search index.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from random import getrandbits as _random_bits
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

from prometheus_client import (REGISTRY, CollectorRegistry, Counter, Histogram, disable_created_metrics,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.orm import Session

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_ENVIRON = "termserver.request_id"
OPERATION_ENVIRON = "termserver.operation"
UNMATCHED = "unmatched"  # the operation label of a request no route matched (404, 405)
# what an incoming X-Request-Id may be to be kept: printable, no spaces or quotes, so it is safe in a log line
# and a header whatever the client sent
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}\Z")
# terminology calls take a millisecond or two from the index, tens for a big expansion, seconds for a whole batch
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

access_log = logging.getLogger("termserver.access")

disable_created_metrics()  # no *_created series: they double the exposition and no dashboard reads them
# created once per process (prometheus_client refuses a second metric of the same name in a registry)
REQUESTS = Counter("termserver_http_requests", "HTTP requests answered, by operation (route endpoint) and status.",
                   ["operation", "status"])
LATENCY = Histogram("termserver_http_request_duration_seconds",
                    "Time from receiving a request to the end of its response, by operation.", ["operation"],
                    buckets=LATENCY_BUCKETS)


def request_id_from(header: str | None) -> str:
    """The client's ``X-Request-Id`` when it is well-formed (at most 128 safe characters), else a new one (32 hex
    digits)."""
    if header and _SAFE_REQUEST_ID.match(header):
        return header
    # 128 random bits as uuid4().hex has, without its syscall and UUID object (an id, not a secret; the random
    # module is reseeded in every forked worker)
    return f"{_random_bits(128):032x}"


class RequestObserver:
    """WSGI middleware: gives every request an id (echoed in ``X-Request-Id``), then logs one access line and
    counts it in the metrics once its response is complete: when the app returns a response of known length (the
    duration is the app's time), or else (a streamed body) when the body has been sent."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ[REQUEST_ID_ENVIRON] = request_id
        seen: dict[str, Any] = {"status": 500, "length": None}

        def start_with_id(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"] = int(status.split(" ", 1)[0])
            seen["length"] = next((int(v) for k, v in headers if k.lower() == "content-length" and v.isdigit()),
                                  None)
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"] + [(REQUEST_ID_HEADER,
                                                                                      request_id)]
            return start_response(status, headers, exc_info)

        try:
            body = self.wsgi_app(environ, start_with_id)
        except BaseException:
            _record(environ, 500, 0, started)
            raise
        if seen["length"] is not None:
            # a buffered response (every FHIR answer): complete now, whenever the server gets round to sending it
            sent = 0 if environ.get("REQUEST_METHOD") == "HEAD" else seen["length"]
            _record(environ, seen["status"], sent, started)
            return body
        return _ObservedBody(body, lambda sent: _record(environ, seen["status"], sent, started))


class _ObservedBody:
    """The response body, counting the bytes sent; records the request once, when it is exhausted or closed."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._body = body
        self._done: Callable[[int], None] | None = done
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk
        self._finish()

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._done is not None:
            done, self._done = self._done, None
            done(self._sent)


# (operation, status) → the counter and histogram children it is counted in: labels() looks them up under a lock
_SERIES: dict[tuple[str, int], tuple[Any, Any]] = {}


def _record(environ: dict[str, Any], status: int, sent: int, started: float) -> None:
    seconds = time.perf_counter() - started
    operation = environ.get(OPERATION_ENVIRON) or UNMATCHED
    series = _SERIES.get((operation, status))
    if series is None:
        series = _SERIES[(operation, status)] = (REQUESTS.labels(operation, str(status)), LATENCY.labels(operation))
    series[0].inc()
    series[1].observe(seconds)
    if access_log.isEnabledFor(logging.INFO):
        # WSGI hands the path over as latin-1 of its bytes; log the UTF-8 the client sent
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).encode("latin-1", "replace") \
            .decode("utf-8", "replace")
        method = environ.get("REQUEST_METHOD", "-")
        fields = {"request_id": environ.get(REQUEST_ID_ENVIRON), "method": method, "path": path, "status": status,
                  "duration_ms": round(seconds * 1000, 2), "operation": operation, "bytes": sent}
        access_log.info("%s %s %d %.1f ms %s %d B id=%s", method, _printable(path), status, seconds * 1000, operation,
                        sent, fields["request_id"], extra={"access": fields})


def _printable(text: str) -> str:
    """``text`` with control characters escaped: a path cannot start a new line in a text log."""
    return text if text.isprintable() else "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# --- logs -------------------------------------------------------------------------------------------------------

class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger and message, the access fields of an access line, and the
    request id of the request being answered when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        access = getattr(record, "access", None)
        if access:
            entry.update(access)
        else:
            request_id = _current_request_id()
            if request_id:
                entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _current_request_id() -> str | None:
    from flask import has_request_context, request

    return request.environ.get(REQUEST_ID_ENVIRON) if has_request_context() else None


def configure_logging(level: str, log_format: str) -> None:
    """Send log records to stderr as text or JSON lines, unless logging was configured already (by a host such as
    pytest, or an earlier app in this process)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter() if log_format == "json"
                         else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


# --- CORS -------------------------------------------------------------------------------------------------------

CORS_ALLOWED_HEADERS = "Accept, Accept-Language, Authorization, Content-Type, Prefer, X-Request-Id"
CORS_EXPOSED_HEADERS = "Content-Location, Location, Retry-After, X-Request-Id"
CORS_MAX_AGE_SECONDS = 600


def add_cors_headers(response: Any, origins: tuple[str, ...]) -> Any:
    """Let a browser page from one of ``origins`` (or any, with ``*``) read ``response``; answer a preflight
    (``OPTIONS`` with ``Access-Control-Request-Method``, which Flask answers for every route) with the methods the
    route takes. No credentials: the API is read-only and open."""
    from flask import request

    origin = request.headers.get("Origin")
    if not origin:
        return response
    if "*" in origins:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin.rstrip("/") in origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.vary.add("Origin")
    else:
        return response
    response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        allowed = response.headers.get("Allow") or "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Methods"] = allowed
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = str(CORS_MAX_AGE_SECONDS)
    return response


# --- metrics ----------------------------------------------------------------------------------------------------

def multiprocess_dir() -> str | None:
    """The directory shared by gunicorn's workers for their metrics, when multiprocess mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def metrics_exposition(store_registry: CollectorRegistry) -> bytes:
    """The Prometheus text exposition: the request metrics (of every worker in multiprocess mode, with the
    process metrics otherwise), then this process's store and index gauges."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry) + generate_latest(store_registry)


@dataclass(frozen=True)
class LoadedVersion:
    url: str
    version: str
    concepts: int
    supplements: str | None


def loaded_code_systems(session: Session) -> list[LoadedVersion]:
    """Every code system version in the store (supplements included), by url and version."""
    from termserver.models import CodeSystemVersion

    rows = session.execute(select(CodeSystemVersion.url, CodeSystemVersion.version, CodeSystemVersion.concept_count,
                                  CodeSystemVersion.supplements).order_by(CodeSystemVersion.url,
                                                                          CodeSystemVersion.version))
    return [LoadedVersion(url, version or "", concepts or 0, supplements) for url, version, concepts, supplements
            in rows]


class StoreCollector(Collector):
    """Gauges of what this process serves: its search index (systems, concepts, generation, build time) and the code
    system versions in the store (read once per store generation, so a scrape rarely touches the database)."""

    def __init__(self, holder: Any, read_versions: Callable[[], list[tuple[str, str, int]]]) -> None:
        self._holder = holder
        self._read_versions = read_versions
        self._versions: list[tuple[str, str, int]] = []
        self._versions_generation: int | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        index = self._holder.index
        built = GaugeMetricFamily("termserver_search_index_built", "1 when this process has built its search index.")
        built.add_metric([], 1 if index is not None else 0)
        yield built
        if index is None:
            return
        yield GaugeMetricFamily("termserver_search_index_systems", "Code systems in the search index.",
                                value=len(index.systems))
        yield GaugeMetricFamily("termserver_search_index_concepts", "Concepts in the search index.",
                                value=sum(len(system.concepts) for system in index.systems.values()))
        yield GaugeMetricFamily("termserver_store_generation",
                                "Store generation (bumped by every load that changes data) the index was built from.",
                                value=index.generation)
        yield GaugeMetricFamily("termserver_search_index_build_seconds", "How long the last index build took.",
                                value=index.seconds)
        yield GaugeMetricFamily("termserver_search_index_built_timestamp_seconds",
                                "When the search index was built (Unix time).", value=index.built_at)
        if self._versions_generation != index.generation:
            try:
                self._versions = self._read_versions()
                self._versions_generation = index.generation
            except Exception:  # noqa: BLE001 - a scrape while the store is down keeps the last list it read
                logging.getLogger("termserver").debug("loaded versions not read for /metrics", exc_info=True)
        loaded = GaugeMetricFamily("termserver_code_system_version_loaded",
                                   "1 for each code system version in the store (supplements included).",
                                   labels=["url", "version"])
        concepts = GaugeMetricFamily("termserver_code_system_version_concepts",
                                     "Concepts of each code system version in the store.", labels=["url", "version"])
        for url, version, count in self._versions:
            loaded.add_metric([url, version], 1)
            concepts.add_metric([url, version], count)
        yield loaded
        yield concepts
