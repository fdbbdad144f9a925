"""Memory and CPU of one app node (``termserver serve``: a gunicorn master and its preloaded workers).

    TERMSERVER_DATABASE_URL=sqlite:////tmp/scale.sqlite python deploy/measure_node.py [--workers 2] [--requests 600]

Starts ``termserver serve`` on a free loopback port against an already loaded database and prints:

1. the time from exec to ready (``/readyz`` answers 200; before that endpoint exists, ``/fhir/metadata``: with
   ``--preload`` gunicorn binds its port only after the app, search index included, is built);
2. RSS and PSS of the master and of each worker (``/proc/<pid>/smaps_rollup``) after a warm-up, after a burst of
   ``--requests`` typeahead ``$expand``/``$lookup``/``$validate-code`` requests from 8 client threads (with the
   node's CPU-seconds per request), and, with ``--rebuild``, after the store's generation counter is bumped, as a
   release load does, and every worker has rebuilt its index (each worker then holds its own copy; nothing is
   shared any more until the node restarts).

PSS divides shared pages among the processes that map them, so the sum of PSS is what the node costs the machine;
RSS counts the shared (copy-on-write) index once per process. ``--rebuild`` writes to the database: only use it on
a scratch copy.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
SKS = "urn:oid:1.2.208.176.2.4.12"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return sorted(found)


def memory_kib(pid: int) -> dict[str, int]:
    """Rss, Pss, shared and private kB of one process, from smaps_rollup."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        fields[name] = int(rest.split()[0])
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "shared": fields["Shared_Clean"] + fields["Shared_Dirty"],
            "private": fields["Private_Clean"] + fields["Private_Dirty"]}


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text()
    after_name = stat[stat.rindex(")") + 2:].split()
    return (int(after_name[11]) + int(after_name[12])) / CLOCK_TICKS  # utime, stime


def snapshot(label: str, master: int) -> dict[str, object]:
    processes = [("master", master)] + [(f"worker {i + 1}", pid) for i, pid in enumerate(children(master))]
    rows = {name: memory_kib(pid) for name, pid in processes}
    total_pss = sum(row["pss"] for row in rows.values())
    print(f"\n{label}")
    print(f"  {'process':<10} {'RSS MiB':>8} {'PSS MiB':>8} {'shared':>8} {'private':>8}")
    for name, row in rows.items():
        print(f"  {name:<10} {row['rss'] / 1024:8.0f} {row['pss'] / 1024:8.0f} {row['shared'] / 1024:8.0f}"
              f" {row['private'] / 1024:8.0f}")
    print(f"  {'node':<10} {'':>8} {total_pss / 1024:8.0f}   (sum of PSS: what the node costs)")
    return {"label": label, "processes": rows, "pss_total_kib": total_pss}


def requests_mix(count: int, seed: int = 7) -> list[str]:
    """70% typeahead $expand, 20% $lookup, 10% $validate-code, drawn from the bench query set and known codes."""
    queries = [line.split("\t") for line in (REPO / "bench" / "queries-da.tsv").read_text().splitlines()
               if line and not line.startswith(("#", "query\t"))]
    rng = random.Random(seed)
    codes = {ICPC2_OID: ["K86", "R74", "N01", "T90", "L03", "P76", "A04", "K77"],
             SKS: ["DJ449", "DI10", "DE119", "DF329", "DJ069", "DM545"]}
    paths = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.7:
            text, _code, system, *_ = rng.choice(queries)
            url = ICPC2_OID if system == "icpc2" else SKS
            prefix = text[: rng.randint(3, max(3, len(text)))]
            paths.append("/fhir/ValueSet/$expand?" + urlencode({"url": f"{url}?fhir_vs", "filter": prefix,
                                                                  "count": 10}))
        else:
            system = rng.choice(list(codes))
            operation = "$lookup" if roll < 0.9 else "$validate-code"
            paths.append(f"/fhir/CodeSystem/{operation}?" + urlencode({"system": system,
                                                                        "code": rng.choice(codes[system])}))
    return paths


def burst(port: int, master: int, paths: list[str], threads: int = 8) -> dict[str, float]:
    processes = [master] + children(master)
    cpu_before = sum(cpu_seconds(pid) for pid in processes)
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        statuses = list(pool.map(lambda path: get(port, path)[0], paths))
    wall = time.monotonic() - started
    cpu = sum(cpu_seconds(pid) for pid in processes) - cpu_before
    errors = sum(1 for status in statuses if status >= 400)
    print(f"\nburst: {len(paths)} requests from {threads} threads in {wall:.2f} s ({len(paths) / wall:.0f}/s), "
          f"{errors} errors; node CPU {cpu:.2f} s = {1000 * cpu / len(paths):.2f} ms per request")
    return {"requests": len(paths), "seconds": wall, "errors": errors, "cpu_seconds": cpu}


def bump_generation(database_url: str) -> None:
    """What a load that changes data does to the store's generation counter."""
    sys.path.insert(0, str(REPO))
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE store_state SET generation = generation + 1 WHERE id = 1"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--rebuild", action="store_true", help="bump the generation and measure after the rebuild")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    database_url = os.environ.get("TERMSERVER_DATABASE_URL")
    if not database_url:
        raise SystemExit("set TERMSERVER_DATABASE_URL to a loaded database")
    port = free_port()
    env = dict(os.environ, TERMSERVER_LOG_LEVEL="WARNING", TERMSERVER_INDEX_CHECK_SECONDS="1")
    command = [str(Path(sys.executable).parent / "termserver"), "serve", "--port", str(port),
               "--workers", str(args.workers)]
    log = open("/tmp/measure_node.log", "wb")
    started = time.monotonic()
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    figures: dict[str, object] = {"workers": args.workers, "database": database_url.split(":", 1)[0]}
    try:
        ready_path = None
        while ready_path is None:
            if server.poll() is not None:
                raise SystemExit(f"server exited with {server.returncode}; see /tmp/measure_node.log")
            for path in ("/readyz", "/fhir/metadata"):
                try:
                    if get(port, path, timeout=2)[0] == 200:
                        ready_path = path
                        break
                except OSError:
                    pass
            else:
                time.sleep(0.05)
        figures["ready_seconds"] = time.monotonic() - started
        print(f"ready ({ready_path} 200) {figures['ready_seconds']:.1f} s after exec; "
              f"{args.workers} workers, {figures['database']}")
        time.sleep(1.0)  # the workers' own start-up
        for path in requests_mix(40, seed=1):
            get(port, path)
        figures["warm"] = snapshot("after warm-up (40 requests)", server.pid)
        figures["burst"] = burst(port, server.pid, requests_mix(args.requests))
        figures["after_burst"] = snapshot(f"after the burst", server.pid)
        if args.rebuild:
            bump_generation(database_url)
            time.sleep(1.5)
            rebuild_started = time.monotonic()
            burst(port, server.pid, requests_mix(8 * args.workers, seed=3), threads=2 * args.workers)
            figures["rebuild_seconds"] = time.monotonic() - rebuild_started
            print(f"generation bumped: the next requests (every worker rebuilding) took "
                  f"{figures['rebuild_seconds']:.1f} s")
            burst(port, server.pid, requests_mix(args.requests, seed=4))
            figures["after_rebuild"] = snapshot("after every worker rebuilt its index", server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
