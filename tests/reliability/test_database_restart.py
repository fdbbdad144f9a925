"""PostgreSQL stopped and started again under a running app: while it is down every request that needs it is a 503
OperationOutcome (transient, Retry-After), never a 500 and never a hang; once it is back the same app, not
restarted, answers 200 again.

Uses the test cluster of scripts/postgres.sh (its data directory, pg_ctl, as the postgres user when run as root),
and restarts it in a ``finally`` whatever happens. Skipped without TERMSERVER_TEST_DATABASE_URL.
"""
from __future__ import annotations

import glob
import json
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import served
from tests.reliability.conftest import ICPC, LiveServer

pytestmark = pytest.mark.reliability

PGDIR = Path(os.environ.get("TERMSERVER_TEST_PGDIR", "/tmp/termserver-pg"))
DATA_DIR = PGDIR / "data"
LOOKUP = f"/fhir/CodeSystem/$lookup?system={ICPC}&code=D86"
EXPAND = f"/fhir/ValueSet/$expand?url={ICPC}?fhir_vs&filter=mavesaar&count=5"
VALIDATE = {"resourceType": "Parameters", "parameter": [{"name": "url", "valueUri": f"{ICPC}?fhir_vs"},
                                                        {"name": "system", "valueUri": ICPC},
                                                        {"name": "code", "valueCode": "D86"}]}


class Cluster:
    """The test cluster, driven with pg_ctl as its owner."""

    def __init__(self, data_dir: Path) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                          key=lambda p: [int(x) for x in Path(p).parts[-3].split(".") if x.isdigit()])
        if not binaries or not (data_dir / "PG_VERSION").is_file():
            pytest.skip(f"no PostgreSQL test cluster in {data_dir} (start it with scripts/postgres.sh)")
        self.pg_ctl = binaries[-1]
        self.data_dir = data_dir
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # the options it was started with (port, socket dir, listen address), to start it again the same way
        opts = shlex.split((data_dir / "postmaster.opts").read_text())
        kept, skip = [], False
        for arg in opts[1:]:
            if skip:
                skip = False
            elif arg == "-D":
                skip = True
            else:
                kept.append(arg)
        self.options = shlex.join(kept)

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.run_as, self.pg_ctl, "-D", str(self.data_dir), *args], capture_output=True,
                              text=True, timeout=120)

    def running(self) -> bool:
        return self._pg_ctl("status").returncode == 0

    def stop(self) -> None:
        done = self._pg_ctl("-m", "fast", "-w", "stop")
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        done = self._pg_ctl("-w", "-l", str(self.data_dir.parent / "log"), "-o", self.options, "start")
        assert done.returncode == 0, done.stderr + done.stdout


@pytest.fixture()
def cluster() -> Iterator[Cluster]:
    url = os.environ.get("TERMSERVER_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: set TERMSERVER_TEST_DATABASE_URL (scripts/postgres.sh prints one)")
    cluster = Cluster(DATA_DIR)
    assert cluster.running(), "the PostgreSQL test cluster is not running"
    try:
        yield cluster
    finally:
        if not cluster.running():  # whatever failed, leave the cluster as we found it
            cluster.start()


@pytest.fixture()
def server(small_database: str) -> Iterator[LiveServer]:
    """An app of its own (its pool must see the restart), served over HTTP."""
    from termserver import create_app

    app = create_app({"DATABASE_URL": small_database, "LOG_LEVEL": "CRITICAL", "INDEX_CHECK_SECONDS": 0})
    try:
        with served(app) as port:
            yield LiveServer("127.0.0.1", port)
    finally:
        app.extensions["termserver.engine"].dispose()


def calls(server: LiveServer) -> list[tuple[str, int, dict[str, str], bytes]]:
    """A lookup, an expansion, a validation and the readiness probe: (what, status, headers, body)."""
    answers = []
    for what, method, path, body in (("lookup", "GET", LOOKUP, None), ("expand", "GET", EXPAND, None),
                                     ("validate", "POST", "/fhir/ValueSet/$validate-code", json.dumps(VALIDATE)),
                                     ("readyz", "GET", "/readyz", None)):
        status, headers, raw = server.request(method, path, body, timeout=30)
        answers.append((what, status, headers, raw))
    return answers


