"""Load test: 60 s of mixed picker/validator traffic at a fixed rate against gunicorn as ``termserver serve`` runs
it (2 sync workers, ``--preload``), with a baseline measured in the same run.

    python bench/load_test.py [PATH] [--database-url URL] [--rate 1000] [--duration 60] [--connections 64]
                              [--warmup 10] [--json PATH]

1. loads every release in PATH (default: $TERMSERVER_DATA, else ../shared/data), the synonym lexicon and MedCom's
   FSH value sets into a temporary SQLite database (or into ``--database-url``, e.g. the PostgreSQL of
   ``bash scripts/postgres.sh``; loading an already loaded database changes nothing), in a child process;
2. starts ``gunicorn --workers 2 --preload`` (sync workers) on a free loopback port, as ``termserver serve`` runs it:
   the app's JSON access log of every request (into a scratch file) and multiprocess Prometheus metrics;
3. builds the mix and checks every URL of it answers 200 once (URLs that do not are dropped and counted):
   70 % typeahead ``ValueSet/$expand`` of the ICPC-2 or SKS implicit value set with ``filter`` and ``count=10``,
   the filters being the queries of ``bench/queries-da.tsv`` as typed (every prefix of 3 characters or more;
   every other query's with ``displayLanguage=da``, as the web page's picker asks),
   20 % ``CodeSystem/$lookup`` and 10 % ``CodeSystem/$validate-code`` (half with the display) of their codes;
4. runs ``wrk`` at a constant rate (a Lua script paces each thread's requests to a fixed schedule with
   ``clock_gettime``, as wrk2 does; wrk counts latency from the actual send): an untimed warm-up, the baseline
   (``GET /fhir/metadata`` at the same rate and duration), then the mix. One wrk thread by default (``--threads``):
   the load generator shares the cores with the server, and each extra thread competes with the workers (with 2
   threads the mix's p99 was ~10× higher while the app's own times were unchanged; bench/RESULTS.md);
5. reads the app's own time per request of the mix (``duration_ms`` of its JSON access log) as a second view of
   where the time goes: what wrk sees beyond it is queueing, the network stack and the load generator.

Prints the achieved rate, p50/p99/max latency and errors (socket errors + non-2xx answers) of both, the ratio of
the mix to the baseline, and the goal "0 errors, p99 ≤ 20 ms at 1,000 RPS" as PASS/MISS. The load generator shares
the machine's cores with gunicorn. A benchmark, not a test: the exit status is 0 whatever the figures are (1 only
when the benchmark itself cannot run). The server is stopped on the way out, also on error.
"""
from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import platform
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from common import (REPO, WRK_REPORT_LUA, default_release_dir, gunicorn_server, load_database,  # noqa: E402
                    lua_string, server_side_latency, write_figures)
from common import run_wrk as common_run_wrk  # noqa: E402

GOAL_RPS = 1000.0
GOAL_P99_MS = 20.0
ICPC = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
SYSTEMS = {"icpc2": ICPC, "sks": SKS}
MIX = (("expand", 0.70), ("lookup", 0.20), ("validate", 0.10))
MIX_SIZE = 2000  # URLs in the cycled list (shuffled once, seeded)

