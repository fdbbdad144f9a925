"""Load benchmark: every release in ../shared/data into a fresh database, timed by phase, with peak RSS.

    python bench/load.py [PATH] [--runs 3] [--database-url URL]

Each run is a fresh Python process (so its peak RSS is the load's alone) that:

1. imports the loaders and builds a fresh database (temporary SQLite unless --database-url);
2. runs ``loaders.run.load_paths`` exactly as ``termserver load`` does, timing its phases through the progress
   hook: discover, parse (every file), store (every part, one transaction each);
3. runs ``load_paths`` again on the same data: it must be a no-op (every part 'unchanged');
4. reads the same files raw (bytes, ``json.load`` for JSON) as the I/O floor.

The parent prints each run, then the medians, the ratios against the in-process baselines (parse only, raw read)
and the verdict against the goals (≤ 20 s, ≤ 300 MB peak RSS).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 20.0
GOAL_RSS_MB = 300.0


def default_release_dir() -> Path:
    """$TERMSERVER_DATA, else ../shared/data beside the repository (as the tests resolve it)."""
    return Path(os.environ.get("TERMSERVER_DATA") or REPO.parent / "shared" / "data")


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (10^6 bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6  # bytes on macOS, KiB on Linux


class PhaseClock:
    """A ``load_paths`` progress hook that records when each phase starts and how long each item takes."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.rss_at_start: dict[str, float] = {}
        self.items: dict[str, list[tuple[str, float]]] = {}

    def __call__(self, items: Iterable[Path], what: str) -> Iterator[Path]:
        return self._timed(list(items), what)

    def _timed(self, items: list[Path], what: str) -> Iterator[Path]:
        self.started[what] = time.perf_counter()
        self.rss_at_start[what] = peak_rss_mb()
        timings = self.items.setdefault(what, [])
        for item in items:
            began = time.perf_counter()
            yield item  # load_paths parses/stores this item before asking for the next
            timings.append((item.name, time.perf_counter() - began))
        self.ended[what] = time.perf_counter()


def raw_read_seconds(files: list[Path]) -> float:
    """Time to read every file without interpreting it: bytes, plus ``json.load`` for JSON."""
    started = time.perf_counter()
    for path in files:
        if path.suffix.lower() == ".json":
            with path.open("rb") as handle:
                json.load(handle)
        else:
            path.read_bytes()
    return time.perf_counter() - started


def run_once(release_dir: Path, database_url: str | None) -> dict[str, Any]:
    """One measured run (called in a fresh process); returns the figures as a dict."""
    process_started = time.perf_counter()
    from sqlalchemy import func, select

    import loaders
    from loaders.run import discover, load_paths
    from termserver.config import load_settings
    from termserver.db import Base, create_schema, make_engine, make_session_factory
    from termserver.models import (CodeSystemVersion, Concept, ConceptMapVersion, ConceptParent, ConceptProperty,
                                   Designation, MapElement, ValueSetVersion)
    from termserver.systems import AliasTable

    loaders._modules()  # the parser modules; they import pandas/openpyxl themselves, inside parse
    with tempfile.TemporaryDirectory(prefix="termserver-bench-") as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'termserver.sqlite'}"
        settings = load_settings({"DATABASE_URL": url})
        engine = make_engine(url)
        if database_url:
            Base.metadata.drop_all(engine)  # a scratch database: every run starts empty
        create_schema(engine)
        sessions = make_session_factory(engine)
        aliases = AliasTable(settings["SYSTEM_ALIASES"])
        imports_seconds = time.perf_counter() - process_started
        rss_imports = peak_rss_mb()

        clock = PhaseClock()
        load_started = time.perf_counter()
        report = load_paths(sessions, [release_dir], aliases, clock)
        load_seconds = time.perf_counter() - load_started
        rss_load = peak_rss_mb()
        if report.errors:
            raise SystemExit("load failed:\n" + "\n".join(report.errors))

        started = time.perf_counter()
        again = load_paths(sessions, [release_dir], aliases)
        reload_seconds = time.perf_counter() - started
        if again.errors:
            raise SystemExit("reload failed:\n" + "\n".join(again.errors))

        with sessions() as session:
            def count(model: Any) -> int:
                return session.scalar(select(func.count()).select_from(model)) or 0

            rows = {"code systems": count(CodeSystemVersion), "codes": count(Concept),
                    "designations": count(Designation), "properties": count(ConceptProperty),
                    "parent links": count(ConceptParent), "value sets": count(ValueSetVersion),
                    "concept maps": count(ConceptMapVersion), "map entries": count(MapElement)}
        db_bytes = None
        if url.startswith("sqlite:///"):
            db_file = Path(url.removeprefix("sqlite:///"))
            db_bytes = sum(p.stat().st_size for p in db_file.parent.glob(db_file.name + "*"))
        engine.dispose()

    files, _, _ = discover([release_dir])
    return {
        "imports_s": imports_seconds,
        "load_s": load_seconds,
        "discover_s": clock.started["parsing"] - load_started,
        "parse_s": clock.ended["parsing"] - clock.started["parsing"],
        "aliases_s": clock.started["storing"] - clock.ended["parsing"],
        "store_s": clock.ended["storing"] - clock.started["storing"],
        "reload_s": reload_seconds,
        "reload_statuses": sorted({r.status for r in again.results}),
        "reload_parts": len(again.results),
        "raw_read_s": raw_read_seconds(files),
        "rss_imports_mb": rss_imports,
        "rss_parse_mb": clock.rss_at_start["storing"],
        "rss_load_mb": rss_load,
        "rows": rows,
        "db_bytes": db_bytes,
        "files": len(files),
        "parse_by_file": dict(clock.items["parsing"]),
        "store_by_file": dict(clock.items["storing"]),
    }


