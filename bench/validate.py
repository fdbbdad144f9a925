"""Validation benchmark: single ``$validate-code`` requests per second under load, codings per second through
``$batch-validate-code``, and the time to check a 1,000-entry MedCom ConditionList through ``$validate-codes``, each
against a baseline measured in the same run.

    python bench/validate.py [PATH] [--database-url URL] [--warmup 15] [--duration 10] [--connections 8,16,32]
                             [--worker-classes sync,gthread] [--load-tool auto|wrk|python] [--batch-reps 5]
                             [--batch-clients 4] [--bundle-runs 20] [--json PATH]

1. loads every release in PATH (default: $TERMSERVER_DATA, else ../shared/data), the synonym lexicon
   (``data/synonyms-da.tsv``) and MedCom's terminology FSH folder, as ``termserver load`` does, into a temporary
   SQLite database, in a child process; ``--database-url`` names an already loaded database instead;
2. builds the app with ``create_app`` and, through the Flask test client, checks that every request of the mix
   answers as expected (``result`` true or false) and times each one in-process (what the app itself costs);
3. for each worker class (``sync``: 2 workers; ``gthread``: 2 workers × 4 threads) starts
   ``gunicorn --workers 2 --preload`` on a free loopback port and drives it with ``wrk`` (``-t2 --latency``, a Lua
   script cycling through the mix), after one untimed warm-up: the whole mix, and the trivial ``GET /fhir/metadata``
   (the framework ceiling) at each connection count; the CodeSystem and the ValueSet halves of the mix, and a 404,
   at the middle count. Without ``wrk`` (``apt-get install wrk``) a Python load generator (processes × threads,
   ``http.client`` keep-alive) stands in, and the report says so. The load tool shares the machine's cores with
   gunicorn;
4. on the sync server: ``POST ValueSet/$batch-validate-code`` with 100 and 500 validations from the mix, by one
   client and by ``--batch-clients`` at once, against the same codings sent as single ``GET $validate-code`` calls
   one after another (the baseline); the same batches in-process for information;
5. builds a MedCom ConditionList document Bundle in memory (Composition, Patient and 1,000 Conditions with ICPC-2
   and SKS codes, a few of them wrong) and ``POST``s it to ``/fhir/$validate-codes``, over HTTP and in-process
   (``--bundle-runs`` each); baseline: its 1,000 ``Condition.code`` codings through single ``$validate-code`` calls;
6. for every goal missed, a cProfile of the in-process path of that request type (top functions by cumulative and by
   own time).

Prints the figures, the ratios against the baselines and PASS/MISS per goal: ≥ 3,000 single ``$validate-code``
requests per second with p99 ≤ 5 ms, ≥ 50,000 codings/s through ``$batch-validate-code``, a 1,000-entry
ConditionList checked in < 50 ms. A benchmark, not a test: the exit status is 0 whatever the figures are (and 1
only when the benchmark itself cannot run). Servers are stopped on the way out, also on error or SIGTERM; every
socket is on 127.0.0.1; every loop is bounded by a count or a time budget.
"""
from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import math
import multiprocessing
import os
import platform
import pstats
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlencode

from common import (REPO, WORKER_CLASSES, WRK_REPORT_LUA, default_release_dir, gunicorn_server,  # noqa: E402
                    load_database, lua_string, run_wrk, write_figures)

GOAL_RPS = 3000.0
GOAL_P99_MS = 5.0
GOAL_BATCH_CODINGS_S = 50_000.0
GOAL_BUNDLE_MS = 50.0
ICPC = "urn:oid:1.2.208.176.2.31"  # the ICPC-2 URI MedCom's ConditionList slice fixes
SKS = "urn:oid:1.2.208.176.2.4.12"  # SKS diagnoses (ICD-10-DK)
RIGHT = object()  # "the code's own display", looked up when the run starts
BATCH_SIZES = (100, 500)  # 500 is the server's most per request (services.batch.MAX_BATCH_VALIDATIONS)
BUNDLE_CONDITIONS = 1000
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Check:
    """One validation of the mix: a coding and whether it is valid (``display`` None: no display sent)."""

    label: str
    system: str
    code: str
    display: Any  # str, None, or RIGHT until resolved
    valid: bool


# what a GP system sends: mostly valid ICPC-2 codes, some with the display, some SKS, a wrong display, a typo'd code
MIX = (
    Check("ICPC-2 K86", ICPC, "K86", None, True),
    Check("ICPC-2 K86, right display", ICPC, "K86", RIGHT, True),
    Check("ICPC-2 K86, wrong display", ICPC, "K86", "Forhøjet blodtryk", False),
    Check("ICPC-2 T90, right display", ICPC, "T90", RIGHT, True),
    Check("ICPC-2 R74", ICPC, "R74", None, True),
    Check("ICPC-2 P76, right display", ICPC, "P76", RIGHT, True),
    Check("ICPC-2 K999 (unknown)", ICPC, "K999", None, False),
    Check("SKS DJ449", SKS, "DJ449", None, True),
    Check("SKS DJ449, right display", SKS, "DJ449", RIGHT, True),
    Check("SKS DE119, right display", SKS, "DE119", RIGHT, True),
    Check("SKS DJ449, wrong display", SKS, "DJ449", "KOL", False),
    Check("SKS DJ44X (unknown)", SKS, "DJ44X", None, False),
)
PATHS = ("CodeSystem", "ValueSet")


# --- set-up ---------------------------------------------------------------------------------------------------------


