"""What the benchmark scripts share: where the releases are, loading them into a scratch database in a child
process, and a gunicorn server on a free loopback port that is always stopped."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
START_TIMEOUT_S = 120.0
WORKER_CLASSES = {"sync": ["--worker-class", "sync"], "gthread": ["--worker-class", "gthread", "--threads", "4"]}


def default_release_dir() -> Path:
    """$TERMSERVER_DATA, else ../shared/data beside the repository (as the tests resolve it)."""
    return Path(os.environ.get("TERMSERVER_DATA") or REPO.parent / "shared" / "data")


def load_child(release_dir: Path, url: str) -> dict[str, Any]:
    """Load the releases, the lexicon and MedCom's FSH value sets into ``url`` (runs in a child process)."""
    from loaders.run import load_paths
    from termserver.config import default_extra_releases, default_lexicons, load_settings
    from termserver.db import create_schema, make_engine, make_session_factory
    from termserver.systems import AliasTable

    settings = load_settings({"DATABASE_URL": url})
    paths = [release_dir] + default_lexicons(settings) + default_extra_releases(settings)
    engine = make_engine(url)
    create_schema(engine)
    report = load_paths(make_session_factory(engine), paths, AliasTable(settings["SYSTEM_ALIASES"]))
    engine.dispose()
    return {"paths": [str(p) for p in paths], "seconds": report.seconds, "errors": report.errors,
            "parts": len(report.results)}


def load_database(release_dir: Path, url: str) -> dict[str, Any]:
    """Run :func:`load_child` in a fresh interpreter."""
    command = [sys.executable, str(Path(__file__).resolve()), str(release_dir), url]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"loading {release_dir} failed (exit {done.returncode})")
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    if loaded["errors"]:
        raise SystemExit("load failed:\n" + "\n".join(loaded["errors"]))
    return loaded


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn_server(database_url: str, log_path: Path, worker_class: str = "sync",
                    workers: int = 2, as_served: bool = False) -> Iterator[tuple[subprocess.Popen, int]]:
    """gunicorn with ``workers`` workers of ``worker_class`` and the app preloaded, on a free loopback port;
    stopped on the way out, also on error. Yields the master process and the port once ``/fhir/metadata`` answers.

    ``as_served``: as ``termserver serve`` runs it, the app's JSON access log of every request (into ``log_path``)
    and the workers' metrics in a ``PROMETHEUS_MULTIPROC_DIR``; else warnings only and per-process metrics."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers), *WORKER_CLASSES[worker_class],
               "--preload", "--bind", f"127.0.0.1:{port}", "--timeout", "60", "termserver.wsgi:app"]
    env = {k: v for k, v in os.environ.items() if k not in ("GUNICORN_CMD_ARGS", "PROMETHEUS_MULTIPROC_DIR")}
    env["TERMSERVER_DATABASE_URL"] = database_url
    if as_served:
        env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="termserver-metrics-")
        env.pop("TERMSERVER_LOG_LEVEL", None)
        env["TERMSERVER_LOG_FORMAT"] = "json"  # as the compose file runs it; server_side_latency reads it
    else:
        command[-1:-1] = ["--log-level", "warning"]
        env["TERMSERVER_LOG_LEVEL"] = "WARNING"
    with log_path.open("ab") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not answer /fhir/metadata within {START_TIMEOUT_S:.0f} s")
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                probe.request("GET", "/fhir/metadata")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            finally:
                probe.close()
            time.sleep(0.1)
        yield server, port
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
        if as_served:
            shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def server_side_latency(log_path: Path, since: float, until: float) -> dict[str, Any] | None:
    """Percentiles of the app's own request durations (the JSON access log's ``duration_ms``: from the WSGI call to
    the body handed to gunicorn) of the requests logged between the epoch times ``since`` and ``until``; None when
    the log has none."""
    from datetime import datetime

    durations = []
    with log_path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            if '"duration_ms"' not in line:
                continue
            try:
                entry = json.loads(line)
                logged = datetime.fromisoformat(entry["time"]).timestamp()
            except (ValueError, KeyError, TypeError):
                continue
            if since <= logged <= until:
                durations.append(float(entry["duration_ms"]))
    if not durations:
        return None
    durations.sort()

    def at(share: float) -> float:
        return durations[min(len(durations) - 1, int(share * len(durations)))]

    return {"requests": len(durations), "p50_ms": at(0.50), "p90_ms": at(0.90), "p99_ms": at(0.99),
            "max_ms": durations[-1]}


def write_figures(figures: dict[str, Any], path: Path | None) -> None:
    """Write a run's figures as JSON to ``path`` (``--json``), when given."""
    if path:
        path.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nfigures written to {path}")


if __name__ == "__main__":  # the child process of load_database: python bench/common.py RELEASES URL
    print(json.dumps(load_child(Path(sys.argv[1]), sys.argv[2])))


# wrk's end-of-run report as one JSON line; each bench appends it to its own Lua script after filling that script's
# % placeholders, so it is plain Lua
WRK_REPORT_LUA = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "non2xx": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f}\n', summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.timeout, e.status, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(script: Path, port: int, threads: int, connections: int, seconds: int, timeout: float) -> dict[str, Any]:
    """Run wrk with ``script`` (which ends with :data:`WRK_REPORT_LUA`) against 127.0.0.1:``port`` and return its
    figures: seconds, requests, rps, p50/p90/p99/max/mean in ms, non-2xx answers and socket errors by kind.

    Exits the bench when wrk fails or prints no report.
    """
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    raw = json.loads(line[len("WRKJSON "):])
    run_seconds = raw["duration_us"] / 1e6
    return {"seconds": run_seconds, "requests": raw["requests"], "rps": raw["requests"] / run_seconds,
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "max_ms": raw["max_us"] / 1000, "mean_ms": raw["mean_us"] / 1000, "non2xx": raw["non2xx"],
            "socket_errors": {k: raw[k] for k in ("connect", "read", "write", "timeout")}}