def run_child(release_dir: Path, database_url: str | None) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its figures (plus the process's wall time)."""
    command = [sys.executable, str(Path(__file__).resolve()), str(release_dir), "--child"]
    if database_url:
        command += ["--database-url", database_url]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"benchmark run failed (exit {done.returncode})")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["process_s"] = time.perf_counter() - started
    return figures


def median(runs: list[dict[str, Any]], key: str | Callable[[dict[str, Any]], float]) -> float:
    return statistics.median(key(r) if callable(key) else r[key] for r in runs)


def print_summary(runs: list[dict[str, Any]], release_dir: Path) -> bool:
    """Print the medians, ratios, per-file times and the verdict; True when every goal is met."""
    last = runs[-1]
    load, parse, store = median(runs, "load_s"), median(runs, "parse_s"), median(runs, "store_s")
    imports, raw = median(runs, "imports_s"), median(runs, "raw_read_s")
    reload_, rss = median(runs, "reload_s"), median(runs, "rss_load_mb")
    total = median(runs, lambda r: r["imports_s"] + r["load_s"])

    print(f"\nmedian of {len(runs)} run(s), {last['files']} release files in {release_dir}")
    print(f"  imports + empty schema     {imports:7.2f} s")
    print(f"  load (load_paths)          {load:7.2f} s")
    print(f"    parse                    {parse:7.2f} s")
    print(f"    store                    {store:7.2f} s")
    print(f"    discover, sync aliases   {median(runs, 'discover_s'):7.2f} s, {median(runs, 'aliases_s'):.2f} s")
    print(f"  total (imports + load)     {total:7.2f} s     goal ≤ {GOAL_SECONDS:.0f} s")
    print(f"  reload, same files         {reload_:7.2f} s     {last['reload_parts']} parts, status "
          f"{', '.join(last['reload_statuses'])}")
    print(f"  raw read of the same files {raw:7.2f} s     (bytes; json.load for JSON)")
    print(f"  peak RSS after imports     {median(runs, 'rss_imports_mb'):7.0f} MB")
    print(f"  peak RSS after parse       {median(runs, 'rss_parse_mb'):7.0f} MB")
    print(f"  peak RSS after load        {rss:7.0f} MB     goal ≤ {GOAL_RSS_MB:.0f} MB")
    if last["db_bytes"]:
        print(f"  database size              {last['db_bytes'] / 1e6:7.1f} MB")
    print("  rows: " + ", ".join(f"{v} {k}" for k, v in last["rows"].items()))

    print("\nratios against the baselines measured in the same process")
    print(f"  store overhead ×{store / parse:.2f} over parse (parse only = baseline)")
    print(f"  parse ×{parse / raw:.1f} over raw read of the same files")
    print(f"  reload ×{reload_ / parse:.2f} of parse (a no-op reload still parses every file)")

    print("\nper file, median seconds (parse | store)")
    names = sorted(last["parse_by_file"], key=lambda n: -median(runs, lambda r: r["parse_by_file"][n]
                                                                     + r["store_by_file"].get(n, 0.0)))
    for name in names:
        p = median(runs, lambda r: r["parse_by_file"][name])
        s = median(runs, lambda r: r["store_by_file"].get(name, 0.0))
        print(f"  {p:6.2f} | {s:6.2f}  {name}")

    time_ok, rss_ok = total <= GOAL_SECONDS, rss <= GOAL_RSS_MB
    noop_ok = all(r["reload_statuses"] == ["unchanged"] for r in runs)
    print(f"\nverdict: time {'PASS' if time_ok else 'FAIL'} ({total:.1f} s ≤ {GOAL_SECONDS:.0f} s), "
          f"peak RSS {'PASS' if rss_ok else 'FAIL'} ({rss:.0f} MB ≤ {GOAL_RSS_MB:.0f} MB), "
          f"reload no-op {'PASS' if noop_ok else 'FAIL'}")
    return time_ok and rss_ok and noop_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=None,
                        help="release folder or file (default: $TERMSERVER_DATA, else ../shared/data)")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes to run; medians are reported")
    parser.add_argument("--database-url", help="a SCRATCH database to load into instead of a temporary SQLite "
                                               "file; all termserver tables in it are dropped before each run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    release_dir = (args.path or default_release_dir()).resolve()
    if not release_dir.exists():
        parser.error(f"{release_dir} does not exist (give a path or set TERMSERVER_DATA)")

    if args.child:
        sys.path.insert(0, str(REPO))
        print(json.dumps(run_once(release_dir, args.database_url)))
        return 0

    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPU(s); {args.runs} fresh process(es)")
    runs = []
    for number in range(1, args.runs + 1):
        figures = run_child(release_dir, args.database_url)
        runs.append(figures)
        print(f"run {number}: load {figures['load_s']:.2f} s (parse {figures['parse_s']:.2f} s, store "
              f"{figures['store_s']:.2f} s), imports {figures['imports_s']:.2f} s, reload "
              f"{figures['reload_s']:.2f} s, peak RSS {figures['rss_load_mb']:.0f} MB, process "
              f"{figures['process_s']:.2f} s")
    return 0 if print_summary(runs, release_dir) else 1


if __name__ == "__main__":
    sys.exit(main())
