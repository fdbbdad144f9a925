"""The relational store: code systems (one row per version), concepts, designations, properties, hierarchy,
value sets, concept maps and their mappings, and URI aliases.

Designations and properties hang off a concept row. A supplement is a code system version of its own
(``content='supplement'``, ``supplements`` = base canonical) whose concepts carry only designations/properties; the
services join them to the base system's concepts by code. Systems assembled from several releases keep each
release's parsed content in :class:`Layer` so a reload of one release can rebuild the merged version.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from termserver.db import Base


def _now() -> datetime:
    return datetime.now(timezone.utc)


class CanonicalResource:
    """The columns of every stored version of a canonical resource (code system, value set, concept map)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500), index=True)
    version: Mapped[str | None] = mapped_column(String(100))
    # version or '' — unique constraints treat NULLs as distinct, so the key column is never NULL
    version_key: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="active")
    publisher: Mapped[str | None] = mapped_column(String(300))
    date: Mapped[str | None] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # other metadata to echo back
    source: Mapped[str | None] = mapped_column(Text)  # the file(s) it was loaded from
    sha256: Mapped[str] = mapped_column(String(64))  # of the parsed content, for no-op reloads
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CodeSystemVersion(CanonicalResource, Base):
    __tablename__ = "code_system"
    __table_args__ = (UniqueConstraint("url", "version_key", name="uq_code_system_url_version"),)

    language: Mapped[str | None] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(String(20), default="complete")
    case_sensitive: Mapped[bool] = mapped_column(Boolean, default=True)
    hierarchy_meaning: Mapped[str | None] = mapped_column(String(40))
    supplements: Mapped[str | None] = mapped_column(String(500), index=True)  # canonical base URL (no version)
    supplements_version: Mapped[str | None] = mapped_column(String(100))
    value_set: Mapped[str | None] = mapped_column(String(500))
    property_definitions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    concept_count: Mapped[int] = mapped_column(Integer, default=0)

    concepts: Mapped[list[Concept]] = relationship(back_populates="code_system", cascade="all, delete-orphan",
                                                   passive_deletes=True)
    layers: Mapped[list[Layer]] = relationship(back_populates="code_system", cascade="all, delete-orphan",
                                               passive_deletes=True)


class Layer(Base):
    """One release's contribution to a system assembled from several releases (its parsed content, compressed)."""

    __tablename__ = "code_system_layer"
    __table_args__ = (UniqueConstraint("code_system_id", "key", name="uq_layer_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_system_id: Mapped[int] = mapped_column(ForeignKey("code_system.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(20), default="addition")
    version: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[bytes] = mapped_column(LargeBinary)

    code_system: Mapped[CodeSystemVersion] = relationship(back_populates="layers")


class Concept(Base):
    __tablename__ = "concept"
    __table_args__ = (UniqueConstraint("code_system_id", "code", name="uq_concept_code"),
                      Index("ix_concept_code_lower", "code_system_id", "code_folded"))

    id: Mapped[int] = mapped_column(primary_key=True)
    code_system_id: Mapped[int] = mapped_column(ForeignKey("code_system.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(100))
    code_folded: Mapped[str] = mapped_column(String(100))  # casefolded code, for case-insensitive systems/hints
    display: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str | None] = mapped_column(String(30))
    not_selectable: Mapped[bool] = mapped_column(Boolean, default=False)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)  # order in the release, for stable expansions
    search_text: Mapped[str] = mapped_column(Text, default="")  # folded display + designations, for simple filters

    code_system: Mapped[CodeSystemVersion] = relationship(back_populates="concepts")
    designations: Mapped[list[Designation]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                           order_by="Designation.id")
    properties: Mapped[list[ConceptProperty]] = relationship(cascade="all, delete-orphan", passive_deletes=True,
                                                             order_by="ConceptProperty.id")


class Designation(Base):
    __tablename__ = "designation"

    id: Mapped[int] = mapped_column(primary_key=True)
    concept_id: Mapped[int] = mapped_column(ForeignKey("concept.id", ondelete="CASCADE"), index=True)
    language: Mapped[str | None] = mapped_column(String(20))
    use_system: Mapped[str | None] = mapped_column(String(300))
    use_code: Mapped[str | None] = mapped_column(String(100))
    use_display: Mapped[str | None] = mapped_column(String(300))
    value: Mapped[str] = mapped_column(Text)


class ConceptProperty(Base):
    __tablename__ = "concept_property"

    id: Mapped[int] = mapped_column(primary_key=True)
    concept_id: Mapped[int] = mapped_column(ForeignKey("concept.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20), default="string")
    value: Mapped[str] = mapped_column(Text)
    value_system: Mapped[str | None] = mapped_column(String(300))
    value_display: Mapped[str | None] = mapped_column(Text)


class ConceptParent(Base):
    """is-a edge inside one code system version, by code (parents may be listed before they are defined)."""

    __tablename__ = "concept_parent"
    __table_args__ = (Index("ix_parent_child", "code_system_id", "child_code"),
                      Index("ix_parent_parent", "code_system_id", "parent_code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    code_system_id: Mapped[int] = mapped_column(ForeignKey("code_system.id", ondelete="CASCADE"))
    child_code: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str] = mapped_column(String(100))


class ValueSetVersion(CanonicalResource, Base):
    __tablename__ = "value_set"
    __table_args__ = (UniqueConstraint("url", "version_key", name="uq_value_set_url_version"),)

    compose: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    expansion: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # former canonical URLs that still resolve to this value set (MedCom renamed some in 2025)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class ConceptMapVersion(CanonicalResource, Base):
    __tablename__ = "concept_map"
    __table_args__ = (UniqueConstraint("url", "version_key", name="uq_concept_map_url_version"),)

    source_scope: Mapped[str | None] = mapped_column(String(500))
    target_scope: Mapped[str | None] = mapped_column(String(500))
    mapping_count: Mapped[int] = mapped_column(Integer, default=0)


class MapElement(Base):
    """One source→target pair (target NULL for an unmatched source), R4 ``equivalence``."""

    __tablename__ = "map_element"
    __table_args__ = (Index("ix_map_source", "concept_map_id", "source_system", "source_code"),
                      Index("ix_map_target", "concept_map_id", "target_system", "target_code"))

    id: Mapped[int] = mapped_column(primary_key=True)
    concept_map_id: Mapped[int] = mapped_column(ForeignKey("concept_map.id", ondelete="CASCADE"))
    source_system: Mapped[str] = mapped_column(String(500))
    source_version: Mapped[str | None] = mapped_column(String(100))
    source_code: Mapped[str] = mapped_column(String(100))
    source_display: Mapped[str | None] = mapped_column(Text)
    target_system: Mapped[str | None] = mapped_column(String(500))
    target_version: Mapped[str | None] = mapped_column(String(100))
    target_code: Mapped[str | None] = mapped_column(String(100))
    target_display: Mapped[str | None] = mapped_column(Text)
    equivalence: Mapped[str] = mapped_column(String(30))
    comment: Mapped[str | None] = mapped_column(Text)


class SystemAlias(Base):
    """A URI that names the same code system as ``canonical`` (seeded from the built-in table and config)."""

    __tablename__ = "system_alias"

    uri: Mapped[str] = mapped_column(String(500), primary_key=True)
    canonical: Mapped[str] = mapped_column(String(500), index=True)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)


class StoreState(Base):
    """One row: a counter bumped by every load that changes data, so servers know to rebuild their search index."""

    __tablename__ = "store_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