def git_state() -> dict[str, Any]:
    """The commit measured, and whether the product code differs from it."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True, cwd=REPO, timeout=30)
        return done.stdout.rstrip("\n")

    if not (REPO / ".git").exists():
        return {"commit": "unknown (not a git checkout)", "subject": "", "dirty": []}
    return {"commit": git("rev-parse", "--short", "HEAD"), "subject": git("log", "-1", "--format=%s")[:120],
            "dirty": [line[3:] for line in git("status", "--porcelain", "--", "termserver", "loaders").splitlines()]}


# --- requests -------------------------------------------------------------------------------------------------------


def single_path(check: Check, kind: str) -> str:
    """``GET`` URL of one ``$validate-code``: against the code system, or the system's implicit value set."""
    params: list[tuple[str, str]] = []
    if kind == "ValueSet":
        params.append(("url", f"{check.system}?fhir_vs"))
    params += [("system", check.system), ("code", check.code)]
    if check.display is not None:
        params.append(("display", check.display))
    return f"/fhir/{kind}/$validate-code?" + urlencode(params, safe=":/", quote_via=quote)


def validation_parameters(check: Check, kind: str) -> dict[str, Any]:
    """The ``validation`` parameter of ``$batch-validate-code`` for ``check`` (with ``url`` on the ValueSet path)."""
    inner: list[dict[str, Any]] = []
    if kind == "ValueSet":
        inner.append({"name": "url", "valueUri": f"{check.system}?fhir_vs"})
    inner += [{"name": "system", "valueUri": check.system}, {"name": "code", "valueCode": check.code}]
    if check.display is not None:
        inner.append({"name": "display", "valueString": check.display})
    return {"name": "validation", "resource": {"resourceType": "Parameters", "parameter": inner}}


def result_of(parameters: dict[str, Any]) -> bool | None:
    """``result`` of a ``$validate-code`` answer (None when it is not a Parameters with one)."""
    for parameter in parameters.get("parameter", []) if parameters.get("resourceType") == "Parameters" else []:
        if parameter.get("name") == "result":
            return parameter.get("valueBoolean")
    return None


def batch_body(items: list[tuple[Check, str]]) -> bytes:
    body = {"resourceType": "Parameters", "parameter": [validation_parameters(c, k) for c, k in items]}
    return json.dumps(body, ensure_ascii=False).encode()


def cycle(items: list[Any], n: int) -> list[Any]:
    return [items[i % len(items)] for i in range(n)]


# --- the ConditionList ----------------------------------------------------------------------------------------------


CONDITION_LIST = "http://medcomfhir.dk/ig/conditionlist/StructureDefinition/"


