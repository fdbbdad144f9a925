"""Typeahead benchmark: accuracy and latency of the Danish search on ``bench/queries-da.tsv``, in-process and over
HTTP, against a brute-force rapidfuzz baseline measured in the same run.

    python bench/typeahead.py [PATH] [--database-url URL] [--passes 5] [--http-passes 3] [--baseline-passes 3]
                              [--wide-baseline-passes 1] [--queries TSV] [--json PATH]

1. loads every release in PATH (default: $TERMSERVER_DATA, else ../shared/data) plus the synonym lexicon
   (``data/synonyms-da.tsv``, as ``termserver load`` adds it) into a temporary SQLite database, in a child process so
   that this process's peak RSS is the app's alone; ``--database-url`` names an already loaded database instead;
2. builds the app with ``create_app`` and times ``search_codes(index, q, [system], limit=5)`` per query: one warm-up
   pass, then ``--passes`` passes; top-1 and top-5 accuracy, per kind of query, and every miss;
3. sends the same queries through the FHIR path in-process (Flask test client,
   ``GET /fhir/ValueSet/$expand?url=<system>?fhir_vs&filter=q&count=5``): what the framework adds;
4. starts gunicorn (1 sync worker, ``--preload``, a free loopback port) and sends the queries one at a time to
   ``/api/search`` and to ``ValueSet/$expand``; every answer must equal the in-process top 5;
5. runs the baseline: ``rapidfuzz.process.extract(q, displays, scorer=WRatio, processor=default_process, limit=5)``
   over every display string of the query's system (the index's ``concepts[*].display``), and, for information, the
   same over the displays of every indexed system (``--wide-baseline-passes``, 0 to skip);
6. for information: every prefix of every query once, as a picker sends them while the words are typed, and the full
   garbage collections of this process by phase (each one is a pause of about 100 ms with the index in memory).

Prints the figures and PASS/MISS per goal: over HTTP p50 ≤ 2 ms and p99 ≤ 10 ms, ≥ 50× faster than the baseline,
top-1 ≥ 95 %, top-5 ≥ 99 %. A benchmark, not a test: the exit status is 0 whatever the figures are (and 1 only when
the benchmark itself cannot run).
"""
from __future__ import annotations

import argparse
import gc
import http.client
import json
import math
import os
import platform
import resource
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from common import REPO, default_release_dir, gunicorn_server, load_database, write_figures  # noqa: E402

QUERIES = REPO / "bench" / "queries-da.tsv"
TOP = 5
GOAL_HTTP_P50_MS = 2.0
GOAL_HTTP_P99_MS = 10.0
GOAL_SPEEDUP = 50.0
GOAL_TOP1 = 0.95
GOAL_TOP5 = 0.99
SLOW_MS = 10.0


@dataclass(frozen=True)
class Query:
    text: str
    code: str
    system: str  # canonical URI
    kind: str


# --- set-up ---------------------------------------------------------------------------------------------------------


def read_queries(path: Path) -> list[Query]:
    """The query set: ``query<TAB>code<TAB>system<TAB>kind`` rows; ``#`` comments and the header are skipped."""
    from termserver.systems import ICPC2, SKS_DIAGNOSES

    systems = {"icpc2": ICPC2, "sks": SKS_DIAGNOSES}
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#") or line.startswith("query\t"):
            continue
        fields = line.split("\t")
        if len(fields) != 4 or fields[2] not in systems:
            raise SystemExit(f"{path}:{number}: expected query, code, system (icpc2|sks), kind: {line!r}")
        text, code, system, kind = fields
        queries.append(Query(text, code, systems[system], kind))
    return queries


# --- measuring ------------------------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile (p99 of 1,610 timings is the 1,594th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (10^6 bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6  # bytes on macOS, KiB on Linux


