"""Engine, sessions and the declarative base.

One engine per app (or per CLI command). SQLite gets WAL mode and foreign keys; PostgreSQL is used as is.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker, Session


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
    if timeout is not None and url.startswith("postgresql"):
        connect_args = dict(kwargs.pop("connect_args", {}))
        options = connect_args.get("options", "")
        connect_args["options"] = f"{options} -c statement_timeout={int(timeout * 1000)}".strip()
        kwargs["connect_args"] = connect_args
    return create_engine(url, pool_pre_ping=True, **kwargs)


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
    """Create every table that does not exist yet."""
    from termserver import models  # noqa: F401  (registers the tables)

    Base.metadata.create_all(engine)
