"""Terminology services: plain functions over a SQLAlchemy session, no Flask."""
