"""Web page benchmark: how fast the picker and the pages feel in a browser on a slow laptop.

    python bench/web.py [PATH] [--database-url URL] [--throttle 4] [--queries 40] [--typing-ms 120] [--json PATH]

1. loads every release in PATH (default: $TERMSERVER_DATA, else ../shared/data), the lexicon and MedCom's FSH value
   sets into a temporary SQLite database (or uses ``--database-url``, already loaded), in a child process;
2. starts gunicorn as ``termserver serve`` runs it (2 sync workers, ``--preload``) on a free loopback port;
3. opens Debian's Chromium (Playwright) with the CPU slowed ``--throttle`` times (Chrome DevTools' CPU throttling;
   4× is DevTools' "low-end laptop") and types the first ``--queries`` queries of ``bench/queries-da.tsv`` into the
   search page one key at a time, ``--typing-ms`` apart; for every list the picker shows it takes the time from the
   ``input`` event of the text it answers to the list in the page (60 ms debounce, the ``$expand`` request, its JSON
   and the DOM; measured in the page with ``performance.now()``), and the request alone (Resource Timing);
4. baseline, in the same page: ``fetch('/fhir/metadata')`` round trips (the same network path, a trivial answer);
5. loads the code pages of the queries' expected codes, the search page and the check page, cold, and reports
   DOMContentLoaded and load times and bytes transferred (Navigation and Resource Timing).

Prints p50/p95/max per figure and the ratio of the picker's request to the baseline. A benchmark, not a test: exit
status 0 whatever the figures are (1 only when the benchmark itself cannot run).
"""
from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from common import REPO, default_release_dir, gunicorn_server, load_database, write_figures  # noqa: E402

SYSTEM_KEYS = {"icpc2": "icpc2", "sks": "sks"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# records, in the page, when each text was typed and when a list answering it was shown
PROBE = """() => {
  const input = document.getElementById('q'), list = document.getElementById('suggestions');
  performance.setResourceTimingBufferSize(100000);
  window.__typed = {}; window.__shown = []; const waiting = new Set();
  input.addEventListener('input', () => {
    const text = input.value.trim(); window.__typed[text] = performance.now(); waiting.add(text);
  });
  // the first list shown for each typed text (not the list emptied when the box is cleared, nor a later re-render)
  new MutationObserver(() => {
    const query = list.getAttribute('data-for');
    if (query !== null && waiting.has(query)) { waiting.delete(query); window.__shown.push([query, performance.now()]); }
  }).observe(list, {childList: true});
}"""
COLLECT = """() => {
  const expands = performance.getEntriesByType('resource').filter(e => e.name.includes('$expand'))
    .map(e => e.responseEnd - e.startTime);
  const lists = window.__shown.filter(([q]) => q in window.__typed).map(([q, t]) => t - window.__typed[q]);
  return {lists, expands};
}"""
BASELINE = """async (n) => {
  const times = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await (await fetch('/fhir/metadata', {headers: {'Accept': 'application/fhir+json'}})).text();
    times.push(performance.now() - start);
  }
  return times;
}"""
NAVIGATION = """() => {
  const [nav] = performance.getEntriesByType('navigation');
  const bytes = performance.getEntriesByType('resource').reduce((sum, e) => sum + e.transferSize, nav.transferSize);
  return {dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, bytes};
}"""


def read_queries(limit: int) -> list[tuple[str, str, str]]:
    with (REPO / "bench" / "queries-da.tsv").open(encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.startswith("#")]
    rows = [(r["query"], r["code"], SYSTEM_KEYS[r["system"]]) for r in csv.DictReader(lines, delimiter="\t")
            if r.get("system") in SYSTEM_KEYS and r.get("query")]
    return rows[:limit]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    pick = lambda share: ordered[min(len(ordered) - 1, int(share * len(ordered)))]  # noqa: E731
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 1), "p95": round(pick(0.95), 1),
            "max": round(ordered[-1], 1)}


def line(name: str, figures: dict[str, float], unit: str = "ms") -> None:
    if not figures.get("n"):
        print(f"  {name:<46} (none)")
        return
    print(f"  {name:<46} n={figures['n']:<4} p50 {figures['p50']:>7.1f} {unit}  p95 {figures['p95']:>7.1f} {unit}"
          f"  max {figures['max']:>7.1f} {unit}")


