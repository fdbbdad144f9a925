"""Alembic's migration environment: the schema of the store is owned by the revisions in ``versions/``.

Run through :func:`termserver.db.upgrade_schema` (``termserver db upgrade``, ``termserver load``), or by a developer
with ``alembic`` and the repository's ``alembic.ini`` (``alembic revision --autogenerate -m "..."``).
"""
