"""Alembic's migrations own the schema: they reach head, agree with the models, adopt a database made by create_all
before migrations existed, and a node that may not migrate refuses a database that is not at head.

Runs on SQLite, and on PostgreSQL too when TERMSERVER_TEST_DATABASE_URL names a server.
"""
from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Engine, inspect, text

from termserver import models  # noqa: F401  (registers the tables)
from termserver.cli import main
from termserver.db import (BASELINE_REVISION, BASELINE_TABLES, UPGRADE_COMMAND, Base, SchemaNotCurrent,
                           check_schema, create_schema, head_revision, make_engine, schema_state, upgrade_schema)
from tests.conftest import make_test_database_url


@pytest.fixture()
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """An empty database (SQLite file, or a new PostgreSQL database) and an engine on it."""
    url = make_test_database_url(tmp_path_factory, "migrations")
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "compare_server_default": True})
        return compare_metadata(context, Base.metadata)


def _schema(engine: Engine) -> dict[str, Any]:
    """Everything reflection sees of the tables (not alembic's own)."""
    inspector = inspect(engine)
    return {name: {"columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"))
                               for c in inspector.get_columns(name)],
                   "primary key": inspector.get_pk_constraint(name)["constrained_columns"],
                   "foreign keys": sorted(repr(fk) for fk in inspector.get_foreign_keys(name)),
                   "indexes": sorted(repr(ix) for ix in inspector.get_indexes(name)),
                   "unique": sorted(repr(uq) for uq in inspector.get_unique_constraints(name))}
            for name in sorted(inspector.get_table_names()) if name != "alembic_version"}


def test_a_new_database_is_migrated_to_head_and_agrees_with_the_models(new_database) -> None:
    _url, engine = new_database
    assert upgrade_schema(engine) == head_revision()
    assert check_schema(engine) == head_revision()
    assert _differences(engine) == []
    assert upgrade_schema(engine) == head_revision()  # again: nothing to do


def test_the_baseline_makes_exactly_what_create_all_made(new_database, tmp_path_factory) -> None:
    _url, migrated = new_database
    upgrade_schema(migrated)
    created = make_engine(make_test_database_url(tmp_path_factory, "create_all"))
    try:
        create_schema(created)
        assert _schema(migrated) == _schema(created)
        # the frozen fingerprint used to adopt such a database is that schema's
        assert {name: frozenset(column[0] for column in table["columns"])
                for name, table in _schema(created).items()} == BASELINE_TABLES
    finally:
        created.dispose()


def test_a_database_made_by_create_all_is_adopted(new_database) -> None:
    _url, engine = new_database
    create_schema(engine)  # what termserver did before migrations
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO store_state (id, generation, changed_at) "
                                "VALUES (1, 7, CURRENT_TIMESTAMP)"))
    state = schema_state(engine)
    assert state.current is None and state.legacy
    with pytest.raises(SchemaNotCurrent, match="no migration history") as refused:
        check_schema(engine)
    assert f"`{UPGRADE_COMMAND}`" in str(refused.value)
    assert upgrade_schema(engine) == head_revision()
    assert check_schema(engine) == head_revision()
    assert _differences(engine) == []
    with engine.connect() as connection:  # adopted, not re-created
        assert connection.scalar(text("SELECT generation FROM store_state")) == 7


def test_tables_that_do_not_match_the_baseline_are_not_adopted(new_database) -> None:
    _url, engine = new_database
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE concept (id INTEGER PRIMARY KEY, code VARCHAR(100))"))
    with pytest.raises(SchemaNotCurrent, match="cannot be adopted") as refused:
        upgrade_schema(engine)
    assert "table code_system missing" in str(refused.value) and "concept.display missing" in str(refused.value)
    assert schema_state(engine).current is None  # nothing was written


def test_check_schema_refuses_an_empty_database_naming_the_revisions_and_the_command(new_database) -> None:
    _url, engine = new_database
    with pytest.raises(SchemaNotCurrent) as refused:
        check_schema(engine)
    message = str(refused.value)
    assert "empty" in message and head_revision() in message and f"`{UPGRADE_COMMAND}`" in message
    assert refused.value.current is None and refused.value.expected == head_revision()
    assert inspect(engine).get_table_names() == []  # checking wrote nothing