def proc_memory_mb(pid: int | str) -> dict[str, float]:
    """VmRSS and VmHWM (and Pss, when readable) of a Linux process, in MB; empty elsewhere."""
    figures: dict[str, float] = {}
    for name, fields in (("status", ("VmRSS", "VmHWM")), ("smaps_rollup", ("Pss",))):
        try:
            lines = Path(f"/proc/{pid}/{name}").read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition(":")
            if key in fields:
                figures[key] = int(value.split()[0]) * 1024 / 1e6  # kB
    return figures


@dataclass
class Timed:
    """Per query: the top-5 codes of the last pass, and every pass's latency in milliseconds."""

    answers: list[list[str]]
    timings: list[list[float]]

    @property
    def all_ms(self) -> list[float]:
        return [t for per_query in self.timings for t in per_query]

    def p(self, q: float) -> float:
        return percentile(self.all_ms, q)


def run_passes(queries: list[Query], call: Callable[[Query], list[str]], passes: int,
               progress: str | None = None, warm_up: bool = True) -> Timed:
    """One untimed warm-up pass, then ``passes`` timed passes of ``call`` over every query, in order."""
    for query in queries if warm_up else ():
        call(query)
    answers: list[list[str]] = [[] for _ in queries]
    timings: list[list[float]] = [[] for _ in queries]
    for number in range(passes):
        for position, query in enumerate(queries):
            started = time.perf_counter()
            answers[position] = call(query)
            timings[position].append((time.perf_counter() - started) * 1000)
        if progress:
            print(f"  {progress}: pass {number + 1}/{passes} done", file=sys.stderr)
    return Timed(answers, timings)


def keystroke_figures(strokes: list[tuple[str, str]], timings: list[float]) -> dict[str, Any]:
    """Latency of the prefixes a picker sends while typing, overall and by length (1, 2, 3+ characters)."""
    figures: dict[str, Any] = {"samples": len(timings), "p50_ms": percentile(timings, 50),
                               "p99_ms": percentile(timings, 99), "max_ms": max(timings),
                               "over_slow_ms": sum(t > SLOW_MS for t in timings), "by_length": {}}
    for label, test in (("1", lambda n: n == 1), ("2", lambda n: n == 2), ("3+", lambda n: n >= 3)):
        chosen = [t for (text, _), t in zip(strokes, timings) if test(len(text.strip()))]
        if chosen:
            figures["by_length"][label] = {"samples": len(chosen), "p50_ms": percentile(chosen, 50),
                                           "p99_ms": percentile(chosen, 99), "max_ms": max(chosen),
                                           "over_slow_ms": sum(t > SLOW_MS for t in chosen)}
    ranked = sorted(zip(strokes, timings), key=lambda item: -item[1])[:8]
    figures["slowest"] = [{"query": text, "system": system, "ms": ms} for (text, system), ms in ranked]
    return figures


def accuracy(queries: list[Query], answers: list[list[str]]) -> dict[str, Any]:
    """Top-1 and top-5 accuracy overall and per kind of query."""
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, top-1, top-5
    for query, answer in zip(queries, answers):
        for key in (query.kind, "all"):
            kinds[key][0] += 1
            kinds[key][1] += answer[:1] == [query.code]
            kinds[key][2] += query.code in answer[:TOP]
    table = {k: {"n": n, "top1": one / n, "top5": five / n} for k, (n, one, five) in kinds.items()}
    return {"top1": table["all"]["top1"], "top5": table["all"]["top5"], "kinds": table}


