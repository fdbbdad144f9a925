"""Code systems, value sets and concept maps sent inside a request (``tx-resource``): used for that request only,
never stored.

They go through the same FHIR parser and the same store writer as a release does, but into a private in-memory
SQLite database that lives as long as the request. The services look there first and then in the store
(:meth:`Context.sessions`), and read concepts from the database their code system came from
(:meth:`Context.session_of`), so a ``tx-resource`` code system, a supplement of a stored system or a value set over
both are answered by the same code as stored content.

A validator sends the same resources with every request, so the written database is cached (SQLite's serialised
bytes, keyed by the SHA-256 of the resources, a few at a time) and each request starts from a copy of it.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from termserver.errors import InvalidRequest, LoadError
from termserver.systems import AliasTable

CACHED_DATABASES = 16
_cache: OrderedDict[str, bytes] = OrderedDict()
_lock = threading.Lock()
_template: bytes | None = None


def open_request_store(resources: list[dict[str, Any]], aliases: AliasTable) -> Session:
    """A session on a private database holding ``resources`` (the request's ``tx-resource`` values).

    The caller closes the session at the end of the request; the database goes with it.

    :raises InvalidRequest: naming the resource that cannot be used (not a CodeSystem, ValueSet, ConceptMap or
        Bundle of them; malformed; duplicate codes).
    """
    key = hashlib.sha256(json.dumps(resources, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    with _lock:
        image = _cache.get(key)
        if image is not None:
            _cache.move_to_end(key)
    if image is None:
        image = _build(resources, aliases)
        with _lock:
            _cache[key] = image
            while len(_cache) > CACHED_DATABASES:
                _cache.popitem(last=False)
    return _session(_connection(image))


def _build(resources: list[dict[str, Any]], aliases: AliasTable) -> bytes:
    from loaders.fhir import add_resource
    from loaders.model import ParsedRelease
    from loaders.store import store_release

    release = ParsedRelease(path="tx-resource", format="fhir")
    seen: set[tuple[str, str, str]] = set()
    for index, resource in enumerate(resources):
        where = f"tx-resource[{index}]"
        if not isinstance(resource, dict) or resource.get("resourceType") not in ("CodeSystem", "ValueSet",
                                                                                   "ConceptMap", "Bundle"):
            kind = resource.get("resourceType") if isinstance(resource, dict) else type(resource).__name__
            raise InvalidRequest(f"Parameter {where} must be a CodeSystem, ValueSet, ConceptMap or Bundle of them, "
                                 f"not {kind}", tx_code="invalid-data")
        identity = (str(resource.get("resourceType")), str(resource.get("url")), str(resource.get("version")))
        if resource.get("url") and identity in seen:
            continue  # two resources with one url|version: the first one sent is the one used
        seen.add(identity)
        try:
            add_resource(release, resource)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            name = resource.get("url") or resource.get("id") or "?"
            raise InvalidRequest(f"Parameter {where} ({resource.get('resourceType')} '{name}') cannot be used: "
                                 f"{exc}", tx_code="invalid-data") from exc
    connection = _connection(_schema())
    factory = sessionmaker(bind=_engine(connection), expire_on_commit=False)
    try:
        store_release(factory, release, aliases)
    except LoadError as exc:
        raise InvalidRequest(f"A tx-resource cannot be used: {exc}", tx_code="invalid-data") from exc
    return connection.serialize()


def _schema() -> bytes:
    """An empty database with every table (built once per process)."""
    global _template
    if _template is None:
        from termserver.db import create_schema

        connection = sqlite3.connect(":memory:", check_same_thread=False)
        create_schema(_engine(connection))
        _template = connection.serialize()
    return _template


def _connection(image: bytes) -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.deserialize(image)
    return connection


def _engine(connection: sqlite3.Connection) -> Any:
    return create_engine("sqlite://", creator=lambda: connection, poolclass=StaticPool)


def _session(connection: sqlite3.Connection) -> Session:
    return Session(bind=_engine(connection), expire_on_commit=False)
