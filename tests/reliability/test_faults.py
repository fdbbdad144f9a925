"""Faults during loading: a loader killed with SIGKILL inside its store transaction, a truncated or corrupt release
file, and readers that query a system while a changed version of it is stored. On SQLite and on PostgreSQL
(TERMSERVER_TEST_DATABASE_URL), each on a fresh database.

A store is one transaction per code system version, so: the killed load leaves the previous version served with
identical counts and a re-run completes; a bad file stops the load before anything is stored, with an error naming
the file; a reader sees the old version or the new one, never a mix.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from loaders.run import load_paths
from termserver.db import create_schema, make_engine, make_session_factory
from termserver.models import CodeSystemVersion, Concept, Designation
from termserver.systems import AliasTable
from tests.conftest import REPO, make_test_database_url
from tests.reliability.conftest import SMALL_RELEASES, load_small_releases

pytestmark = pytest.mark.reliability

SYSTEM = "http://example.org/fhir/CodeSystem/reliability-big"
CONCEPTS = 20_000
# `termserver load`, with loaders.store._record_change (where a code system's transaction records its change, after
# every concept row) announcing on stdout that the transaction is open and then waiting: a SIGKILL sent on that line
# lands inside the store transaction, every row written and nothing committed
KILLABLE_LOAD = """
import sys, time
import loaders.store as store
original = store._record_change
def announce_then_wait(session, what):
    original(session, what)
    session.flush()
    print("IN-STORE-TRANSACTION", flush=True)
    time.sleep(120)
store._record_change = announce_then_wait
from termserver.cli import main
main(sys.argv[1:])
"""


def big_code_system(tag: str, concepts: int = CONCEPTS) -> dict[str, Any]:
    """A CodeSystem of ``concepts`` codes (each with a Danish designation) whose displays all start with ``tag``."""
    return {"resourceType": "CodeSystem", "url": SYSTEM, "version": "1", "name": "ReliabilityBig", "status": "active",
            "content": "complete",
            "concept": [{"code": f"C{i:06d}", "display": f"{tag} concept {i}",
                         "designation": [{"language": "da", "value": f"{tag} begreb {i}"}]} for i in range(concepts)]}


def write_json(path: Path, resource: dict[str, Any]) -> Path:
    path.write_text(json.dumps(resource), encoding="utf-8")
    return path


@pytest.fixture()
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh database holding the small release set."""
    url = make_test_database_url(tmp_path_factory, "faults")
    load_small_releases(url)
    return url


def store_snapshot(url: str) -> dict[str, Any]:
    """Everything a load could change, in figures: every version with its hash and counts, and the row counts."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            versions = sorted((r.url, r.version or "", r.concept_count, r.sha256)
                              for r in session.scalars(select(CodeSystemVersion)))
            return {"versions": versions,
                    "concepts": session.scalar(select(func.count()).select_from(Concept)),
                    "designations": session.scalar(select(func.count()).select_from(Designation))}
    finally:
        engine.dispose()


def served(url: str, code: str = "C000007") -> tuple[int, str | None]:
    """What a server built on ``url`` answers for the big system: (number of codes, display of ``code``)."""
    from termserver import create_app

    app = create_app({"DATABASE_URL": url, "LOG_LEVEL": "CRITICAL"})
    try:
        client = app.test_client()
        expansion = client.get(f"/fhir/ValueSet/$expand?url={SYSTEM}?fhir_vs&count=1").get_json()
        lookup = client.get(f"/fhir/CodeSystem/$lookup?system={SYSTEM}&code={code}").get_json()
        display = next((p["valueString"] for p in lookup.get("parameter", []) if p["name"] == "display"), None)
        return expansion["expansion"]["total"], display
    finally:
        app.extensions["termserver.engine"].dispose()


def cli_load(url: str, *paths: Path, killable: bool = False) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", KILLABLE_LOAD] if killable else [sys.executable, "-m", "termserver.cli"]
    env = {**os.environ, "TERMSERVER_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([*command, "load", "--quiet", "--database-url", url, *map(str, paths)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    """Wait for ``process``: (exit status, stdout, stderr), its pipes closed."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def test_kill_9_inside_the_store_transaction_keeps_the_previous_version(database: str, tmp_path: Path) -> None:
    old = write_json(tmp_path / "big.json", big_code_system("old"))
    status, _, err = finish(cli_load(database, old))
    assert status == 0, err
    before, served_before = store_snapshot(database), served(database)
    assert served_before == (CONCEPTS, "old concept 7")

    new = write_json(tmp_path / "big.json", big_code_system("new", CONCEPTS + 500))
    loader = cli_load(database, new, killable=True)
    try:
        assert loader.stdout is not None
        line = loader.stdout.readline()  # blocks until the store transaction holds every new row
        os.kill(loader.pid, signal.SIGKILL)
    finally:
        status, _, err = finish(loader, 30)
    assert line.strip() == "IN-STORE-TRANSACTION", (line, err)
    assert status == -signal.SIGKILL

    assert store_snapshot(database) == before
    assert served(database) == served_before
    status, out, err = finish(cli_load(database, new))
    assert status == 0, err
    assert "replaced" in out
    assert served(database) == (CONCEPTS + 500, "new concept 7")