class HttpClient:
    """One ``http.client.HTTPConnection`` reused for every request; it reconnects by itself when the server closes
    the connection after a response, and counts how often it had to."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.requests = 0
        self.connects = 0
        self.server_closed = 0

    def get(self, path: str) -> tuple[int, bytes]:
        if self.connection.sock is None:
            self.connects += 1
        self.connection.request("GET", path, headers={"Accept": "application/json"})
        response = self.connection.getresponse()
        body = response.read()
        self.requests += 1
        self.server_closed += response.will_close
        return response.status, body

    def close(self) -> None:
        self.connection.close()


class GcWatch:
    """Full (generation 2) garbage collections in this process and how long each took, by benchmark phase: the
    index holds a few hundred thousand objects, so a full collection is a pause far longer than a search."""

    def __init__(self) -> None:
        self.phase = "start"
        self.full: dict[str, list[float]] = defaultdict(list)
        self._began = 0.0

    def __call__(self, stage: str, info: dict[str, int]) -> None:
        if stage == "start":
            self._began = time.perf_counter()
        elif info["generation"] == 2:
            self.full[self.phase].append((time.perf_counter() - self._began) * 1000)


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is ``parent`` (Linux /proc; empty elsewhere)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


# --- the run --------------------------------------------------------------------------------------------------------


def expand_path(query: Query, count: int = TOP) -> str:
    return "/fhir/ValueSet/$expand?" + urlencode({"url": f"{query.system}?fhir_vs", "filter": query.text,
                                                   "count": count})


def search_path_everywhere(query: Query) -> str:
    return "/api/search?" + urlencode({"q": query.text, "limit": TOP})


def search_path(query: Query) -> str:
    return "/api/search?" + urlencode({"q": query.text, "system": query.system, "limit": TOP})


def expansion_codes(document: dict[str, Any]) -> list[str]:
    return [item["code"] for item in document.get("expansion", {}).get("contains", [])]


def measure(args: argparse.Namespace, release_dir: Path, scratch: Path, watch: GcWatch) -> dict[str, Any]:
    """Every measurement of one run; returns the figures."""
    figures: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count(),
                               "platform": platform.platform()}
    queries = read_queries(args.queries)
    figures["queries"] = len(queries)
    url = args.database_url
    if url is None:
        url = f"sqlite:///{scratch / 'termserver.sqlite'}"
        started = time.perf_counter()
        loaded = load_database(release_dir, url)
        figures["load"] = {"paths": loaded["paths"], "parts": loaded["parts"],
                           "seconds": time.perf_counter() - started}
        print(f"loaded {', '.join(loaded['paths'])}: {loaded['parts']} parts in "
              f"{figures['load']['seconds']:.1f} s (child process)", file=sys.stderr)

    from importlib.metadata import version

    from rapidfuzz import fuzz, process
    from rapidfuzz.utils import default_process

    from termserver import create_app
    from termserver.services.search import search_codes

    figures["versions"] = {name: version(name) for name in ("flask", "werkzeug", "gunicorn", "rapidfuzz",
                                                            "sqlalchemy")}
    figures["versions"]["sqlite"] = sqlite3.sqlite_version
    memory: dict[str, Any] = {"imports_peak_mb": peak_rss_mb()}
    watch.phase = "create_app"
    started = time.perf_counter()
    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    figures["create_app_s"] = time.perf_counter() - started
    index = app.extensions["termserver.search"].index
    figures["index_build_s"] = index.seconds
    memory["after_index_peak_mb"] = peak_rss_mb()
    memory["after_index"] = proc_memory_mb("self")
    figures["systems"] = {s: {"version": i.version, "concepts": len(i.concepts), "terms": len(i.terms),
                              "words": len(i.vocab)} for s, i in index.systems.items()}
    missing = sorted({q.system for q in queries} - set(index.systems))
    if missing:
        raise SystemExit(f"not loaded (nothing to search): {', '.join(missing)}")

    # 1. the engine, in-process
    def ours(query: Query) -> list[str]:
        return [hit.code for hit in search_codes(index, query.text, [query.system], limit=TOP)]

    print("in-process search ...", file=sys.stderr)
    watch.phase = "search_codes"
    engine = run_passes(queries, ours, args.passes)

    # 2. the FHIR path, in-process: what Flask, parameter parsing, rendering and the per-request session add
    client = app.test_client()

    def fhir_in_process(query: Query) -> list[str]:
        response = client.get(expand_path(query))
        if response.status_code != 200:
            raise SystemExit(f"$expand {query.text!r}: HTTP {response.status_code}: {response.get_data(True)[:300]}")
        return expansion_codes(response.get_json())

    print("in-process $expand (test client) ...", file=sys.stderr)
    watch.phase = "expand_in_process"
    fhir_local = run_passes(queries, fhir_in_process, args.passes)

    # 3. the baseline: brute force over every display string of the query's system
    displays = {s: [c.display for c in index.get(s).concepts] for s in {q.system for q in queries}}
    codes = {s: [c.code for c in index.get(s).concepts] for s in displays}

    def baseline(query: Query) -> list[str]:
        found = process.extract(query.text, displays[query.system], scorer=fuzz.WRatio,
                                processor=default_process, limit=TOP)
        return [codes[query.system][position] for _, _, position in found]

    print("baseline (rapidfuzz WRatio over all displays) ...", file=sys.stderr)
    watch.phase = "baseline"
    brute = run_passes(queries, baseline, args.baseline_passes)

    # the same baseline over every display string of every indexed system (the other reading of "all display
    # strings"): for information, the goal is judged on the per-system baseline above
    wide = None
    if args.wide_baseline_passes:
        every = [(s, c.code, c.display) for s, system in index.systems.items() for c in system.concepts]
        every_displays = [display for _, _, display in every]

        def wide_baseline(query: Query) -> list[str]:
            found = process.extract(query.text, every_displays, scorer=fuzz.WRatio, processor=default_process,
                                    limit=TOP)
            return [every[p][1] if every[p][0] == query.system else f"{every[p][0]}#{every[p][1]}"
                    for _, _, p in found]

        print(f"wide baseline (WRatio over all {len(every)} displays of every system) ...", file=sys.stderr)
        watch.phase = "wide_baseline"
        wide = run_passes(queries, wide_baseline, args.wide_baseline_passes, warm_up=False)
        figures["wide_baseline_displays"] = len(every)

    # the engine over every system at once (what /api/search does without system=): the same scope as the
    # baseline over all display strings
    def ours_everywhere(query: Query) -> list[str]:
        return [hit.code if hit.system == query.system else f"{hit.system}#{hit.code}"
                for hit in search_codes(index, query.text, None, limit=TOP)]

    print("in-process search over every system ...", file=sys.stderr)
    watch.phase = "search_codes_all"
    engine_all = run_passes(queries, ours_everywhere, args.passes)

    # what a picker sends while the words are typed: every prefix of every query, once (information, no goal)
    strokes = sorted({(q.text[:n], q.system) for q in queries for n in range(1, len(q.text) + 1)
                      if q.text[:n].strip()})
    stroke_ms = []
    watch.phase = "keystrokes"
    for text, system in strokes:
        started = time.perf_counter()
        search_codes(index, text, [system], limit=TOP)
        stroke_ms.append((time.perf_counter() - started) * 1000)
    figures["keystrokes"] = keystroke_figures(strokes, stroke_ms)
    memory["in_process_end_peak_mb"] = peak_rss_mb()

    # 4. over HTTP, sequentially, against gunicorn
    print("gunicorn ...", file=sys.stderr)
    watch.phase = "http_client"
    started = time.perf_counter()
    with gunicorn_server(url, scratch / "gunicorn.log", workers=1) as (server, port):
        figures["gunicorn_start_s"] = time.perf_counter() - started
        http_client = HttpClient(port)

        def over_http(path_of: Callable[[Query], str], codes_of: Callable[[Any], list[str]]) -> Callable:
            def call(query: Query) -> list[str]:
                status, body = http_client.get(path_of(query))
                if status != 200:
                    raise SystemExit(f"{path_of(query)}: HTTP {status}: {body[:300]!r}")
                return codes_of(json.loads(body))
            return call

        try:
            api = run_passes(queries, over_http(search_path, lambda hits: [h["code"] for h in hits]),
                             args.http_passes, "HTTP /api/search")
            fhir_http = run_passes(queries, over_http(expand_path, expansion_codes), args.http_passes,
                                   "HTTP $expand")
            api_all = run_passes(queries, over_http(search_path_everywhere, lambda hits: [
                h["code"] for h in hits]), args.http_passes, "HTTP /api/search over every system")
        finally:
            http_client.close()
        workers = child_pids(server.pid)
        memory["gunicorn_master"] = proc_memory_mb(server.pid)
        memory["gunicorn_worker"] = proc_memory_mb(workers[0]) if len(workers) == 1 else {}
        figures["http_connection"] = {"requests": http_client.requests, "connects": http_client.connects,
                                      "server_closed": http_client.server_closed}
    figures["memory"] = memory
    watch.phase = "report"
    figures["gc_full_ms"] = {phase: times for phase, times in watch.full.items()}

    # agreement: the HTTP answers must be the in-process top 5
    disagreements = []
    for name, timed in (("in-process $expand", fhir_local), ("HTTP /api/search", api), ("HTTP $expand", fhir_http)):
        for query, expected, got in zip(queries, engine.answers, timed.answers):
            if got != expected:
                disagreements.append({"path": name, "query": query.text, "in_process": expected, "got": got})
    figures["disagreements"] = disagreements

    def latency(timed: Timed) -> dict[str, float]:
        return {"p50_ms": timed.p(50), "p90_ms": timed.p(90), "p99_ms": timed.p(99), "max_ms": max(timed.all_ms),
                "mean_ms": statistics.fmean(timed.all_ms), "samples": len(timed.all_ms)}

    figures["latency"] = {"search_codes": latency(engine), "expand_in_process": latency(fhir_local),
                          "http_api_search": latency(api), "http_expand": latency(fhir_http),
                          "baseline": latency(brute), "search_codes_all_systems": latency(engine_all),
                          "http_api_search_all_systems": latency(api_all)}
    if wide is not None:
        figures["latency"]["wide_baseline"] = latency(wide)
    by_system: dict[str, dict[str, float]] = {}
    for system in sorted(displays):
        chosen = [i for i, q in enumerate(queries) if q.system == system]
        by_system[system] = {
            "queries": len(chosen), "displays": len(displays[system]),
            "ours_p50_ms": percentile([t for i in chosen for t in engine.timings[i]], 50),
            "http_p50_ms": percentile([t for i in chosen for t in api.timings[i]], 50),
            "baseline_p50_ms": percentile([t for i in chosen for t in brute.timings[i]], 50)}
    figures["by_system"] = by_system
    figures["accuracy"] = {"ours": accuracy(queries, engine.answers), "baseline": accuracy(queries, brute.answers)}
    if wide is not None:
        figures["accuracy"]["wide_baseline"] = accuracy(queries, wide.answers)

    # misses, with where the expected code ranks in the full (unpaged) result
    misses = []
    for query, answer in zip(queries, engine.answers):
        if answer[:1] == [query.code]:
            continue
        hits = index.get(query.system).search(query.text)
        rank = next((n for n, h in enumerate(hits, 1) if h.code == query.code), None)
        top = hits[0] if hits else None
        misses.append({"query": query.text, "kind": query.kind, "expected": query.code,
                       "expected_display": _display(index, query), "rank": rank, "hits": len(hits),
                       "got": top.code if top else None, "got_display": top.display if top else None,
                       "got_via": f"{top.match_kind}/{top.term_kind}: {top.matched_term}" if top else None})
    figures["misses"] = misses

    def slowest(timed: Timed, n: int = 8) -> list[dict[str, Any]]:
        rows = [{"query": q.text, "system": q.system, "median_ms": statistics.median(t), "max_ms": max(t)}
                for q, t in zip(queries, timed.timings)]
        return sorted(rows, key=lambda r: -r["median_ms"])[:n]

    figures["slowest"] = {"search_codes": slowest(engine), "http_api_search": slowest(api),
                          "baseline": slowest(brute, 3)}
    figures["over_slow_ms"] = {name: sum(t > SLOW_MS for t in timed.all_ms) for name, timed in
                               (("search_codes", engine), ("http_api_search", api), ("http_expand", fhir_http))}
    app.extensions["termserver.engine"].dispose()
    return figures


def _display(index: Any, query: Query) -> str | None:
    system = index.get(query.system)
    return next((c.display for c in system.concepts if c.code == query.code), None)


# --- the report -----------------------------------------------------------------------------------------------------


def verdicts(figures: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(goal, met, the figure) for every goal of the issue."""
    lat, acc = figures["latency"], figures["accuracy"]["ours"]
    base = lat["baseline"]["p50_ms"]
    rows = []
    for name, label in (("http_api_search", "HTTP /api/search"), ("http_expand", "HTTP $expand")):
        rows.append((f"{label} p50 ≤ {GOAL_HTTP_P50_MS:g} ms", lat[name]["p50_ms"] <= GOAL_HTTP_P50_MS,
                     f"{lat[name]['p50_ms']:.2f} ms"))
        rows.append((f"{label} p99 ≤ {GOAL_HTTP_P99_MS:g} ms", lat[name]["p99_ms"] <= GOAL_HTTP_P99_MS,
                     f"{lat[name]['p99_ms']:.2f} ms"))
    if "wide_baseline" in lat:
        # the baseline: WRatio "over all display strings", against the engine over the same scope
        wide = lat["wide_baseline"]["p50_ms"]
        for name, label in (("search_codes_all_systems", "in-process search, every system"),
                            ("http_api_search_all_systems", "HTTP /api/search, every system")):
            ratio = wide / lat[name]["p50_ms"]
            rows.append((f"all-displays baseline p50 / {label} p50 ≥ {GOAL_SPEEDUP:g}×", ratio >= GOAL_SPEEDUP,
                         f"×{ratio:.0f}"))
    for name, label in (("search_codes", "in-process search_codes"), ("http_api_search", "HTTP /api/search")):
        ratio = base / lat[name]["p50_ms"]
        rows.append((f"(info) one-system baseline p50 / {label} p50", True, f"×{ratio:.1f}"))
    rows.append((f"top-1 ≥ {GOAL_TOP1:.0%}", acc["top1"] >= GOAL_TOP1, f"{acc['top1']:.1%}"))
    rows.append((f"top-5 ≥ {GOAL_TOP5:.0%}", acc["top5"] >= GOAL_TOP5, f"{acc['top5']:.1%}"))
    rows.append(("HTTP answers equal the in-process top 5", not figures["disagreements"],
                 f"{len(figures['disagreements'])} differ"))
    return rows


