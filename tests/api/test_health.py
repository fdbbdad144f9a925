"""/healthz, /readyz and /metrics: what load balancers, orchestrators and Prometheus ask."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from tests.api.test_limits import check_unavailable
from tests.conftest import REPO

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"


def _unreachable_store(*_args: Any, **_kwargs: Any) -> None:
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def samples(client) -> dict[tuple[str, frozenset], float]:
    """The /metrics exposition as {(sample name, labels): value}."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    values = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            values[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return values


def requests_total(values: dict, operation: str, status: str) -> float:
    return values.get(("termserver_http_requests_total", frozenset({("operation", operation),
                                                                     ("status", status)})), 0.0)


# --- /healthz ---------------------------------------------------------------------------------------------------

def test_healthz_says_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "up"
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_never_touches_the_store(app, client, monkeypatch):
    monkeypatch.setitem(app.extensions, "termserver.sessions", _unreachable_store)
    assert client.get("/healthz").status_code == 200


# --- /readyz ----------------------------------------------------------------------------------------------------

def test_readyz_lists_store_index_and_versions(app, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["store"]["reachable"] is True
    index = app.extensions["termserver.search"].index
    assert body["index"]["generation"] == index.generation
    assert body["index"]["systems"] == len(index.systems) > 0
    assert body["index"]["concepts"] > 1000
    assert {"url": ICPC2, "version": "7.0"}.items() <= next(v for v in body["codeSystems"]
                                                          if v["url"] == ICPC2).items()
    supplements = [v for v in body["codeSystems"] if "supplements" in v]
    assert supplements, "supplements are listed as loaded versions too"


def test_readyz_is_503_when_the_store_is_unreachable(app, client, monkeypatch):
    monkeypatch.setitem(app.extensions, "termserver.sessions", _unreachable_store)
    response = client.get("/readyz")
    check_unavailable(response, 503, "transient", ["not reachable"])
    assert int(response.headers["Retry-After"]) > 0


def test_readyz_is_503_before_the_index_is_built(app, client, monkeypatch):
    monkeypatch.setattr(app.extensions["termserver.search"], "index", None)
    response = client.get("/readyz")
    check_unavailable(response, 503, "processing", ["search index"])


# --- /metrics ---------------------------------------------------------------------------------------------------

def test_metrics_count_requests_by_operation_and_status(client):
    before = samples(client)
    for code in ("K86", "K87", "K999"):
        client.get("/fhir/CodeSystem/$lookup", query_string={"system": ICPC2, "code": code})
    client.get("/fhir/no-such-thing")
    after = samples(client)
    assert requests_total(after, "codesystem.lookup", "200") - requests_total(before, "codesystem.lookup", "200") == 2
    assert requests_total(after, "codesystem.lookup", "404") - requests_total(before, "codesystem.lookup", "404") == 1
    assert requests_total(after, "unmatched", "404") - requests_total(before, "unmatched", "404") == 1
    count = ("termserver_http_request_duration_seconds_count", frozenset({("operation", "codesystem.lookup")}))
    assert after[count] - before.get(count, 0) == 3
    buckets = [key for key in after if key[0] == "termserver_http_request_duration_seconds_bucket"
               and ("operation", "codesystem.lookup") in key[1]]
    assert len(buckets) > 5


def test_a_batch_counts_as_one_request(client):
    before = samples(client)
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"CodeSystem/$lookup?system={ICPC2}&code={code}"}}
        for code in ("K86", "K87")]}
    assert client.post("/fhir", json=bundle).status_code == 200
    after = samples(client)
    assert requests_total(after, "bundle.batch_bundle", "200") - requests_total(before, "bundle.batch_bundle",
                                                                                "200") == 1
    assert requests_total(after, "codesystem.lookup", "200") == requests_total(before, "codesystem.lookup", "200")


def test_metrics_show_the_index_and_the_loaded_versions(app, client):
    values = samples(client)
    index = app.extensions["termserver.search"].index
    assert values[("termserver_search_index_systems", frozenset())] == len(index.systems)
    assert values[("termserver_search_index_concepts", frozenset())] == sum(len(s.concepts)
                                                                          for s in index.systems.values())
    assert values[("termserver_store_generation", frozenset())] == index.generation
    key = frozenset({("url", ICPC2), ("version", "7.0")})
    assert values[("termserver_code_system_version_loaded", key)] == 1
    assert values[("termserver_code_system_version_concepts", key)] > 600


MULTIPROCESS_WORKER = textwrap.dedent("""
    import sys
    from termserver import create_app

    app = create_app({"DATABASE_URL": sys.argv[1], "LOG_LEVEL": "WARNING"})
    client = app.test_client()
    for _ in range(int(sys.argv[2])):
        assert client.get("/fhir/metadata").status_code == 200
    if sys.argv[3] == "scrape":
        sys.stdout.write(client.get("/metrics").get_data(as_text=True))
    app.extensions["termserver.engine"].dispose()
""")


def test_multiprocess_mode_sums_the_workers(tmp_path: Path):
    """As under gunicorn: separate processes write their counts to PROMETHEUS_MULTIPROC_DIR; a scrape answered by
    any of them reports the sum."""
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    for count, mode in ((3, "-"), (4, "scrape")):
        done = subprocess.run([sys.executable, "-c", MULTIPROCESS_WORKER, url, str(count), mode], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    values = {(s.name, frozenset(s.labels.items())): s.value
              for family in text_string_to_metric_families(done.stdout) for s in family.samples}
    assert requests_total(values, "metadata.metadata", "200") == 7
    assert ("termserver_search_index_built", frozenset()) in values
