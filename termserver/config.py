"""Settings: declared once, in one table, with the environment variable and help text for each.

``create_app()`` applies the defaults, then the environment, then an optional test mapping.
A test checks that every setting here is documented in the README.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping


def _path(value: str) -> Path:
    return Path(value).expanduser()


def _int(value: str) -> int:
    return int(value)


def _paths(value: str) -> list[Path]:
    return [Path(item).expanduser() for item in value.split(os.pathsep) if item]


def _float(value: str) -> float:
    return float(value)


def _bool(value: str) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off), any case."""
    folded = value.strip().lower()
    if folded in ("1", "true", "yes", "on"):
        return True
    if folded in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _choice(*allowed: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value.lower() not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value.lower()
    return convert


def _origins(value: str) -> tuple[str, ...]:
    """``*`` or origins (``https://host[:port]``) separated by commas or whitespace."""
    return tuple(item.rstrip("/") for item in value.replace(",", " ").split())


def _aliases(value: str) -> dict[str, str]:
    """Parse ``alias=canonical`` pairs separated by commas or whitespace."""
    pairs: dict[str, str] = {}
    for item in value.replace(",", " ").split():
        alias, sep, canonical = item.partition("=")
        if not sep or not alias or not canonical:
            raise ValueError(f"alias entry {item!r} must look like 'alias-uri=canonical-uri'")
        pairs[alias] = canonical
    return pairs


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    convert: Callable[[str], Any]
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATA_DIR", "TERMSERVER_DATA_DIR", Path("var"), _path,
            "Directory for the server's own files; the default SQLite database lives here."),
    Setting("DATABASE_URL", "TERMSERVER_DATABASE_URL", None, str,
            "SQLAlchemy database URL. Default: sqlite:///<DATA_DIR>/termserver.sqlite. "
            "PostgreSQL: postgresql+psycopg://user:pass@host/db."),
    Setting("MIGRATE_ON_START", "TERMSERVER_MIGRATE_ON_START", True, _bool,
            "Whether the app may migrate the database to the current schema when it starts (the embedded SQLite "
            "default needs no separate step). Set false for app nodes on a read-only replica: they then only check "
            "the schema revision and refuse to start until `termserver db upgrade` has run on the primary."),
    Setting("RELEASES", "TERMSERVER_DATA", None, _path,
            "Where `termserver load` looks when given no path. Default: data/releases if it exists, else ../shared/data."),
    Setting("LEXICONS", "TERMSERVER_LEXICONS", None, _paths,
            "Synonym lexicons (term<TAB>code TSV) `termserver load` adds when given no path, separated by ':'. "
            "Default: the repository's data/synonyms-da.tsv."),
    Setting("EXTRA_RELEASES", "TERMSERVER_EXTRA_RELEASES", None, _paths,
            "Further release files or folders `termserver load` adds when given no path, separated by ':'. "
            "Default: MedCom's terminology IG sources (FSH value sets and code systems) in "
            "../shared/fhir-examples/dk-medcom-terminology/input/fsh, when that folder exists."),
    Setting("INDEX_CHECK_SECONDS", "TERMSERVER_INDEX_CHECK_SECONDS", 2.0, _float,
            "How often (seconds) a server checks whether a load changed the store and rebuilds its search index."),
    Setting("SYSTEM_ALIASES", "TERMSERVER_SYSTEM_ALIASES", {}, _aliases,
            "Extra code system URI aliases, 'alias=canonical' pairs separated by commas; added to the built-in table."),
    Setting("EXPAND_LIMIT", "TERMSERVER_EXPAND_LIMIT", 1000, _int,
            "Largest $expand answered in one response; bigger expansions must be paged with count/offset."),
    Setting("DEFAULT_COUNT", "TERMSERVER_DEFAULT_COUNT", 1000, _int,
            "Page size used by $expand when a filter is given without count."),
    Setting("LOG_LEVEL", "TERMSERVER_LOG_LEVEL", "INFO", str,
            "Python logging level for the server and the loaders."),
    Setting("LOG_FORMAT", "TERMSERVER_LOG_FORMAT", "text", _choice("text", "json"),
            "Log lines as 'text' or 'json' (one JSON object a line, access lines with request id, method, path, "
            "status, duration_ms, operation and bytes)."),
    Setting("MAX_BODY_BYTES", "TERMSERVER_MAX_BODY_BYTES", 10 * 1024 * 1024, _int,
            "Largest request body accepted (bytes); a bigger one is a 413 too-costly."),
    Setting("JSON_MAX_DEPTH", "TERMSERVER_JSON_MAX_DEPTH", 100, _int,
            "Deepest nesting of arrays and objects accepted in a JSON body; a deeper one is a 400."),
    Setting("QUERY_TIMEOUT_SECONDS", "TERMSERVER_QUERY_TIMEOUT_SECONDS", 10.0, _float,
            "Longest time one database statement may run (PostgreSQL statement_timeout; SQLite progress "
            "handler); a request whose query is stopped is a 503 too-costly. 0 turns the limit off."),
    Setting("CORS_ORIGINS", "TERMSERVER_CORS_ORIGINS", (), _origins,
            "Browser origins allowed to call the API (CORS), separated by commas, or '*' for any. "
            "Default: none (no CORS headers)."),
)


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the settings dict: defaults, then ``TERMSERVER_*`` environment variables, then ``overrides``.

    :raises ValueError: when an environment variable cannot be converted.
    """
    environ = os.environ if environ is None else environ
    settings: dict[str, Any] = {}
    for setting in SETTINGS:
        value = setting.default
        raw = environ.get(setting.env)
        if raw not in (None, ""):
            try:
                value = setting.convert(raw)
            except ValueError as exc:
                raise ValueError(f"{setting.env}={raw!r}: {exc}") from exc
        settings[setting.name] = value
    if overrides:
        for key, value in overrides.items():
            settings[key] = value
    if not settings["DATABASE_URL"]:
        data_dir = Path(settings["DATA_DIR"])
        settings["DATABASE_URL"] = f"sqlite:///{(data_dir / 'termserver.sqlite').resolve()}"
    return settings


REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def default_release_dirs(settings: Mapping[str, Any]) -> list[Path]:
    """Candidate release folders for ``termserver load`` without a path, in order of preference."""
    if settings.get("RELEASES"):
        return [Path(settings["RELEASES"])]
    here = Path.cwd()
    return [here / "data" / "releases", here.parent / "shared" / "data"]


def default_lexicons(settings: Mapping[str, Any]) -> list[Path]:
    """Lexicons ``termserver load`` adds when given no path."""
    if settings.get("LEXICONS") is not None:
        return list(settings["LEXICONS"])
    default = REPO_DATA / "synonyms-da.tsv"
    return [default] if default.is_file() else []


MEDCOM_TERMINOLOGY_FSH = Path("shared") / "fhir-examples" / "dk-medcom-terminology" / "input" / "fsh"


def default_extra_releases(settings: Mapping[str, Any]) -> list[Path]:
    """Further releases ``termserver load`` adds when given no path: MedCom's value sets (FSH) beside the
    repository (or the working directory), unless ``TERMSERVER_EXTRA_RELEASES`` says otherwise."""
    if settings.get("EXTRA_RELEASES") is not None:
        return list(settings["EXTRA_RELEASES"])
    for base in (Path.cwd().parent, REPO_DATA.parent.parent):
        if (base / MEDCOM_TERMINOLOGY_FSH).is_dir():
            return [base / MEDCOM_TERMINOLOGY_FSH]
    return []
