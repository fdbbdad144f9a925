"""Engine, sessions, the declarative base, and the schema's migrations.

One engine per app (or per CLI command). SQLite gets WAL mode and foreign keys; PostgreSQL is used as is.
Alembic's revisions in ``termserver/migrations`` own the schema: :func:`upgrade_schema` runs them (``termserver load``,
``termserver db upgrade``), :func:`check_schema` only reads (app nodes on a read-only replica).
"""
from __future__ import annotations

from dataclasses import dataclass
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.orm import DeclarativeBase, sessionmaker, Session

if TYPE_CHECKING:  # alembic is imported when the schema is touched, so `import termserver.db` stays cheap
    from alembic.config import Config
    from alembic.script import ScriptDirectory


class Base(DeclarativeBase):
    pass


def make_engine(url: str, *, query_timeout: float | None = None, **kwargs: Any) -> Engine:
    """Create the engine for ``url``; for a SQLite file, create its folder and turn on WAL and foreign keys.

    ``query_timeout`` (seconds) stops any one statement that runs longer: PostgreSQL's ``statement_timeout``, and
    on SQLite a progress handler that interrupts the statement once its deadline has passed. Either way the
    statement fails with an ``OperationalError`` that :func:`is_query_timeout` recognises.
    """
    timeout = query_timeout if query_timeout and query_timeout > 0 else None
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            if timeout is not None:
                info = record.info

                def past_deadline() -> int:
                    deadline = info.get(_DEADLINE)
                    return 1 if deadline is not None and time.monotonic() > deadline else 0

                dbapi_connection.set_progress_handler(past_deadline, _SQLITE_PROGRESS_STEPS)

        if timeout is not None:
            @event.listens_for(engine, "before_cursor_execute")
            def _start_deadline(connection: Any, *_args: Any) -> None:
                # the deadline runs from the start of each statement, as PostgreSQL's statement_timeout does
                connection.info[_DEADLINE] = time.monotonic() + timeout

        return engine
    if url.startswith("postgresql"):
        connect_args = dict(kwargs.pop("connect_args", {}))
        in_url = make_url(url).query
        for name, value in POSTGRES_CONNECT_DEFAULTS.items():
            if name not in in_url:
                connect_args.setdefault(name, value)
        if timeout is not None:
            options = connect_args.get("options", "")
            connect_args["options"] = f"{options} -c statement_timeout={int(timeout * 1000)}".strip()
        kwargs["connect_args"] = connect_args
    return create_engine(url, pool_pre_ping=True, **kwargs)


# libpq settings for a database host that disappears (crashed, partitioned) rather than refusing connections; the
# URL may set any of them itself (?connect_timeout=3). Without them a new connection waits for the kernel's TCP
# connect timeout (~2 min) and a query sent on an open connection waits for TCP retransmission to give up (~15 min),
# so a request hangs until gunicorn kills its worker instead of getting a 503 in seconds.
POSTGRES_CONNECT_DEFAULTS: dict[str, int] = {
    "connect_timeout": 5,  # seconds for a new connection
    "tcp_user_timeout": 10_000,  # ms that sent data may stay unacknowledged before the connection is dropped
    "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3,  # idle pool connections
}


_DEADLINE = "termserver.statement_deadline"
_SQLITE_PROGRESS_STEPS = 10_000  # VM instructions between deadline checks: well under a millisecond
_PG_QUERY_CANCELED = "57014"