def measure(base_url: str, queries: list[tuple[str, str, str]], throttle: float, typing_ms: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("TERMSERVER_CHROMIUM") or shutil.which("chromium")
    if not executable:
        raise SystemExit("Chromium not found: apt-get install chromium (or set TERMSERVER_CHROMIUM)")
    figures: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base_url, locale="da-DK")
        page = context.new_page()
        page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
        lists: list[float] = []
        expands: list[float] = []
        for system in sorted({key for _, _, key in queries}):
            page.goto(f"/?system={system}")
            page.evaluate(PROBE)
            box = page.locator("#q")
            for query, _, key in queries:
                if key != system:
                    continue
                box.fill("")
                box.press_sequentially(query, delay=typing_ms)
                page.wait_for_timeout(600)  # the last answer arrives
            found = page.evaluate(COLLECT)
            lists += found["lists"]
            expands += found["expands"]
        baseline = page.evaluate(BASELINE, 100)[10:]  # the first ones warm the connection
        figures["picker_list_ms"] = summary(lists)
        figures["picker_expand_request_ms"] = summary(expands)
        figures["baseline_metadata_fetch_ms"] = summary(baseline)
        pages: dict[str, list[dict[str, float]]] = {"code page": [], "search page": [], "check page": []}
        for _, code, key in queries:
            fresh = context.new_page()
            fresh.context.new_cdp_session(fresh).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
            fresh.goto(f"/code/{key}/{code}")
            pages["code page"].append(fresh.evaluate(NAVIGATION))
            fresh.close()
        for name, path in (("search page", "/"), ("check page", "/check")):
            for _ in range(10):
                fresh = context.new_page()
                fresh.context.new_cdp_session(fresh).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
                fresh.goto(path)
                pages[name].append(fresh.evaluate(NAVIGATION))
                fresh.close()
        figures["pages"] = {name: {"dom_content_loaded_ms": summary([t["dcl"] for t in timings]),
                                   "load_ms": summary([t["load"] for t in timings]),
                                   "bytes": summary([float(t["bytes"]) for t in timings])}
                            for name, timings in pages.items()}
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", nargs="?", type=Path, default=default_release_dir())
    parser.add_argument("--database-url")
    parser.add_argument("--throttle", type=float, default=4.0, help="CPU slow-down factor (DevTools throttling)")
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--typing-ms", type=int, default=120, help="time between key presses")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="termserver-web-bench-"))
    try:
        url = args.database_url
        if not url:
            url = f"sqlite:///{workdir / 'termserver.sqlite'}"
            print(f"loading {args.path} …")
            load_database(args.path, url)
        queries = read_queries(args.queries)
        with gunicorn_server(url, workdir / "gunicorn.log") as (_, port):
            figures = measure(f"http://127.0.0.1:{port}", queries, args.throttle, args.typing_ms)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures.update({"throttle": args.throttle, "queries": len(queries), "typing_ms": args.typing_ms,
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores, load average "
                               f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}"})
    print(f"\nweb pages in Chromium, CPU throttled {args.throttle:g}× ({figures['machine']})")
    print(f"picker: {len(queries)} queries typed one key every {args.typing_ms} ms")
    line("typed text → its list shown (incl. 60 ms debounce)", figures["picker_list_ms"])
    line("  of which the $expand request", figures["picker_expand_request_ms"])
    line("baseline: fetch /fhir/metadata", figures["baseline_metadata_fetch_ms"])
    base = figures["baseline_metadata_fetch_ms"].get("p50")
    if base and figures["picker_expand_request_ms"].get("p50"):
        print(f"  ratio $expand / baseline (p50): {figures['picker_expand_request_ms']['p50'] / base:.2f}")
    for name, timings in figures["pages"].items():
        line(f"{name}: DOMContentLoaded", timings["dom_content_loaded_ms"])
        line(f"{name}: load", timings["load_ms"])
        line(f"{name}: bytes transferred", timings["bytes"], "B")
    write_figures(figures, args.json)


if __name__ == "__main__":
    main()
