"""Loading a set of files or folders: discover, parse everything first, then store (used by ``termserver load``)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy.orm import Session, sessionmaker

from loaders import find_loader, is_not_a_release
from loaders.model import ParsedRelease
from loaders.store import StoreResult, one_generation_bump, store_release, sync_aliases
from termserver.errors import LoadError
from termserver.systems import AliasTable

Progress = Callable[[Iterable[Path], str], Iterable[Path]]


@dataclass
class LoadReport:
    results: list[StoreResult] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[Path, str]], list[str]]:
    """Release files under ``paths`` (sorted), documentation files to skip, and paths that do not exist."""
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    missing: list[str] = []
    for path in paths:
        if not path.exists():
            missing.append(f"{path}: no such file or folder")
            continue
        candidates = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if is_not_a_release(candidate):
                skipped.append((candidate, "not a release, skipped"))
            else:
                files.append(candidate)
    return files, skipped, missing


def parse_all(files: list[Path], progress: Progress | None = None) -> tuple[list[ParsedRelease], list[str]]:
    """Parse every file; collect one-line errors instead of stopping at the first."""
    releases: list[ParsedRelease] = []
    errors: list[str] = []
    iterable = progress(files, "parsing") if progress else files
    for path in iterable:
        try:
            releases.append(find_loader(path).parse(path))
        except LoadError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a parser bug must still name the file
            errors.append(f"{path}: could not parse: {type(exc).__name__}: {exc}")
    return releases, errors


def _store_order(release: ParsedRelease) -> int:
    # supplements and maps after the systems they refer to; only matters for the progress display
    if release.concept_maps and not release.code_systems:
        return 2
    if any(s.content == "supplement" for s in release.code_systems):
        return 1
    return 0


def load_paths(session_factory: sessionmaker[Session], paths: list[Path], aliases: AliasTable,
               progress: Progress | None = None) -> LoadReport:
    """Load files/folders: parse all (any error → nothing is stored), then store each part in its transaction."""
    started = time.perf_counter()
    report = LoadReport()
    files, report.skipped, report.errors = discover(paths)
    if not files and not report.errors:
        report.errors.append("no release files found in " + ", ".join(str(p) for p in paths))
    releases, parse_errors = parse_all(files, progress)
    report.errors += parse_errors
    if report.errors:
        report.seconds = time.perf_counter() - started
        return report
    sync_aliases(session_factory, aliases)
    releases.sort(key=_store_order)
    by_path = {r.path: r for r in releases}
    iterable = progress([Path(p) for p in by_path], "storing") if progress else [Path(p) for p in by_path]
    with one_generation_bump(session_factory):  # servers rebuild their index once for the whole load
        for path in iterable:
            release = by_path[str(path)]
            report.warnings += [f"{release.path}: {w}" for w in release.warnings]
            try:
                report.results += store_release(session_factory, release, aliases)
            except LoadError as exc:
                report.errors.append(str(exc))
    value_sets = [r.url for r in report.results if r.kind == "ValueSet"]
    if value_sets:  # MedCom's value sets against the stored NPU/MCS: missing codes, other displays
        from loaders import medcom_fsh

        with session_factory() as session:
            report.warnings += medcom_fsh.check_stored_value_sets(session, aliases, value_sets)
    report.seconds = time.perf_counter() - started
    return report