def is_query_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` (an ``OperationalError``) is a statement stopped by the engine's query timeout rather than a
    store that cannot be reached."""
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == _PG_QUERY_CANCELED:
        return True
    return type(original).__module__ == "sqlite3" and str(original) == "interrupted"


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """Create the models' tables without migration history: only for scratch databases that never outlive the
    process (the per-request tx-resource store, benchmarks). The store itself is made by :func:`upgrade_schema`."""
    from termserver import models  # noqa: F401  (registers the tables)

    Base.metadata.create_all(engine)


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
UPGRADE_COMMAND = "termserver db upgrade"
# the revision whose schema is what create_all made before migrations existed
BASELINE_REVISION = "0001"
# ...and that schema's tables and columns: a database holding exactly these, without an alembic_version table, was
# made by an earlier termserver and is adopted (stamped at the baseline). Frozen: never edit for a new revision.
BASELINE_TABLES: dict[str, frozenset[str]] = {
    "code_system": frozenset({
        "id", "url", "version", "version_key", "name", "title", "status", "publisher", "date", "description", "extra",
        "source", "sha256", "loaded_at", "language", "content", "case_sensitive", "hierarchy_meaning", "supplements",
        "supplements_version", "value_set", "property_definitions", "concept_count"}),
    "code_system_layer": frozenset({
        "id", "code_system_id", "key", "priority", "role", "version", "source", "sha256", "payload"}),
    "concept": frozenset({
        "id", "code_system_id", "code", "code_folded", "display", "definition", "active", "status", "not_selectable",
        "sort_order", "search_text"}),
    "designation": frozenset({"id", "concept_id", "language", "use_system", "use_code", "use_display", "value"}),
    "concept_property": frozenset({"id", "concept_id", "code", "type", "value", "value_system", "value_display"}),
    "concept_parent": frozenset({"id", "code_system_id", "child_code", "parent_code"}),
    "value_set": frozenset({
        "id", "url", "version", "version_key", "name", "title", "status", "publisher", "date", "description", "extra",
        "source", "sha256", "loaded_at", "compose", "expansion", "aliases"}),
    "concept_map": frozenset({
        "id", "url", "version", "version_key", "name", "title", "status", "publisher", "date", "description", "extra",
        "source", "sha256", "loaded_at", "source_scope", "target_scope", "mapping_count"}),
    "map_element": frozenset({
        "id", "concept_map_id", "source_system", "source_version", "source_code", "source_display", "target_system",
        "target_version", "target_code", "target_display", "equivalence", "comment"}),
    "system_alias": frozenset({"uri", "canonical", "retired"}),
    "store_state": frozenset({"id", "generation", "changed_at"}),
}
# any 64-bit number that no other application on the same PostgreSQL server takes an advisory lock on
_MIGRATION_LOCK = 0x7465726D_73727672  # "termsrvr"


class SchemaNotCurrent(RuntimeError):
    """The database is not at the schema revision this termserver needs (empty, older, newer or not adoptable)."""

    def __init__(self, message: str, current: str | None, expected: str) -> None:
        super().__init__(message)
        self.current = current
        self.expected = expected


@dataclass(frozen=True)
class SchemaState:
    """Where a database stands: its revision (None: no migration history), the head, and whether it holds the
    tables an earlier termserver made with create_all (no history, to be adopted)."""

    current: str | None
    head: str
    legacy: bool
    known: bool  # the current revision is one of ours (False: written by a newer termserver)

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code (no alembic.ini needed): the migrations ship inside the package."""
    import logging

    from alembic.config import Config

    # alembic announces each of its autogenerate plugins at INFO whenever it starts; "Running upgrade" stays
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection  # env.py migrates this connection, in its transaction
    return config


def head_revision() -> str:
    """The newest schema revision (what this termserver needs)."""
    head = _script().get_current_head()
    assert head is not None, "termserver/migrations/versions holds no revision"
    return head


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def schema_state(engine: Engine) -> SchemaState:
    """Read where the database stands. Only reads: safe on a read-only replica."""
    with engine.connect() as connection:
        return _schema_state(connection)


def _schema_state(connection: Connection) -> SchemaState:
    from alembic.runtime.migration import MigrationContext
    from alembic.util import CommandError

    script = _script()
    head = script.get_current_head()
    assert head is not None, "termserver/migrations/versions holds no revision"
    current = MigrationContext.configure(connection).get_current_revision()
    legacy = current is None and bool(BASELINE_TABLES.keys() & set(inspect(connection).get_table_names()))
    try:
        known = current is None or script.get_revision(current) is not None
    except CommandError:  # "Can't locate revision"
        known = False
    return SchemaState(current, head, legacy, known)


def _describe(state: SchemaState, url: str) -> str:
    if state.legacy:
        where = (f"Database {url} holds termserver's tables but no migration history (made before migrations "
                 f"existed); this termserver needs schema revision {state.head}")
        action = (f"Run `{UPGRADE_COMMAND}` against it once to adopt it (stamps it at {BASELINE_REVISION}, "
                  "then upgrades)")
    elif state.current is None:
        where = f"Database {url} is empty (not migrated); this termserver needs schema revision {state.head}"
        action = f"Run `{UPGRADE_COMMAND}` (or `termserver load`, which upgrades first) against it"
    elif not state.known:
        where = (f"Database {url} is at schema revision {state.current}, which this termserver does not know (made "
                 f"by a newer release?); it needs {state.head}")
        action = "Run the release that migrated it, or load into a new database"
    else:
        where = f"Database {url} is at schema revision {state.current}; this termserver needs {state.head}"
        action = f"Run `{UPGRADE_COMMAND}` against it (on the primary; replicas follow)"
    return f"{where}. {action}."


def check_schema(engine: Engine) -> str:
    """Check that the database is at the head revision, without writing anything; return the revision.

    :raises SchemaNotCurrent: when it is empty, older, newer, or made by create_all before migrations; the message
        names the current and expected revision and the command to run.
    """
    state = schema_state(engine)
    if not state.at_head:
        raise SchemaNotCurrent(_describe(state, _redacted(engine)), state.current, state.head)
    return state.head


def upgrade_schema(engine: Engine) -> str:
    """Run the migrations up to the head revision and return it. A database at head is only read (so a node
    allowed to migrate still starts on a read-only replica). A database made by create_all before migrations
    existed is adopted: stamped at the baseline when its tables match it, then upgraded. Concurrent callers
    (two nodes starting at once) queue on a lock; the second finds the work done.

    :raises SchemaNotCurrent: when the database is at a revision this termserver does not know, or holds
        termserver's tables without history that do not match the baseline.
    """
    if schema_state(engine).at_head:
        return head_revision()
    from alembic import command

    with engine.begin() as connection:
        _lock_for_migration(connection)
        state = _schema_state(connection)  # again, under the lock: another node may have migrated meanwhile
        if not state.known:
            raise SchemaNotCurrent(_describe(state, _redacted(engine)), state.current, state.head)
        config = alembic_config(connection)
        if state.legacy:
            _check_adoptable(connection, _redacted(engine))
            command.stamp(config, BASELINE_REVISION)
        if not state.at_head:
            command.upgrade(config, "head")
        return state.head


def _lock_for_migration(connection: Connection) -> None:
    """Serialise migrations: PostgreSQL's transaction-scoped advisory lock; on SQLite a write lock taken up front
    (BEGIN IMMEDIATE), which also makes the DDL part of the one transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    elif connection.dialect.name == "sqlite":
        dbapi = connection.connection.dbapi_connection
        if dbapi is not None and not getattr(dbapi, "in_transaction", True):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _check_adoptable(connection: Connection, url: str) -> None:
    """:raises SchemaNotCurrent: unless the tables are exactly the baseline's (same tables, same columns)."""
    inspector = inspect(connection)
    present = set(inspector.get_table_names())
    problems = [f"table {name} missing" for name in sorted(BASELINE_TABLES.keys() - present)]
    for name in sorted(BASELINE_TABLES.keys() & present):
        columns = {column["name"] for column in inspector.get_columns(name)}
        problems += [f"{name}.{column} missing" for column in sorted(BASELINE_TABLES[name] - columns)]
        problems += [f"{name}.{column} unexpected" for column in sorted(columns - BASELINE_TABLES[name])]
    if problems:
        raise SchemaNotCurrent(
            f"Database {url} holds some of termserver's tables but no migration history, and they do not match "
            f"schema revision {BASELINE_REVISION} ({', '.join(problems)}), so it cannot be adopted. Load the "
            f"releases into a new, empty database (`termserver load --database-url ...`).",
            None, head_revision())


def _redacted(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
