"""Alembic environment: migrate the connection :func:`termserver.db.upgrade_schema` hands over, or (for a developer
running ``alembic`` with the repository's ``alembic.ini``) the database ``TERMSERVER_DATABASE_URL`` names.

SQLite cannot alter most things in place, so migrations are rendered and run in batch mode there (copy, alter,
swap), which keeps one set of revisions for SQLite and PostgreSQL.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from termserver import models  # noqa: F401  (registers the tables on Base.metadata)
from termserver.db import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # upgrade_schema's connection: its transaction (and lock) belongs to the caller
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from termserver.config import load_settings
    from termserver.db import make_engine

    engine = make_engine(load_settings()["DATABASE_URL"])
    try:
        with engine.begin() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    """``alembic upgrade head --sql``: print the DDL for a DBA instead of running it."""
    from termserver.config import load_settings

    url = config.get_main_option("sqlalchemy.url") or load_settings()["DATABASE_URL"]
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