def test_requests_fail_cleanly_while_postgresql_is_down_and_recover(cluster: Cluster, server: LiveServer):
    for what, status, _, raw in calls(server):
        assert status == 200, f"{what} before the stop: {status} {raw[:300]!r}"

    cluster.stop()
    started = time.monotonic()
    for _ in range(3):  # the pooled connection dies first, then every new connection is refused
        for what, status, headers, raw in calls(server):
            assert status == 503, f"{what} while down: {status} {raw[:300]!r}"
            assert headers["content-type"].startswith("application/fhir+json")
            outcome = json.loads(raw)
            assert outcome["resourceType"] == "OperationOutcome"
            issue = outcome["issue"][0]
            assert issue["code"] == "transient", issue
            assert "not reachable" in issue["details"]["text"]
            assert int(headers["retry-after"]) > 0
            assert "x-request-id" in headers
    status, _, _ = server.request("GET", "/healthz")
    assert status == 200, "liveness does not depend on the database"
    assert time.monotonic() - started < 30, "requests while down must fail fast, not hang"

    cluster.start()
    deadline = time.monotonic() + 30
    while True:  # the first requests after the start may still meet a cluster finishing its recovery
        answers = calls(server)
        assert all(status in (200, 503) for _, status, _, _ in answers), answers
        if all(status == 200 for _, status, _, _ in answers):
            break
        assert time.monotonic() < deadline, f"not recovered 30 s after the restart: {answers}"
        time.sleep(0.5)
    for _ in range(3):
        for what, status, _, raw in calls(server):
            assert status == 200, f"{what} after the restart: {status} {raw[:300]!r}"


def test_requests_fail_cleanly_when_postgresql_stops_answering(cluster: Cluster, small_database: str) -> None:
    """The database host stops answering (crashed or cut off: its packets are dropped, nothing is refused). Each
    request is a 503 OperationOutcome after libpq's connect_timeout / tcp_user_timeout (termserver.db sets both
    unless the URL does), not a hang until gunicorn kills the worker; once packets flow again, 200 again."""
    from sqlalchemy import make_url

    from termserver import create_app

    iptables = shutil.which("iptables")
    if iptables is None or os.geteuid() != 0:
        pytest.skip("needs root and iptables, to drop the database's packets")
    url = make_url(small_database)
    # test-sized limits, set in the URL as an operator may (the defaults are 5 s and 10 s)
    fast = url.update_query_dict({"connect_timeout": "2", "tcp_user_timeout": "2000"})
    app = create_app({"DATABASE_URL": fast.render_as_string(hide_password=False), "LOG_LEVEL": "CRITICAL",
                      "INDEX_CHECK_SECONDS": 0})
    rule = ["INPUT", "-i", "lo", "-p", "tcp", "--dport", str(url.port or 5432), "-j", "DROP"]
    try:
        with served(app) as port:
            server = LiveServer("127.0.0.1", port)
            for what, status, _, raw in calls(server):
                assert status == 200, f"{what} before: {status} {raw[:300]!r}"
            added = subprocess.run([iptables, "-w", "-I", *rule], capture_output=True, text=True, timeout=30)
            if added.returncode != 0:
                pytest.skip(f"iptables cannot add a rule here: {added.stderr.strip()}")
            try:
                for what, status, headers, raw in calls(server):  # each within calls()' 30 s client timeout
                    assert status == 503, f"{what} while unreachable: {status} {raw[:300]!r}"
                    issue = json.loads(raw)["issue"][0]
                    assert issue["code"] == "transient", issue
                    assert int(headers["retry-after"]) > 0
            finally:
                subprocess.run([iptables, "-w", "-D", *rule], capture_output=True, timeout=30, check=True)
            deadline = time.monotonic() + 60
            while True:
                answers = calls(server)
                if all(status == 200 for _, status, _, _ in answers) or time.monotonic() > deadline:
                    break
                time.sleep(1)
            assert [(what, status) for what, status, _, _ in answers] == \
                [(what, 200) for what, _, _, _ in answers]
    finally:
        app.extensions["termserver.engine"].dispose()


def test_postgresql_connections_get_the_dead_host_limits(cluster: Cluster, small_database: str) -> None:
    """Connections made by termserver.db carry the connect/TCP limits unless the URL sets them itself."""
    from sqlalchemy import make_url

    from termserver.db import POSTGRES_CONNECT_DEFAULTS, make_engine

    own = make_url(small_database).update_query_dict({"connect_timeout": "7"})
    engine = make_engine(own.render_as_string(hide_password=False), query_timeout=4)
    try:
        with engine.connect() as connection:
            options = {o.keyword.decode(): (o.val or b"").decode()
                       for o in connection.connection.dbapi_connection.pgconn.info}
    finally:
        engine.dispose()
    expected = {name: str(value) for name, value in POSTGRES_CONNECT_DEFAULTS.items()} | {"connect_timeout": "7"}
    assert {name: options.get(name) for name in expected} == expected
    assert "statement_timeout=4000" in options["options"]
