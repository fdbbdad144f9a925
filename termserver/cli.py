"""``termserver`` command line: load, serve, info, db upgrade/current, tx-tests."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterable

import click

from termserver.config import (SETTINGS, default_extra_releases, default_lexicons, default_release_dirs,
                               load_settings)


def _settings(database_url: str | None) -> dict[str, Any]:
    try:
        return load_settings({"DATABASE_URL": database_url} if database_url else None)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(help="termserver: FHIR terminology server for Danish general practice.")
@click.version_option(package_name="termserver")
def main() -> None:
    pass


@main.command(help="Load release files or folders (and synonym lexicons) into the store. Default: $TERMSERVER_DATA, "
                   "else data/releases, else ../shared/data, plus data/synonyms-da.tsv and "
                   "$TERMSERVER_EXTRA_RELEASES (default: MedCom's FSH value sets, when present).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--database-url", help="Override TERMSERVER_DATABASE_URL.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def load(paths: tuple[Path, ...], database_url: str | None, quiet: bool) -> None:
    from tqdm import tqdm

    from loaders.run import load_paths
    from termserver.db import make_engine, make_session_factory
    from termserver.systems import AliasTable

    settings = _settings(database_url)
    targets = list(paths)
    if not targets:
        candidates = default_release_dirs(settings)
        targets = [next((d for d in candidates if d.is_dir()), candidates[0])] + default_lexicons(settings) \
            + default_extra_releases(settings)
    engine = make_engine(settings["DATABASE_URL"])
    _upgrade(engine)

    def progress(items: Iterable[Path], what: str) -> Iterable[Path]:
        items = list(items)
        return tqdm(items, desc=what, unit="file", disable=quiet or not sys.stderr.isatty(), leave=False)

    click.echo(f"Loading {', '.join(str(t) for t in targets)} into {_redact(settings['DATABASE_URL'])}", err=True)
    report = load_paths(make_session_factory(engine), targets, AliasTable(settings["SYSTEM_ALIASES"]), progress)
    for path, reason in report.skipped:
        click.echo(f"{path}: {reason}", err=True)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.results:
        click.echo(_table(report))
    if report.errors:
        for error in report.errors:
            click.echo(f"error: {error}", err=True)
        stored = sum(1 for r in report.results if r.status != "unchanged")
        click.echo("nothing was changed" if not stored else f"{stored} part(s) stored before the error", err=True)
        sys.exit(1)
    click.echo(f"done in {report.seconds:.1f} s")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _table(report: Any) -> str:
    rows = [("resource", "system / url", "version", "status", "codes", "designations", "map entries", "time",
             "file")]
    for r in report.results:
        rows.append((r.kind, r.url, r.version or "-", r.status,
                     str(r.codes) if r.kind == "CodeSystem" else "-",
                     str(r.designations) if r.kind == "CodeSystem" else "-",
                     str(r.mappings) if r.kind == "ConceptMap" else "-", f"{r.seconds:.2f}s", Path(r.source).name))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) if i < 4 or i == 8 else cell.rjust(widths[i])
                       for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@main.command(help="Serve the FHIR API with gunicorn (the app is preloaded so workers share it).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--database-url", help="Override TERMSERVER_DATABASE_URL.")
def serve(host: str, port: int, workers: int, database_url: str | None) -> None:
    if database_url:
        os.environ["TERMSERVER_DATABASE_URL"] = database_url
    settings = _settings(None)  # fail early on bad settings
    if not settings["MIGRATE_ON_START"]:
        from termserver.db import make_engine

        engine = make_engine(settings["DATABASE_URL"])
        try:
            _check(engine)  # the app checks again; this says why in one line instead of gunicorn's traceback
        finally:
            engine.dispose()
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the workers' metrics summed in /metrics: a fresh dir
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="termserver-metrics-")
    # no gunicorn access log: the app logs every request itself, with its request id and operation
    args = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
            "--logger-class", "termserver.gunicorn_logging.Logger",  # gunicorn's lines as JSON when the app's are
            "--preload", "termserver.wsgi:app"]
    os.execv(sys.executable, args)


@main.command(help="Show the settings, the database and what is loaded.")
@click.option("--database-url", help="Override TERMSERVER_DATABASE_URL.")
def info(database_url: str | None) -> None:
    from sqlalchemy import func, select

    from termserver.db import make_engine, make_session_factory, schema_state
    from termserver.models import CodeSystemVersion, ConceptMapVersion, ValueSetVersion

    settings = _settings(database_url)
    for setting in SETTINGS:
        value = settings[setting.name]
        click.echo(f"{setting.env:28} {_redact(value) if setting.name == 'DATABASE_URL' else value}")
    engine = make_engine(settings["DATABASE_URL"])
    state = schema_state(engine)  # info only reads: it does not create or migrate anything
    click.echo(f"\nSchema revision: {_revision(state)}")
    if not state.at_head:
        return
    with make_session_factory(engine)() as session:
        click.echo("\nCode systems:")
        for row in session.scalars(select(CodeSystemVersion).order_by(CodeSystemVersion.url)):
            kind = f" (supplement of {row.supplements})" if row.content == "supplement" else ""
            click.echo(f"  {row.url} | {row.version or '-'}: {row.concept_count} codes{kind}")
        click.echo("Value sets: " + str(session.scalar(select(func.count()).select_from(ValueSetVersion))))
        click.echo("Concept maps:")
        for cmap in session.scalars(select(ConceptMapVersion).order_by(ConceptMapVersion.url)):
            click.echo(f"  {cmap.url} | {cmap.version or '-'}: {cmap.mapping_count} map entries")


@main.group(help="The database schema, owned by migrations (Alembic revisions shipped in the package).")
def db() -> None:
    pass


@db.command(help="Migrate the database to the schema this termserver needs (head). A database made by an earlier "
                 "termserver without migration history is adopted. Run it on the primary; replicas follow.")
@click.option("--database-url", help="Override TERMSERVER_DATABASE_URL.")
def upgrade(database_url: str | None) -> None:
    from termserver.db import make_engine, schema_state

    settings = _settings(database_url)
    engine = make_engine(settings["DATABASE_URL"])
    try:
        before = schema_state(engine)
        revision = _upgrade(engine)
    finally:
        engine.dispose()
    where = _redact(settings["DATABASE_URL"])
    if before.at_head:
        click.echo(f"{where} is at {revision} (head): nothing to do")
    else:
        start = before.current or ("tables made before migrations (adopted)" if before.legacy else "an empty database")
        click.echo(f"{where} upgraded from {start} to {revision} (head)")


@db.command(help="Print the database's schema revision, and whether it is the one this termserver needs.")
@click.option("--database-url", help="Override TERMSERVER_DATABASE_URL.")
def current(database_url: str | None) -> None:
    from termserver.db import make_engine, schema_state

    engine = make_engine(_settings(database_url)["DATABASE_URL"])
    try:
        click.echo(_revision(schema_state(engine)))
    finally:
        engine.dispose()


def _revision(state: Any) -> str:
    """``0001 (head)``, or the revision and what to do about it."""
    from termserver.db import UPGRADE_COMMAND

    if state.at_head:
        return f"{state.current} (head)"
    if state.legacy:
        return f"none (tables made before migrations; head is {state.head}: `{UPGRADE_COMMAND}` adopts them)"
    if state.current is None:
        return f"none (empty database; head is {state.head}: run `{UPGRADE_COMMAND}`)"
    if not state.known:
        return f"{state.current} (unknown to this termserver, which needs {state.head})"
    return f"{state.current} (not head: this termserver needs {state.head}; run `{UPGRADE_COMMAND}`)"


def _upgrade(engine: Any) -> str:
    from termserver.db import SchemaNotCurrent, upgrade_schema

    try:
        return upgrade_schema(engine)
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from exc


def _check(engine: Any) -> str:
    from termserver.db import SchemaNotCurrent, check_schema

    try:
        return check_schema(engine)
    except SchemaNotCurrent as exc:
        raise click.ClickException(str(exc)) from exc


@main.command("tx-tests", help="Run the HL7 terminology-ecosystem conformance tests (test-cases.json) against a "
                                "server, as the Java validator's txTests does. Prints a table per suite and ends "
                                "with 'N passed, M failed'; exits 0 whatever the failures.")
@click.option("--base", "base_url", required=True, help="FHIR base URL of the server, e.g. http://localhost:8080/fhir.")
@click.option("--tests", "tests_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder holding test-cases.json. Default: ../shared/tx-tests/tests beside the repository.")
@click.option("--suite", "suites", multiple=True, help="Run only this suite (repeatable).")
@click.option("--mode", "modes", multiple=True, default=("general",), show_default=True,
              help="Test mode to run (repeatable): general, flat, snomed, omop, tx.fhir.org, ...")
@click.option("--output", type=click.Path(path_type=Path, file_okay=False),
              help="Write <suite>/<test>.json (the actual answer) and .diff.txt for each failing test here.")
@click.option("--filter", "name_filter", help="Run only the tests whose name contains this text.")
@click.option("--externals", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="Messages file for $external:N$ strings (e.g. messages-tx.fhir.org.json); default: none.")
@click.option("--verbose", "-v", is_flag=True, help="Print each failing test and its reason.")
def tx_tests(base_url: str, tests_dir: Path | None, suites: tuple[str, ...], modes: tuple[str, ...],
             output: Path | None, name_filter: str | None, externals: Path | None, verbose: bool) -> None:
    from termserver.conformance.runner import DEFAULT_TESTS_DIR, RunnerError, TxTestResult, run_tests

    def progress(result: TxTestResult) -> None:
        if verbose and result.failed:
            click.echo(f"FAIL {result.suite}/{result.name}: {result.reason}", err=True)

    try:
        report = run_tests(base_url, tests_dir or DEFAULT_TESTS_DIR, suites=suites or None, modes=modes,
                           output=output, filter=name_filter, externals=externals, progress=progress)
    except RunnerError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{report.software} (FHIR {report.fhir_version}) at {report.server}, modes {'+'.join(report.modes)}")
    click.echo(report.table())
    click.echo(f"{report.skipped} skipped")
    click.echo(report.summary())


if __name__ == "__main__":  # pragma: no cover
    main()