WRK_LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } termserver_timespec;
int clock_gettime(int clock_id, termserver_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("termserver_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local paths = {%(paths)s}
local rate = %(rate)f          -- requests per second, all threads together
local nthreads = %(threads)d
local requests = {}
local position = 0
local counter = 0
local interval = 0
local next_slot = nil

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

function init(args)
  for i, path in ipairs(paths) do
    requests[i] = wrk.format("GET", path, {["Accept"] = "application/fhir+json"})
  end
  position = (id or 0) * 997
  interval = 1000.0 * nthreads / rate
end

-- open loop: each request takes the next slot of this thread's fixed schedule, whatever the answers took
function delay()
  local now = now_ms()
  if next_slot == nil then
    next_slot = now + (id or 0) * interval / nthreads
  end
  local wait = next_slot - now
  next_slot = next_slot + interval
  if wait < 0 then return 0 end
  return wait
end

function request()
  position = position + 1
  return requests[(position %% #requests) + 1]
end

"""


def read_queries() -> list[tuple[str, str, str]]:
    """(query, expected code, system URI) from bench/queries-da.tsv."""
    rows: list[tuple[str, str, str]] = []
    with (REPO / "bench" / "queries-da.tsv").open(encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    for row in csv.DictReader(lines, delimiter="\t"):
        if row.get("system") in SYSTEMS and row.get("query"):
            rows.append((row["query"], row["code"], SYSTEMS[row["system"]]))
    return rows


def candidate_urls(queries: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """The URLs of each kind of request, before the mix is drawn from them."""
    expand, lookup, validate = [], [], []
    for number, (query, code, system) in enumerate(queries):
        for end in range(3, len(query) + 1):  # as typed: every prefix of 3 characters or more
            params = {"url": f"{system}?fhir_vs", "filter": query[:end], "count": "10"}
            if number % 2:  # half the pickers ask for Danish displays, as the web page does
                params["displayLanguage"] = "da"
            expand.append("/fhir/ValueSet/$expand?" + urlencode(params, quote_via=quote, safe=":/?"))
        lookup.append("/fhir/CodeSystem/$lookup?" + urlencode({"system": system, "code": code}, quote_via=quote,
                                                              safe=":/"))
        validate.append("/fhir/CodeSystem/$validate-code?" + urlencode({"system": system, "code": code},
                                                                       quote_via=quote, safe=":/"))
    return {"expand": sorted(set(expand)), "lookup": sorted(set(lookup)), "validate": sorted(set(validate))}


def checked_urls(port: int, urls: dict[str, list[str]]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Keep the URLs that answer 200; with the display for half the $validate-code ones (the code's own)."""
    kept: dict[str, list[str]] = {kind: [] for kind in urls}
    dropped: dict[str, int] = {kind: 0 for kind in urls}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for kind, items in urls.items():
            for number, path in enumerate(items):
                connection.request("GET", path, headers={"Accept": "application/fhir+json"})
                response = connection.getresponse()
                body = response.read()
                if response.will_close:
                    connection.close()
                if response.status != 200:
                    dropped[kind] += 1
                    continue
                if kind == "validate" and number % 2 == 0:
                    parameters = json.loads(body).get("parameter", [])
                    display = next((p.get("valueString") for p in parameters if p.get("name") == "display"), None)
                    if display:
                        path += "&display=" + quote(display, safe="")
                kept[kind].append(path)
    finally:
        connection.close()
    return kept, dropped


def draw_mix(urls: dict[str, list[str]], size: int, seed: int = 2026) -> list[str]:
    rng = random.Random(seed)
    mix: list[str] = []
    for kind, share in MIX:
        pool = urls[kind]
        mix += [pool[i % len(pool)] for i in rng.sample(range(max(size, len(pool))), round(size * share))]
    rng.shuffle(mix)
    return mix


def run_wrk(port: int, paths: list[str], rate: float, seconds: int, connections: int, scratch: Path,
            name: str, threads: int) -> dict[str, Any]:
    script = scratch / f"{name}.lua"
    script.write_text(WRK_LUA % {"paths": ", ".join(lua_string(p) for p in paths), "rate": rate,
                                 "threads": threads} + WRK_REPORT_LUA, encoding="utf-8")
    figures = common_run_wrk(script, port, threads, connections, seconds, timeout=seconds + 120)
    return {"target_rps": rate, "seconds": round(figures["seconds"], 1), "requests": figures["requests"],
            "rps": round(figures["rps"], 1), "p50_ms": figures["p50_ms"], "p90_ms": figures["p90_ms"],
            "p99_ms": figures["p99_ms"], "max_ms": figures["max_ms"], "mean_ms": round(figures["mean_ms"], 3),
            "non2xx": figures["non2xx"], "socket_errors": figures["socket_errors"],
            "errors": figures["non2xx"] + sum(figures["socket_errors"].values())}


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), "")
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform()}


def line(name: str, r: dict[str, Any]) -> str:
    return (f"{name:10} {r['rps']:8.1f} req/s (target {r['target_rps']:.0f})  p50 {r['p50_ms']:6.2f} ms  "
            f"p90 {r['p90_ms']:6.2f} ms  p99 {r['p99_ms']:7.2f} ms  max {r['max_ms']:8.2f} ms  "
            f"errors {r['errors']} (non-2xx {r['non2xx']}, socket {r['socket_errors']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=None)
    parser.add_argument("--database-url", help="Load into (and serve from) this database instead of a temporary "
                                               "SQLite file.")
    parser.add_argument("--rate", type=float, default=GOAL_RPS)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1,
                        help="wrk threads (default 1: on a machine shared with the server every thread competes with "
                             "its workers for the cores; 1 sustains the rate)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (apt-get install wrk)")
    release_dir = args.path or default_release_dir()
    with tempfile.TemporaryDirectory(prefix="termserver-load-") as scratch_name:
        scratch = Path(scratch_name)
        url = args.database_url or f"sqlite:///{scratch / 'termserver.sqlite'}"
        loaded = load_database(release_dir, url)
        store = url.split(":", 1)[0]
        print(f"store {store}: loaded {loaded['parts']} parts in {loaded['seconds']:.1f} s")
        with gunicorn_server(url, scratch / "gunicorn.log", "sync", 2, as_served=True) as (_, port):
            urls, dropped = checked_urls(port, candidate_urls(read_queries()))
            mix = draw_mix(urls, MIX_SIZE)
            print(f"mix of {len(mix)} URLs from {', '.join(f'{len(v)} {k}' for k, v in urls.items())} "
                  f"(dropped, not 200: {dropped})")
            run_wrk(port, mix, args.rate, args.warmup, args.connections, scratch, "warmup", args.threads)
            baseline = run_wrk(port, ["/fhir/metadata"], args.rate, args.duration, args.connections, scratch,
                               "baseline", args.threads)
            started = time.time()
            measured = run_wrk(port, mix, args.rate, args.duration, args.connections, scratch, "mix", args.threads)
            finished = time.time()
        server_side = server_side_latency(scratch / "gunicorn.log", started + 1, finished - 1)
    print(line("baseline", baseline))
    print(line("mix", measured))
    if server_side:
        print(f"mix, the app's own time per request (access log, {server_side['requests']} requests): "
              f"p50 {server_side['p50_ms']:.2f} ms  p90 {server_side['p90_ms']:.2f} ms  "
              f"p99 {server_side['p99_ms']:.2f} ms  max {server_side['max_ms']:.2f} ms")
    ratio = {"p50": round(measured["p50_ms"] / baseline["p50_ms"], 2) if baseline["p50_ms"] else None,
             "p99": round(measured["p99_ms"] / baseline["p99_ms"], 2) if baseline["p99_ms"] else None}
    print(f"mix / baseline: p50 ×{ratio['p50']}, p99 ×{ratio['p99']}")
    passed = measured["errors"] == 0 and measured["p99_ms"] <= GOAL_P99_MS and measured["rps"] >= 0.98 * args.rate
    print(f"goal: 0 errors, p99 ≤ {GOAL_P99_MS:.0f} ms at {GOAL_RPS:,.0f} RPS — "
          f"{'PASS' if passed and args.rate >= GOAL_RPS else 'MISS'} ({measured['errors']} errors, "
          f"p99 {measured['p99_ms']:.2f} ms at {measured['rps']:.0f} RPS)")
    write_figures({"store": store, "machine": machine(), "rate": args.rate, "duration_s": args.duration,
                   "connections": args.connections, "wrk_threads": args.threads, "server_side": server_side, "mix": dict(MIX), "dropped_urls": dropped,
                   "baseline": baseline, "mix_result": measured, "ratio": ratio,
                   "goal": "PASS" if passed and args.rate >= GOAL_RPS else "MISS"}, args.json)


if __name__ == "__main__":
    main()
