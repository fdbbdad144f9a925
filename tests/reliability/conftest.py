"""Reliability fixtures: a small store loaded from tests/data, and a live HTTP server on it.

The server is werkzeug's threaded server in a thread of the test process, on a free loopback port: real sockets,
real HTTP parsing (a test client would hide what a client can send), and fast to start on SQLite and PostgreSQL.
"""
from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import FIXTURES, make_test_database_url, served

ICPC = "http://hl7.org/fhir/sid/icpc-2"
ICPC_OID = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
# the small release set every reliability test loads: ICPC-2 (extra codes, Norwegian and Finnish designations),
# SKS diagnoses, WHO ICD-10 and MedCom's FSH value sets; ~0.2 s to load
SMALL_RELEASES = [FIXTURES / "icpc2", FIXTURES / "sks", FIXTURES / "icd10", FIXTURES / "fsh" / "medcom"]


def load_small_releases(url: str, paths: list[Path] | None = None) -> None:
    """Migrate ``url`` to the current schema and load ``paths`` (default: the small release set) into it."""
    from loaders.run import load_paths
    from termserver.db import make_engine, make_session_factory, upgrade_schema
    from termserver.systems import AliasTable

    engine = make_engine(url)
    upgrade_schema(engine)
    report = load_paths(make_session_factory(engine), paths or SMALL_RELEASES, AliasTable())
    engine.dispose()
    assert not report.errors, report.errors


@pytest.fixture(scope="session")
def small_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding the small release set (SQLite, or PostgreSQL with TERMSERVER_TEST_DATABASE_URL)."""
    url = make_test_database_url(tmp_path_factory, "reliability")
    load_small_releases(url)
    return url


@dataclass
class LiveServer:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 60.0) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection: (status, headers, body)."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            payload = body.encode("utf-8") if isinstance(body, str) else body
            sent = dict(headers or {})
            if payload is not None:
                sent.setdefault("Content-Type", "application/fhir+json")
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        data = None if body is None else json.dumps(body)
        status, _, raw = self.request(method, path, data)
        return status, json.loads(raw)


@pytest.fixture(scope="session")
def live_app(small_database: str):
    from termserver import create_app

    application = create_app({"DATABASE_URL": small_database, "LOG_LEVEL": "CRITICAL"})
    yield application
    application.extensions["termserver.engine"].dispose()


@pytest.fixture(scope="session")
def live_server(live_app) -> Iterator[LiveServer]:
    """The app served over HTTP on 127.0.0.1 (threaded werkzeug), stopped at the end of the session."""
    with served(live_app) as port:
        yield LiveServer("127.0.0.1", port)
