"""``termserver serve`` as operators run it: gunicorn with the app preloaded, and with ``TERMSERVER_LOG_FORMAT=json``
every line on its stderr a JSON object — gunicorn's own (start, listening, workers) as well as the app's access log
with request ids — so a log pipeline never meets a stray text line."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_serve_logs_every_line_as_json(small_database: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TERMSERVER_", "GUNICORN_"))}
    env.update({"TERMSERVER_DATABASE_URL": small_database, "TERMSERVER_LOG_FORMAT": "json",
                "TERMSERVER_MIGRATE_ON_START": "false", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)})
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "termserver.cli", "serve", "--port", str(port),
                                   "--workers", "1"], env=env, stdout=stderr, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, f"serve exited {server.returncode}: {stderr_path.read_text()[-2000:]}"
            try:
                if _get(port, "/healthz") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, f"not up in 90 s: {stderr_path.read_text()[-2000:]}"
            time.sleep(0.2)
        assert _get(port, "/fhir/CodeSystem/$lookup?system=http://hl7.org/fhir/sid/icpc-2&code=D86",
                    {"X-Request-Id": "serve-test-1"}) == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    lines = [line for line in stderr_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line that is not JSON: {line!r}")
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    gunicorn = [entry["message"] for entry in entries if entry["logger"] == "gunicorn.error"]
    assert any("Listening at" in message for message in gunicorn), gunicorn
    assert any("Booting worker" in message for message in gunicorn), gunicorn
    [access] = [entry for entry in entries if entry.get("request_id") == "serve-test-1"]
    assert access["logger"] == "termserver.access" and access["status"] == 200
    assert access["operation"] == "codesystem.lookup"