def condition_list_bundle(icpc: list[tuple[str, str]], sks: list[tuple[str, str]], n: int,
                          seed: int = 2026) -> tuple[dict[str, Any], list[Check], dict[str, int]]:
    """A MedCom ConditionList document with ``n`` Conditions (about 70 % ICPC-2, 30 % SKS; half send the display;
    about 2 % have an unknown code, a wrong display or a system outside the slices), the ``Condition.code`` coding of
    each as a :class:`Check`, and how many of each fault were planted."""
    rng = random.Random(seed)
    patient = {"resourceType": "Patient", "id": "p1", "identifier": [
        {"system": "urn:oid:1.2.208.176.1.2", "value": "0101709999"}], "name": [{"family": "Testesen"}]}
    composition = {"resourceType": "Composition", "id": "c1",
                   "meta": {"profile": [CONDITION_LIST + "medcom-conditionlist-composition"]},
                   "status": "final", "type": {"coding": [{"system": "http://loinc.org", "code": "11450-4"}]},
                   "subject": {"reference": "Patient/p1"}, "date": "2026-01-01T10:00:00+01:00",
                   "author": [{"reference": "Organization/o1"}], "title": "Problemliste",
                   "section": [{"entry": [{"reference": f"Condition/k{i}"} for i in range(n)]}]}
    entries = [{"fullUrl": "urn:uuid:composition-c1", "resource": composition},
               {"fullUrl": "urn:uuid:patient-p1", "resource": patient}]
    checks: list[Check] = []
    faults = {"unknown code": 0, "wrong display": 0, "system outside the slices": 0}
    for i in range(n):
        system, pool = (ICPC, icpc) if rng.random() < 0.7 else (SKS, sks)
        code, display = rng.choice(pool)
        coding: dict[str, Any] = {"system": system, "code": code}
        valid, sent = True, display if rng.random() < 0.5 else None
        roll = rng.random()
        if roll < 0.008:
            coding["code"], sent, valid = code + "9X", None, False
            faults["unknown code"] += 1
        elif roll < 0.016:
            sent, valid = "Forkert tekst", False
            faults["wrong display"] += 1
        elif roll < 0.02 and system == ICPC:
            coding["system"] = "http://hl7.org/fhir/sid/icpc-2"  # the same codes, but not the slice's URI
            faults["system outside the slices"] += 1
        if sent is not None:
            coding["display"] = sent
        checks.append(Check(f"Condition {i}", coding["system"], coding["code"], sent, valid))
        condition = {"resourceType": "Condition", "id": f"k{i}",
                     "meta": {"profile": [CONDITION_LIST + "medcom-conditionlist-condition"]},
                     "clinicalStatus": {"coding": [{
                         "system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
                     "verificationStatus": {"coding": [{
                         "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                         "code": "confirmed"}]},
                     "code": {"coding": [coding]}, "subject": {"reference": "Patient/p1"},
                     "onsetDateTime": f"20{10 + i % 15:02d}-0{1 + i % 9}-1{i % 10}",
                     "recordedDate": "2026-01-01"}
        entries.append({"fullUrl": f"urn:uuid:condition-k{i}", "resource": condition})
    bundle = {"resourceType": "Bundle", "id": "conditionlist-bench",
              "meta": {"profile": [CONDITION_LIST + "medcom-conditionlist-bundle"]}, "type": "document",
              "timestamp": "2026-01-01T10:00:00+01:00", "entry": entries}
    return bundle, checks, faults


def selectable_codes(client: Any, system: str, limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` selectable, active (code, display) pairs of ``system``, from its implicit value set (paged:
    the server answers at most 1,000 codes a page)."""
    found: list[tuple[str, str]] = []
    offset = 0
    while len(found) < limit:
        count = min(1000, limit - len(found))
        path = "/fhir/ValueSet/$expand?" + urlencode({"url": f"{system}?fhir_vs", "count": count, "offset": offset,
                                                      "activeOnly": "true", "excludeNotForUI": "true"})
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}: {response.get_data(True)[:300]}")
        contains = response.get_json().get("expansion", {}).get("contains", [])
        found += [(c["code"], c.get("display", "")) for c in contains
                  if not c.get("abstract") and not c.get("inactive") and c.get("display")]
        if len(contains) < count:
            break
        offset += count
    if len(found) < 20:
        raise SystemExit(f"only {len(found)} selectable codes of {system} to build the ConditionList from")
    return found[:limit]


# --- measuring ------------------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary_ms(timings: list[float]) -> dict[str, float]:
    return {"p50_ms": percentile(timings, 50), "p90_ms": percentile(timings, 90), "p99_ms": percentile(timings, 99),
            "max_ms": max(timings), "mean_ms": statistics.fmean(timings), "samples": len(timings)}


def timed_until(call: Callable[[], Any], reps: int, budget_s: float) -> list[float]:
    """Time ``call`` up to ``reps`` times, stopping early (after at least one) once ``budget_s`` is spent; ms."""
    timings: list[float] = []
    began = time.perf_counter()
    for _ in range(reps):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
        if time.perf_counter() - began > budget_s:
            break
    return timings


class HttpClient:
    """One ``http.client.HTTPConnection`` to 127.0.0.1, reused while the server keeps it open."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Accept": FHIR_JSON}
        if body is not None:
            headers["Content-Type"] = FHIR_JSON
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.connection.close()  # the server closed an idle keep-alive connection: once more, on a new one
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


# --- load tools -----------------------------------------------------------------------------------------------------

WRK_LUA = r"""
local paths = {%(paths)s}
local requests = {}
local position = 0
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  for i, path in ipairs(paths) do
    requests[i] = wrk.format("GET", path, {["Accept"] = "application/fhir+json"})
  end
  position = (id or 0) * 7
end

function request()
  position = position + 1
  return requests[(position %% #requests) + 1]
end

"""


class LoadTool:
    """Drives ``paths`` (cycled) at ``connections`` concurrent connections for ``seconds``; wrk or Python."""

    def __init__(self, name: str, scratch: Path) -> None:
        self.name = name
        self.scratch = scratch
        self.scripts: dict[tuple[str, ...], Path] = {}

    def run(self, port: int, paths: list[str], connections: int, seconds: float) -> dict[str, Any]:
        if self.name == "wrk":
            return self._wrk(port, paths, connections, seconds)
        return python_load(port, paths, connections, seconds)

    def _wrk(self, port: int, paths: list[str], connections: int, seconds: float) -> dict[str, Any]:
        key = tuple(paths)
        if key not in self.scripts:
            script = self.scratch / f"mix{len(self.scripts)}.lua"
            script.write_text(WRK_LUA % {"paths": ", ".join(lua_string(p) for p in paths)} + WRK_REPORT_LUA,
                              encoding="utf-8")
            self.scripts[key] = script
        threads = min(2, connections)
        figures = run_wrk(self.scripts[key], port, threads, connections, max(1, round(seconds)), seconds + 60)
        return {"tool": "wrk", "connections": connections, "threads": threads, **figures}


def _pool_child() -> None:
    """Pool workers end on the pool's SIGTERM quietly, not through the parent's clean-up handler."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _python_load_process(job: tuple[int, list[str], int, float, int]) -> dict[str, Any]:
    """One load process: ``threads`` threads, each a keep-alive connection cycling through ``paths``."""
    port, paths, threads, seconds, offset = job
    latencies: list[list[float]] = [[] for _ in range(threads)]
    non2xx = [0] * threads
    errors = [0] * threads
    deadline = time.perf_counter() + seconds

    def worker(number: int) -> None:
        position = offset + number * 7
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.perf_counter() < deadline:
            path = paths[position % len(paths)]
            position += 1
            started = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Accept": FHIR_JSON})
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                errors[number] += 1
                connection.close()
                continue
            latencies[number].append((time.perf_counter() - started) * 1000)
            non2xx[number] += not 200 <= response.status < 300
            if response.will_close:
                connection.close()
        connection.close()

    began = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(seconds + 30)
    return {"seconds": time.perf_counter() - began, "latencies": [t for per in latencies for t in per],
            "non2xx": sum(non2xx), "errors": sum(errors)}


def python_load(port: int, paths: list[str], connections: int, seconds: float) -> dict[str, Any]:
    """The fallback load generator: up to 4 processes, the connections spread over their threads."""
    processes = min(4, connections)
    shares = [connections // processes + (n < connections % processes) for n in range(processes)]
    jobs = [(port, paths, share, seconds, n * 1000) for n, share in enumerate(shares)]
    with multiprocessing.get_context("fork").Pool(processes, _pool_child) as pool:
        parts = pool.map(_python_load_process, jobs)
    latencies = [t for part in parts for t in part["latencies"]]
    wall = max(part["seconds"] for part in parts)
    figures = {"tool": "python", "connections": connections, "threads": processes, "seconds": wall,
               "requests": len(latencies), "rps": len(latencies) / wall, "non2xx": sum(p["non2xx"] for p in parts),
               "socket_errors": {"errors": sum(p["errors"] for p in parts)}}
    figures.update({k: v for k, v in summary_ms(latencies or [float("nan")]).items() if k != "samples"})
    return figures


def _batch_client(job: tuple[int, bytes, int]) -> dict[str, Any]:
    """One concurrent ``$batch-validate-code`` client: ``reps`` batches, one after another."""
    port, body, reps = job
    client = HttpClient(port)
    timings, statuses = [], []
    began = time.perf_counter()
    for _ in range(reps):
        started = time.perf_counter()
        status, _ = client.request("POST", "/fhir/ValueSet/$batch-validate-code", body)
        timings.append((time.perf_counter() - started) * 1000)
        statuses.append(status)
    client.close()
    return {"seconds": time.perf_counter() - began, "timings": timings, "statuses": statuses}


# --- profiles -------------------------------------------------------------------------------------------------------


def profile(call: Callable[[], Any], top: int = 10) -> dict[str, Any]:
    """cProfile of ``call``: the ``top`` functions by cumulative time (all, and the app's own) and by own time."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    call()
    profiler.disable()
    wall = (time.perf_counter() - started) * 1000
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if filename == __file__:
            continue  # the benchmark's own loop around the calls
        where = filename
        for marker in ("site-packages/", str(REPO) + "/", "lib/python3"):
            if marker in where:
                where = where.split(marker, 1)[1]
                break
        rows.append({"function": f"{where}:{line}({name})", "calls": calls, "own_ms": own * 1000,
                     "cumulative_ms": cumulative * 1000})
    by_cumulative = sorted(rows, key=lambda r: -r["cumulative_ms"])
    return {"wall_ms": wall, "by_cumulative": by_cumulative[:top],
            "by_cumulative_termserver": [r for r in by_cumulative if r["function"].startswith("termserver/")][:top],
            "by_own": sorted(rows, key=lambda r: -r["own_ms"])[:top]}


# --- the run --------------------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, release_dir: Path, scratch: Path) -> dict[str, Any]:
    """Every measurement of one run; returns the figures."""
    figures: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count(),
                               "platform": platform.platform(), "git": git_state(),
                               "settings": {"warmup_s": args.warmup, "duration_s": args.duration,
                                            "connections": args.connections, "worker_classes": args.worker_classes}}
    url = args.database_url
    if url is None:
        url = f"sqlite:///{scratch / 'termserver.sqlite'}"
        started = time.perf_counter()
        loaded = load_database(release_dir, url)
        figures["load"] = {"paths": loaded["paths"], "parts": loaded["parts"], "seconds": time.perf_counter() - started}
        print(f"loaded {', '.join(loaded['paths'])}: {loaded['parts']} parts in {figures['load']['seconds']:.1f} s "
              f"(child process)", file=sys.stderr)

    from importlib.metadata import version

    from termserver import create_app

    figures["versions"] = {name: version(name) for name in ("flask", "werkzeug", "gunicorn", "sqlalchemy")}
    figures["versions"]["sqlite"] = sqlite3.sqlite_version
    figures["load_tool"] = args.load_tool
    started = time.perf_counter()
    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    figures["create_app_s"] = time.perf_counter() - started
    client = app.test_client()

    # the mix, with the right displays looked up, checked in-process before anything is timed
    mix: list[Check] = []
    for check in MIX:
        if check.display is RIGHT:
            answer = client.get(single_path(Check("", check.system, check.code, None, True), "CodeSystem"))
            display = next((p.get("valueString") for p in answer.get_json().get("parameter", [])
                            if p.get("name") == "display"), None)
            if display is None:
                raise SystemExit(f"{check.system}|{check.code} has no display to send ({answer.status_code})")
            check = Check(check.label, check.system, check.code, display, check.valid)
        mix.append(check)
    items = [(check, kind) for kind in PATHS for check in mix]
    paths = {kind: [single_path(c, kind) for c in mix] for kind in PATHS}
    all_paths = [p for kind in PATHS for p in paths[kind]]
    wrong = []
    for check, kind in items:
        response = client.get(single_path(check, kind))
        got = result_of(response.get_json() or {})
        if response.status_code != 200 or got is not check.valid:
            wrong.append(f"{kind} {check.label}: HTTP {response.status_code}, result {got}, expected {check.valid}")
    figures["mix"] = [{"label": c.label, "path": k, "url": single_path(c, k), "valid": c.valid} for c, k in items]
    figures["mix_wrong_answers"] = wrong
    for line in wrong:
        print(f"  UNEXPECTED {line}", file=sys.stderr)

    # in-process cost of each request of the mix (Flask test client): what the app costs without HTTP
    print("in-process $validate-code, per request of the mix ...", file=sys.stderr)
    per_request = []
    for check, kind in items:
        path = single_path(check, kind)
        client.get(path)
        timings = timed_until(lambda: client.get(path), args.inprocess_reps, 1.0)
        per_request.append({"label": check.label, "path": kind, **summary_ms(timings)})
    figures["in_process_single"] = per_request
    for kind in PATHS:
        chosen = [r["p50_ms"] for r in per_request if r["path"] == kind]
        figures.setdefault("in_process_single_mean_p50_ms", {})[kind] = statistics.fmean(chosen)

    # the ConditionList and the batches, built before the servers start
    icpc_codes = selectable_codes(client, ICPC, 2000)
    sks_codes = selectable_codes(client, SKS, 3000)
    bundle, bundle_checks, faults = condition_list_bundle(icpc_codes, sks_codes, BUNDLE_CONDITIONS)
    bundle_bytes = json.dumps(bundle, ensure_ascii=False).encode()
    figures["bundle"] = {"entries": len(bundle["entry"]), "conditions": BUNDLE_CONDITIONS, "bytes": len(bundle_bytes),
                         "faults": faults, "icpc_pool": len(icpc_codes), "sks_pool": len(sks_codes)}
    batches = {size: batch_body(cycle(items, size)) for size in BATCH_SIZES}

    # in-process: $validate-codes and $batch-validate-code through the test client
    print("in-process $validate-codes and $batch-validate-code ...", file=sys.stderr)

    def check_bundle_in_process() -> Any:
        response = client.post("/fhir/$validate-codes", data=bundle_bytes, content_type=FHIR_JSON)
        if response.status_code != 200:
            raise SystemExit(f"$validate-codes: HTTP {response.status_code}: {response.get_data(True)[:500]}")
        return response.get_json()

    outcome = check_bundle_in_process()
    severities: dict[str, int] = {}
    for issue in outcome.get("issue", []):
        severities[issue["severity"]] = severities.get(issue["severity"], 0) + 1
    figures["bundle"]["issues"] = severities
    figures["bundle"]["in_process"] = summary_ms(timed_until(check_bundle_in_process, args.bundle_runs, 60.0))

    def single_in_process(check: Check) -> None:
        client.get(single_path(check, "CodeSystem"))

    bundle_single = timed_until(lambda: [single_in_process(c) for c in bundle_checks], 1, 120.0)
    figures["bundle"]["baseline_in_process_ms"] = bundle_single[0]

    batch_in_process: dict[int, Any] = {}
    for size, body in batches.items():
        def post_batch(body: bytes = body) -> None:
            response = client.post("/fhir/ValueSet/$batch-validate-code", data=body, content_type=FHIR_JSON)
            if response.status_code != 200:
                raise SystemExit(f"$batch-validate-code: HTTP {response.status_code}: "
                                 f"{response.get_data(True)[:500]}")
        post_batch()
        timings = timed_until(post_batch, args.batch_reps, args.batch_budget)
        batch_in_process[size] = {**summary_ms(timings), "codings_per_s": size * len(timings) / (sum(timings) / 1000)}
    figures["batch_in_process"] = batch_in_process
    answer = client.post("/fhir/ValueSet/$batch-validate-code", data=batches[BATCH_SIZES[0]],
                         content_type=FHIR_JSON).get_json()
    got = [result_of(p["resource"]) for p in answer.get("parameter", [])]
    expected = [c.valid for c, _ in cycle(items, BATCH_SIZES[0])]
    figures["batch_answers_as_expected"] = sum(g is e for g, e in zip(got, expected))

    # over HTTP, one server per worker class
    tool = LoadTool(args.load_tool, scratch)
    middle = sorted(args.connections)[len(args.connections) // 2]
    figures["servers"] = {}
    for worker_class in args.worker_classes:
        print(f"gunicorn, {worker_class} workers ...", file=sys.stderr)
        started = time.perf_counter()
        with gunicorn_server(url, scratch / f"gunicorn-{worker_class}.log", worker_class) as (server, port):
            server_figures: dict[str, Any] = {"start_s": time.perf_counter() - started}
            if args.warmup > 0:
                tool.run(port, all_paths, middle, args.warmup)
            rows: list[dict[str, Any]] = []
            for connections in args.connections:
                for name, chosen in (("mix", all_paths), ("ceiling /fhir/metadata", ["/fhir/metadata"])):
                    row = tool.run(port, chosen, connections, args.duration)
                    rows.append({"load": name, **row})
                    print(f"  {worker_class} c{connections} {name}: {row['rps']:.0f} RPS, p50 {row['p50_ms']:.2f} ms, "
                          f"p99 {row['p99_ms']:.2f} ms", file=sys.stderr)
            for name, chosen in (("CodeSystem/$validate-code", paths["CodeSystem"]),
                                 ("ValueSet/$validate-code", paths["ValueSet"]),
                                 ("ceiling 404", ["/fhir/no-such-thing"])):
                row = tool.run(port, chosen, middle, args.duration)
                rows.append({"load": name, **row})
                print(f"  {worker_class} c{middle} {name}: {row['rps']:.0f} RPS, p50 {row['p50_ms']:.2f} ms, "
                      f"p99 {row['p99_ms']:.2f} ms", file=sys.stderr)
            server_figures["rows"] = rows
            if worker_class == args.worker_classes[0]:
                measure_batches_http(args, port, batches, items, figures)
                measure_bundle_http(args, port, bundle_bytes, bundle_checks, figures)
        figures["servers"][worker_class] = server_figures

    # profiles of the in-process path for each goal missed
    figures["profiles"] = {}
    goals = verdicts(figures)
    if not all(met for key, _, met, _ in goals if key == "single"):
        figures["profiles"]["single $validate-code (the mix, CodeSystem and ValueSet, 5 passes)"] = profile(
            lambda: [client.get(p) for _ in range(5) for p in all_paths])
    if not all(met for key, _, met, _ in goals if key == "batch"):
        figures["profiles"][f"$batch-validate-code, {BATCH_SIZES[-1]} validations"] = profile(
            lambda: client.post("/fhir/ValueSet/$batch-validate-code", data=batches[BATCH_SIZES[-1]],
                                content_type=FHIR_JSON))
    if not all(met for key, _, met, _ in goals if key == "bundle"):
        figures["profiles"][f"$validate-codes, ConditionList of {BUNDLE_CONDITIONS} Conditions"] = profile(
            check_bundle_in_process)
    app.extensions["termserver.engine"].dispose()
    return figures


def measure_batches_http(args: argparse.Namespace, port: int, batches: dict[int, bytes],
                         items: list[tuple[Check, str]], figures: dict[str, Any]) -> None:
    """``$batch-validate-code`` over HTTP, by one client and by several, and the single-call baseline."""
    print("  $batch-validate-code over HTTP ...", file=sys.stderr)
    client = HttpClient(port)
    results: dict[str, Any] = {}
    try:
        for size, body in batches.items():
            def post(body: bytes = body) -> None:
                status, answer = client.request("POST", "/fhir/ValueSet/$batch-validate-code", body)
                if status != 200:
                    raise SystemExit(f"$batch-validate-code: HTTP {status}: {answer[:500]!r}")
            post()
            timings = timed_until(post, args.batch_reps, args.batch_budget)
            results[f"{size}, 1 client"] = {"size": size, "clients": 1, **summary_ms(timings),
                                            "codings_per_s": size * len(timings) / (sum(timings) / 1000)}
            jobs = [(port, body, args.batch_reps) for _ in range(args.batch_clients)]
            with multiprocessing.get_context("fork").Pool(args.batch_clients, _pool_child) as pool:
                parts = pool.map(_batch_client, jobs)
            wall = max(p["seconds"] for p in parts)
            timings = [t for p in parts for t in p["timings"]]
            bad = sum(s != 200 for p in parts for s in p["statuses"])
            results[f"{size}, {args.batch_clients} clients"] = {
                "size": size, "clients": args.batch_clients, **summary_ms(timings), "non200": bad,
                "codings_per_s": size * len(timings) / wall}
            one, many = results[f"{size}, 1 client"], results[f"{size}, {args.batch_clients} clients"]
            print(f"    {size}: 1 client {one['codings_per_s']:.0f} codings/s, {args.batch_clients} clients "
                  f"{many['codings_per_s']:.0f} codings/s", file=sys.stderr)

        # baseline: the same codings as single GET $validate-code calls, one after another
        size = BATCH_SIZES[-1]
        singles = [single_path(c, k) for c, k in cycle(items, size)]
        began = time.perf_counter()
        timings = []
        for path in singles:
            started = time.perf_counter()
            status, answer = client.request("GET", path)
            timings.append((time.perf_counter() - started) * 1000)
            if status != 200:
                raise SystemExit(f"{path}: HTTP {status}: {answer[:300]!r}")
            if time.perf_counter() - began > args.batch_budget * 3:
                break
        seconds = time.perf_counter() - began
        results["baseline: single GETs, 1 client"] = {"size": len(timings), "clients": 1, **summary_ms(timings),
                                                      "codings_per_s": len(timings) / seconds}
    finally:
        client.close()
    figures["batch_http"] = results


def measure_bundle_http(args: argparse.Namespace, port: int, bundle_bytes: bytes, checks: list[Check],
                        figures: dict[str, Any]) -> None:
    """The ConditionList through ``$validate-codes`` over HTTP, and its codings through single calls (baseline)."""
    print("  $validate-codes over HTTP ...", file=sys.stderr)
    client = HttpClient(port)
    try:
        def post() -> None:
            status, answer = client.request("POST", "/fhir/$validate-codes", bundle_bytes)
            if status != 200:
                raise SystemExit(f"$validate-codes: HTTP {status}: {answer[:500]!r}")
        post()
        figures["bundle"]["http"] = summary_ms(timed_until(post, args.bundle_runs, 60.0))
        began = time.perf_counter()
        for check in checks:
            status, answer = client.request("GET", single_path(check, "CodeSystem"))
            if status != 200:
                raise SystemExit(f"{single_path(check, 'CodeSystem')}: HTTP {status}: {answer[:300]!r}")
        figures["bundle"]["baseline_http_ms"] = (time.perf_counter() - began) * 1000
    finally:
        client.close()


# --- the report -----------------------------------------------------------------------------------------------------


def best_row(rows: list[dict[str, Any]], load: str) -> dict[str, Any]:
    """The row of ``load`` with the most requests per second among those meeting the p99 goal, else the fastest."""
    chosen = [r for r in rows if r["load"] == load]
    meeting = [r for r in chosen if r["p99_ms"] <= GOAL_P99_MS]
    return max(meeting or chosen, key=lambda r: r["rps"])


def verdicts(figures: dict[str, Any]) -> list[tuple[str, str, bool, str]]:
    """(goal key, goal, met, the figure) for every goal of the issue; rows of key ``info`` carry no verdict."""
    rows: list[tuple[str, str, bool, str]] = []
    for worker_class, server in figures.get("servers", {}).items():
        best = best_row(server["rows"], "mix")
        rows.append(("single", f"$validate-code mix, {worker_class}: ≥ {GOAL_RPS:,.0f} RPS", best["rps"] >= GOAL_RPS,
                     f"{best['rps']:,.0f} RPS at c{best['connections']}"))
        rows.append(("single", f"$validate-code mix, {worker_class}: p99 ≤ {GOAL_P99_MS:g} ms at that load",
                     best["p99_ms"] <= GOAL_P99_MS, f"{best['p99_ms']:.2f} ms at c{best['connections']}"))
    batch = figures.get("batch_http")
    if batch:
        top = max((r for k, r in batch.items() if not k.startswith("baseline")), key=lambda r: r["codings_per_s"])
        rows.append(("batch", f"$batch-validate-code ≥ {GOAL_BATCH_CODINGS_S:,.0f} codings/s",
                     top["codings_per_s"] >= GOAL_BATCH_CODINGS_S,
                     f"{top['codings_per_s']:,.0f}/s ({top['size']} a batch, {top['clients']} client(s))"))
    bundle = figures.get("bundle", {})
    if "http" in bundle:
        rows.append(("bundle", f"ConditionList of {bundle['conditions']:,} over HTTP < {GOAL_BUNDLE_MS:g} ms (median)",
                     bundle["http"]["p50_ms"] < GOAL_BUNDLE_MS, f"{bundle['http']['p50_ms']:.1f} ms"))
    return rows


def print_report(figures: dict[str, Any]) -> None:
    git = figures["git"]
    print(f"\npython {figures['python']} on {figures['cpus']} CPU(s); "
          + ", ".join(f"{k} {v}" for k, v in figures["versions"].items()))
    print(f"commit {git['commit']} ({git['subject']})" + (f"; uncommitted changes in {', '.join(git['dirty'])}"
                                                            if git["dirty"] else "; no uncommitted product changes"))
    tool = figures["load_tool"]
    print(f"load tool: {tool}" + (" (Python fallback: processes × threads, http.client keep-alive)"
                                  if tool == "python" else " -t2 --latency, Lua script cycling through the URLs")
          + f"; it shares the {figures['cpus']} CPU(s) with gunicorn")
    print(f"mix: {len(figures['mix'])} GET $validate-code URLs ({len(figures['mix']) // 2} CodeSystem, "
          f"{len(figures['mix']) // 2} ValueSet (implicit ?fhir_vs)); answers as expected in-process: "
          f"{len(figures['mix']) - len(figures['mix_wrong_answers'])} of {len(figures['mix'])}")
    for line in figures["mix_wrong_answers"]:
        print(f"  UNEXPECTED {line}")

    print(f"\nin-process (Flask test client), per request of the mix, ms  {'p50':>7} {'p99':>7}  samples")
    for row in figures["in_process_single"]:
        print(f"  {row['path']:<10} {row['label']:<32} {'':15} {row['p50_ms']:7.3f} {row['p99_ms']:7.3f}  "
              f"{row['samples']}")
    means = figures["in_process_single_mean_p50_ms"]
    print("  mean of the p50s: " + ", ".join(f"{k} {v:.3f} ms" for k, v in means.items()))

    for worker_class, server in figures["servers"].items():
        label = {"sync": "2 sync workers", "gthread": "2 gthread workers × 4 threads"}.get(worker_class, worker_class)
        print(f"\ngunicorn --preload, {label} (answered after {server['start_s']:.1f} s); "
              f"{figures['settings']['duration_s']:g} s a row after a {figures['settings']['warmup_s']:g} s warm-up")
        print(f"  {'load':<28} {'conns':>5} {'RPS':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7}"
              f" {'non-2xx':>8}  socket errors")
        ceilings = {r["connections"]: r["rps"] for r in server["rows"] if r["load"] == "ceiling /fhir/metadata"}
        for row in server["rows"]:
            errors = ", ".join(f"{k} {v}" for k, v in row["socket_errors"].items() if v) or "none"
            print(f"  {row['load']:<28} {row['connections']:>5} {row['rps']:8.0f} {row['p50_ms']:7.2f} "
                  f"{row['p90_ms']:7.2f} {row['p99_ms']:7.2f} {row['max_ms']:7.1f} {row['non2xx']:>8}  {errors}")
        ratios = [f"{r['load']} c{r['connections']} {r['rps'] / ceilings[r['connections']]:.2f}"
                  for r in server["rows"] if not r["load"].startswith("ceiling") and r["connections"] in ceilings]
        print("  validate RPS ÷ ceiling (/fhir/metadata) RPS at the same connections: " + ", ".join(ratios))

    if "batch_http" in figures:
        print(f"\n$batch-validate-code (POST ValueSet/$batch-validate-code, the mix cycled), over HTTP "
              f"({next(iter(figures['servers']))} server)")
        print(f"  {'':<36} {'codings/s':>10} {'p50 ms':>8} {'p99 ms':>8}  requests")
        for name, row in figures["batch_http"].items():
            print(f"  {name:<36} {row['codings_per_s']:10,.0f} {row['p50_ms']:8.1f} {row['p99_ms']:8.1f}  "
                  f"{row['samples']}")
        base = figures["batch_http"]["baseline: single GETs, 1 client"]["codings_per_s"]
        print("  batch codings/s ÷ single GETs codings/s: " + ", ".join(
            f"{k} ×{r['codings_per_s'] / base:.1f}" for k, r in figures["batch_http"].items()
            if not k.startswith("baseline")))
        print("  in-process (test client), for information: " + ", ".join(
            f"{size} a batch {r['codings_per_s']:,.0f} codings/s (p50 {r['p50_ms']:.1f} ms)"
            for size, r in figures["batch_in_process"].items()))
        print(f"  answers of the {BATCH_SIZES[0]}-validation batch as expected: {figures['batch_answers_as_expected']}"
              f" of {BATCH_SIZES[0]}")

    bundle = figures["bundle"]
    print(f"\nConditionList (document Bundle, {bundle['entries']:,} entries: Composition, Patient, "
          f"{bundle['conditions']:,} Conditions; {bundle['bytes'] / 1e6:.2f} MB) through POST /fhir/$validate-codes")
    print("  planted faults: " + ", ".join(f"{k} {v}" for k, v in bundle["faults"].items())
          + "; issues answered: " + ", ".join(f"{k} {v}" for k, v in sorted(bundle["issues"].items())))
    for name, label in (("http", "over HTTP"), ("in_process", "in-process (test client)")):
        if name in bundle:
            row = bundle[name]
            print(f"  {label:<26} median {row['p50_ms']:7.1f} ms, p90 {row['p90_ms']:7.1f} ms, max "
                  f"{row['max_ms']:7.1f} ms ({row['samples']} runs)")
    if "baseline_http_ms" in bundle:
        over_http = bundle["baseline_http_ms"] / bundle["http"]["p50_ms"]
        in_process = bundle["baseline_in_process_ms"] / bundle["in_process"]["p50_ms"]
        print(f"  baseline: its {bundle['conditions']:,} Condition.code codings as single GET "
              f"CodeSystem/$validate-code: {bundle['baseline_http_ms']:.0f} ms over HTTP (×{over_http:.1f} the "
              f"bundle's median), {bundle['baseline_in_process_ms']:.0f} ms in-process (×{in_process:.1f})")

    for name, prof in figures["profiles"].items():
        print(f"\nprofile, in-process: {name} ({prof['wall_ms']:.0f} ms under cProfile)")
        for title, key in (("by cumulative time", "by_cumulative"),
                           ("by cumulative time, termserver/ only", "by_cumulative_termserver"),
                           ("by own time", "by_own")):
            print(f"  top {len(prof[key])} {title}: {'cum ms':>9} {'own ms':>8} {'calls':>8}")
            for row in prof[key]:
                print(f"    {row['function'][:76]:<76} {row['cumulative_ms']:9.1f} {row['own_ms']:8.1f} "
                      f"{row['calls']:8}")

    print("\ngoals")
    for _, goal, met, value in verdicts(figures):
        print(f"  {'PASS' if met else 'MISS'}  {goal:<62} {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=None,
                        help="release folder (default: $TERMSERVER_DATA, else ../shared/data)")
    parser.add_argument("--database-url", help="an already loaded database to use instead of loading PATH into a "
                                               "temporary SQLite file (read only)")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of untimed load per server (default 15)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured load row (default 10)")
    parser.add_argument("--connections", default="8,16,32", help="connection counts (default 8,16,32)")
    parser.add_argument("--worker-classes", default="sync,gthread",
                        help="gunicorn worker classes to measure, the first also for batches and the bundle "
                             "(sync, gthread; default both)")
    parser.add_argument("--load-tool", choices=("auto", "wrk", "python"), default="auto",
                        help="auto: wrk when installed, else the Python load generator")
    parser.add_argument("--inprocess-reps", type=int, default=200, help="in-process timings per request of the mix")
    parser.add_argument("--batch-reps", type=int, default=5, help="batches per size and client (default 5)")
    parser.add_argument("--batch-budget", type=float, default=20.0, help="seconds per batch measurement at most")
    parser.add_argument("--batch-clients", type=int, default=4, help="concurrent batch clients (default 4)")
    parser.add_argument("--bundle-runs", type=int, default=20, help="ConditionList checks per path (default 20)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    release_dir = (args.path or default_release_dir()).resolve()
    sys.path.insert(0, str(REPO))
    if args.database_url is None and not release_dir.is_dir():
        parser.error(f"{release_dir} does not exist (give a path, set TERMSERVER_DATA or use --database-url)")
    try:
        args.connections = sorted({int(c) for c in args.connections.split(",")})
    except ValueError:
        parser.error("--connections takes numbers separated by commas")
    args.worker_classes = [w.strip() for w in args.worker_classes.split(",") if w.strip()]
    if not args.worker_classes or any(w not in WORKER_CLASSES for w in args.worker_classes):
        parser.error(f"--worker-classes: choose from {', '.join(WORKER_CLASSES)}")
    if min(args.connections) < 1 or min(args.inprocess_reps, args.batch_reps, args.batch_clients,
                                        args.bundle_runs) < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("connections, repetitions and clients must be at least 1, --duration at least 1 s")
    if args.load_tool == "auto":
        args.load_tool = "wrk" if shutil.which("wrk") else "python"
        if args.load_tool == "python":
            print("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk); using the Python load generator, "
                  "which saturates sooner: its figures are lower bounds", file=sys.stderr)
    elif args.load_tool == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (Debian/Ubuntu: apt-get install -y wrk); or use --load-tool python")

    # a SIGTERM unwinds like an error, so gunicorn is stopped and the temporary database removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    with tempfile.TemporaryDirectory(prefix="termserver-validate-") as scratch:
        figures = measure(args, release_dir, Path(scratch))
    print_report(figures)
    write_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
