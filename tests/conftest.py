"""Shared fixtures: the real release folder, and (in tests/api) a loaded app and client."""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"


def release_root() -> Path | None:
    """The release folder: $TERMSERVER_DATA, else ../shared/data beside the repository."""
    candidates = [os.environ.get("TERMSERVER_DATA"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def release_dir() -> Path:
    """The real releases. Skipped on a developer machine without them; in CI their absence is a failure."""
    root = release_root()
    if root is None:
        if os.environ.get("CI"):
            pytest.fail("release files not found: CI must run with ../shared/data beside the repository")
        pytest.skip("release files not found (set TERMSERVER_DATA or put them in ../shared/data)")
    return root


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@contextlib.contextmanager
def served(app: Any) -> Iterator[int]:
    """``app`` served over real HTTP on 127.0.0.1 (werkzeug's threaded server in a thread, quiet); yields the port."""
    from werkzeug.serving import WSGIRequestHandler, make_server

    class QuietHandler(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


_databases: list[str] = []


def make_test_database_url(tmp_path_factory: pytest.TempPathFactory, name: str) -> str:
    """A fresh, empty database: SQLite in a temp folder, or, when TERMSERVER_TEST_DATABASE_URL names a PostgreSQL
    server, a new database on it (``<db>_<name>_<n>``, dropped and re-created)."""
    url = os.environ.get("TERMSERVER_TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp(name) / 'termserver.sqlite'}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    database = f"{base.database}_{name}_{len(_databases)}"
    _databases.append(database)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return base.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def loaded_database(release_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database loaded once per test session from every release in the release folder."""
    from loaders.run import load_paths
    from termserver.config import default_extra_releases
    from termserver.db import make_engine, make_session_factory, upgrade_schema
    from termserver.systems import AliasTable

    url = make_test_database_url(tmp_path_factory, "loaded")
    engine = make_engine(url)
    upgrade_schema(engine)
    # what `termserver load` loads by default: the releases, the project's synonym lexicon and, when present,
    # MedCom's FSH value sets
    report = load_paths(make_session_factory(engine), [release_dir, REPO / "data" / "synonyms-da.tsv",
                                                       *default_extra_releases({})], AliasTable())
    engine.dispose()
    assert not report.errors, report.errors
    return url


@pytest.fixture(scope="session")
def app(loaded_database: str):
    from termserver import create_app

    application = create_app({"DATABASE_URL": loaded_database, "LOG_LEVEL": "WARNING"})
    application.config["TESTING"] = True
    yield application
    # close the pooled connections: on PostgreSQL an open psycopg connection left to the garbage collector is a
    # ResourceWarning, which (warnings are errors) fails the run at exit
    application.extensions["termserver.engine"].dispose()


@pytest.fixture()
def client(app):
    return app.test_client()