def print_report(figures: dict[str, Any]) -> None:
    lat, acc = figures["latency"], figures["accuracy"]
    print(f"\npython {figures['python']} on {figures['cpus']} CPU(s); " +
          ", ".join(f"{k} {v}" for k, v in figures["versions"].items()))
    print(f"{figures['queries']} queries; app built in {figures['create_app_s']:.2f} s (search index "
          f"{figures['index_build_s']:.2f} s); gunicorn answered after {figures['gunicorn_start_s']:.1f} s")
    for system, info in figures["systems"].items():
        print(f"  index {system} | {info['version']}: {info['concepts']} concepts, {info['terms']} terms, "
              f"{info['words']} words")

    print(f"\nlatency, ms (one warm-up pass, then all timed passes)  {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}"
          f"  samples")
    labels = {"search_codes": "in-process search_codes", "expand_in_process": "in-process $expand (test client)",
              "http_api_search": "HTTP /api/search", "http_expand": "HTTP $expand",
              "baseline": "baseline: WRatio over the system's displays",
              "wide_baseline": f"(baseline over all {figures.get('wide_baseline_displays')} displays)"}
    for name, label in labels.items():
        if name not in lat:
            continue
        row = lat[name]
        print(f"  {label:<50} {row['p50_ms']:7.3f} {row['p90_ms']:7.3f} {row['p99_ms']:7.3f} {row['max_ms']:7.2f}"
              f"  {row['samples']}")
    connection = figures["http_connection"]
    print(f"  HTTP: {connection['requests']} requests on one HTTPConnection, {connection['connects']} TCP connects; "
          f"the server closed the connection after {connection['server_closed']} responses")
    base = lat["baseline"]["p50_ms"]
    print(f"  baseline p50 / in-process p50 = ×{base / lat['search_codes']['p50_ms']:.0f}; "
          f"baseline p50 / HTTP /api/search p50 = ×{base / lat['http_api_search']['p50_ms']:.1f}")
    if "wide_baseline" in lat:
        wide = lat["wide_baseline"]["p50_ms"]
        print(f"  (over all displays of every system: ×{wide / lat['search_codes']['p50_ms']:.0f} in-process, "
              f"×{wide / lat['http_api_search']['p50_ms']:.0f} over HTTP)")
    print("  p50 by system, ms (ours in-process | HTTP /api/search | baseline; baseline / ours):")
    for system, row in figures["by_system"].items():
        ours, http, brute = row["ours_p50_ms"], row["http_p50_ms"], row["baseline_p50_ms"]
        print(f"    {system}: {row['queries']} queries, {row['displays']} displays: {ours:.3f} | {http:.3f} | "
              f"{brute:.3f}; ×{brute / ours:.0f} in-process, ×{brute / http:.1f} over HTTP")
    slow = figures["over_slow_ms"]
    print(f"  timings over {SLOW_MS:g} ms: " + ", ".join(f"{k} {v}" for k, v in slow.items()))
    print("  slowest queries in-process (median | max ms): " + "; ".join(
        f"{r['query']!r} {r['median_ms']:.2f} | {r['max_ms']:.2f}" for r in figures["slowest"]["search_codes"]))
    print("  slowest queries over HTTP /api/search (median | max ms): " + "; ".join(
        f"{r['query']!r} {r['median_ms']:.2f} | {r['max_ms']:.2f}" for r in figures["slowest"]["http_api_search"]))

    strokes = figures["keystrokes"]
    print(f"\nwhile typing: every prefix of every query, in-process search_codes, one pass (no goal), ms "
          f"{'p50':>7} {'p99':>7} {'max':>7}  > {SLOW_MS:g} ms")
    for label, row in [("all", strokes)] + [(f"{k} character(s)", v) for k, v in strokes["by_length"].items()]:
        print(f"  {label:<16} {row['samples']:5} prefixes {'':<37} {row['p50_ms']:7.3f} {row['p99_ms']:7.3f} "
              f"{row['max_ms']:7.2f}  {row['over_slow_ms']}")
    print("  slowest: " + "; ".join(f"{r['query']!r} ({r['system'].rsplit('/', 1)[-1]}) {r['ms']:.1f}"
                                    for r in strokes["slowest"]))

    print("  full garbage collections in this process, by phase (count, longest ms): " + ", ".join(
        f"{phase} {len(times)}, {max(times):.0f}" for phase, times in figures["gc_full_ms"].items()))

    memory = figures["memory"]
    print("\nmemory, MB")
    print(f"  this process: peak RSS after imports {memory['imports_peak_mb']:.0f}, after create_app (index built) "
          f"{memory['after_index_peak_mb']:.0f} (VmRSS {memory['after_index'].get('VmRSS', float('nan')):.0f}), "
          f"at the end of the in-process part {memory['in_process_end_peak_mb']:.0f}")
    for name in ("gunicorn_master", "gunicorn_worker"):
        info = memory[name]
        if info:
            print(f"  {name.replace('_', ' ')}: VmRSS {info.get('VmRSS', float('nan')):.0f}, VmHWM "
                  f"{info.get('VmHWM', float('nan')):.0f}, Pss {info.get('Pss', float('nan')):.0f}")

    ours, brute, wide = acc["ours"], acc["baseline"], acc.get("wide_baseline")
    print("\naccuracy          ours top-1  top-5   baseline top-1  top-5" + ("   (all displays) top-1  top-5"
                                                                           if wide else ""))
    kinds = sorted((k for k in ours["kinds"] if k != "all"), key=lambda k: -ours["kinds"][k]["n"]) + ["all"]
    for kind in kinds:
        a, b = ours["kinds"][kind], brute["kinds"][kind]
        line = f"  {kind:<8} {a['n']:4}   {a['top1']:7.1%} {a['top5']:6.1%}         {b['top1']:7.1%} {b['top5']:6.1%}"
        if wide:
            w = wide["kinds"][kind]
            line += f"                {w['top1']:7.1%} {w['top5']:6.1%}"
        print(line)

    print(f"\nmisses at top-1 ({len(figures['misses'])}): query [kind] expected → got (rank of expected in all hits)")
    for miss in figures["misses"]:
        rank = f"#{miss['rank']} of {miss['hits']}" if miss["rank"] else f"not among {miss['hits']} hits"
        print(f"  {miss['query']!r} [{miss['kind']}] {miss['expected']} {miss['expected_display']!r} → "
              f"{miss['got']} {miss['got_display']!r} via {miss['got_via']!r} ({rank})")
    for row in figures["disagreements"][:10]:
        print(f"  DIFFERS {row['path']} {row['query']!r}: in-process {row['in_process']} vs {row['got']}")

    print("\ngoals")
    for goal, met, value in verdicts(figures):
        print(f"  {'PASS' if met else 'MISS'}  {goal:<52} {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Typeahead benchmark: accuracy and latency of the search on "
                                                 "bench/queries-da.tsv, in-process and over HTTP, against a "
                                                 "brute-force rapidfuzz baseline.")
    parser.add_argument("path", nargs="?", type=Path, default=None,
                        help="release folder (default: $TERMSERVER_DATA, else ../shared/data)")
    parser.add_argument("--database-url", help="an already loaded database to use instead of loading PATH into a "
                                               "temporary SQLite file (read only)")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="query set (default: bench/queries-da.tsv)")
    parser.add_argument("--passes", type=int, default=5, help="timed in-process passes (after one warm-up pass)")
    parser.add_argument("--http-passes", type=int, default=3, help="timed HTTP passes per endpoint (after a warm-up)")
    parser.add_argument("--baseline-passes", type=int, default=3, help="timed baseline passes (after a warm-up)")
    parser.add_argument("--wide-baseline-passes", type=int, default=1,
                        help="timed passes of the baseline over the displays of every system (0: skip it)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    release_dir = (args.path or default_release_dir()).resolve()
    sys.path.insert(0, str(REPO))
    if args.database_url is None and not release_dir.is_dir():
        parser.error(f"{release_dir} does not exist (give a path, set TERMSERVER_DATA or use --database-url)")
    if min(args.passes, args.http_passes, args.baseline_passes) < 1 or args.wide_baseline_passes < 0:
        parser.error("every number of passes must be at least 1 (--wide-baseline-passes: 0 or more)")

    # a SIGTERM unwinds like an error, so gunicorn is stopped and the temporary database removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    watch = GcWatch()
    gc.callbacks.append(watch)
    try:
        with tempfile.TemporaryDirectory(prefix="termserver-typeahead-") as scratch:
            figures = measure(args, release_dir, Path(scratch), watch)
    finally:
        gc.callbacks.remove(watch)
    print_report(figures)
    write_figures(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