def test_check_schema_refuses_an_older_and_an_unknown_revision(new_database) -> None:
    _url, engine = new_database
    upgrade_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    with pytest.raises(SchemaNotCurrent, match="at schema revision older, which this termserver does not know"):
        check_schema(engine)
    with pytest.raises(SchemaNotCurrent, match="newer release"):
        upgrade_schema(engine)  # never guesses how to get from a revision it does not know
    if head_revision() != BASELINE_REVISION:  # pragma: no cover - once a second revision exists
        from alembic import command

        from termserver.db import alembic_config

        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :rev"), {"rev": head_revision()})
            command.downgrade(alembic_config(connection), BASELINE_REVISION)
        with pytest.raises(SchemaNotCurrent, match=f"revision {BASELINE_REVISION}; this termserver needs"):
            check_schema(engine)


def test_the_app_refuses_to_start_on_an_unmigrated_database_unless_it_may_migrate(new_database) -> None:
    from termserver import create_app

    url, engine = new_database
    with pytest.raises(SchemaNotCurrent, match=f"`{UPGRADE_COMMAND}`"):
        create_app({"DATABASE_URL": url, "MIGRATE_ON_START": False, "LOG_LEVEL": "WARNING"})
    assert inspect(engine).get_table_names() == []
    app = create_app({"DATABASE_URL": url, "MIGRATE_ON_START": True, "LOG_LEVEL": "WARNING"})
    app.extensions["termserver.engine"].dispose()
    assert check_schema(engine) == head_revision()
    app = create_app({"DATABASE_URL": url, "MIGRATE_ON_START": False, "LOG_LEVEL": "WARNING"})  # at head: starts
    app.extensions["termserver.engine"].dispose()


def test_migrate_on_start_is_read_from_the_environment() -> None:
    from termserver.config import load_settings

    assert load_settings(environ={})["MIGRATE_ON_START"] is True
    assert load_settings(environ={"TERMSERVER_MIGRATE_ON_START": "false"})["MIGRATE_ON_START"] is False
    with pytest.raises(ValueError, match="TERMSERVER_MIGRATE_ON_START"):
        load_settings(environ={"TERMSERVER_MIGRATE_ON_START": "maybe"})


def test_db_commands(new_database) -> None:
    url, engine = new_database
    runner = CliRunner()
    before = runner.invoke(main, ["db", "current", "--database-url", url])
    assert before.exit_code == 0 and before.output.startswith("none (empty database")
    upgraded = runner.invoke(main, ["db", "upgrade", "--database-url", url])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded from an empty database to {head_revision()} (head)" in upgraded.output
    again = runner.invoke(main, ["db", "upgrade", "--database-url", url])
    assert "nothing to do" in again.output
    after = runner.invoke(main, ["db", "current", "--database-url", url])
    assert after.output.strip() == f"{head_revision()} (head)"


def test_nodes_starting_together_migrate_once(new_database) -> None:
    url, _engine = new_database
    errors: list[BaseException] = []

    def start() -> None:
        engine = make_engine(url)
        try:
            upgrade_schema(engine)
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert check_schema(_engine) == head_revision()


def test_the_app_starts_on_a_read_only_database_at_head(new_database) -> None:
    """A read replica, as PostgreSQL shows it to a client: every transaction read-only."""
    from sqlalchemy.engine import make_url

    from termserver import create_app

    url, engine = new_database
    if engine.dialect.name != "postgresql":
        pytest.skip("a read-only database is checked on PostgreSQL (set TERMSERVER_TEST_DATABASE_URL)")
    upgrade_schema(engine)
    engine.dispose()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'ALTER DATABASE "{make_url(url).database}" SET default_transaction_read_only = on'))
    for migrate in (False, True):  # at head, even a node allowed to migrate only reads
        app = create_app({"DATABASE_URL": url, "MIGRATE_ON_START": migrate, "LOG_LEVEL": "WARNING"})
        app.extensions["termserver.engine"].dispose()