def truncated_code_system(tmp_path: Path) -> Path:
    text = json.dumps(big_code_system("cut", 200))
    return write_json_text(tmp_path / "CodeSystem-truncated.json", text[: len(text) // 2])


def write_json_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def corrupt_files(tmp_path: Path) -> dict[str, Path]:
    """Release files that are broken in the ways a download or a copy breaks them."""
    sks = (SMALL_RELEASES[1] / "sks_diagnoses_sample.csv").read_bytes()
    xml = next(SMALL_RELEASES[2].glob("*.xml")).read_bytes()
    files = {"truncated JSON": truncated_code_system(tmp_path)}
    (tmp_path / "corrupt.xlsx").write_bytes(b"PK\x03\x04" + os.urandom(2000))  # a zip header, then noise
    files["corrupt xlsx"] = tmp_path / "corrupt.xlsx"
    (tmp_path / "icd_10_truncated.xml").write_bytes(xml[: len(xml) // 2])
    files["truncated XML"] = tmp_path / "icd_10_truncated.xml"
    (tmp_path / "zeros.json").write_bytes(b"\x00" * 4096)  # a file whose blocks never reached the disk
    files["zeroed file"] = tmp_path / "zeros.json"
    (tmp_path / "sks_binary.csv").write_bytes(sks[:200] + os.urandom(300) + sks[200:400])
    files["binary noise in a CSV"] = tmp_path / "sks_binary.csv"
    return files


def test_a_truncated_or_corrupt_release_changes_nothing_and_names_the_file(database: str, tmp_path: Path) -> None:
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    good = write_json(tmp_path / "good" / "big.json", big_code_system("good", 300))
    before = store_snapshot(database)
    for label, path in corrupt_files(tmp_path / "bad").items():
        # alone, and beside a good file that must not be stored either (every file is parsed before any is stored)
        for paths in ((path,), (good, path)):
            status, _, stderr = finish(cli_load(database, *paths), 120)
            assert status == 1, (label, stderr)
            assert f"error: {path}" in stderr, (label, stderr)
            assert "nothing was changed" in stderr, (label, stderr)
            assert "Traceback" not in stderr, (label, stderr)
            assert store_snapshot(database) == before, label


def test_readers_during_a_load_see_the_old_version_or_the_new_one(database: str, tmp_path: Path) -> None:
    """A reader thread asks the app for the size of the big system and one display, again and again, while another
    thread stores a changed version of it (and back, and again): each answer is wholly old or wholly new."""
    from termserver import create_app

    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    old_file = write_json(tmp_path / "old" / "big.json", big_code_system("old", 5000))
    new_file = write_json(tmp_path / "new" / "big.json", big_code_system("new", 5300))
    engine = make_engine(database)
    create_schema(engine)
    sessions = make_session_factory(engine)
    assert not load_paths(sessions, [old_file], AliasTable()).errors
    snapshots = {(5000, "old concept 7"), (5300, "new concept 7")}
    app = create_app({"DATABASE_URL": database, "LOG_LEVEL": "CRITICAL", "INDEX_CHECK_SECONDS": 0})
    observations: list[Any] = []
    stop = threading.Event()

    def read() -> None:
        client = app.test_client()
        while not stop.is_set():
            # one request: the expansion's total and a display of the same version, in one session
            response = client.get(f"/fhir/ValueSet/$expand?url={SYSTEM}?fhir_vs&filter=concept%207&count=1000")
            body = response.get_json()
            if response.status_code != 200:
                observations.append((response.status_code, json.dumps(body)[:300]))
                continue
            total = sum(1 for _ in body["expansion"].get("contains", []))
            display = next((c["display"] for c in body["expansion"].get("contains", []) if c["code"] == "C000007"),
                           None)
            prefix = display.split(" ")[0] if display else None
            observations.append((5000 if prefix == "old" else 5300 if prefix == "new" else None, display,
                                 total, all(c["display"].startswith(prefix or "?") for c in
                                            body["expansion"].get("contains", []))))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for path in (new_file, old_file, new_file, old_file, new_file):
            report = load_paths(sessions, [path], AliasTable())
            assert not report.errors, report.errors
            assert report.results[0].status == "replaced"
            time.sleep(0.05)
    finally:
        stop.set()
        reader.join(timeout=60)
        app.extensions["termserver.engine"].dispose()
        engine.dispose()
    assert len(observations) >= 20, observations
    mixed = [o for o in observations if len(o) != 4 or (o[0], o[1]) not in snapshots or not o[3]]
    assert not mixed, f"{len(mixed)} of {len(observations)} answers mixed versions or failed, e.g. {mixed[:5]}"
    assert {(o[0], o[1]) for o in observations} == snapshots  # both versions were seen
