"""Storing parsed releases: versions side by side, no-op reloads, atomic failures, layers and supplements."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from loaders.layers import merge_layers
from loaders.model import ParsedCodeSystem, ParsedConcept
from loaders.run import load_paths
from loaders.store import store_code_system
from termserver.db import create_schema, make_engine, make_session_factory
from termserver.errors import LoadError
from termserver.models import CodeSystemVersion, Concept, Designation, Layer
from termserver.services import catalog
from termserver.systems import NPU, AliasTable
from tests.conftest import make_test_database_url

SYSTEM = "http://example.org/fhir/CodeSystem/colours"


def code_system(version: str, date: str, concepts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "id": f"colours-{version}", "url": SYSTEM, "version": version,
            "name": "Colours", "status": "active", "date": date, "content": "complete", "concept": concepts,
            **extra}


V1 = code_system("1.0", "2020-01-01", [
    {"code": "red", "display": "Red", "concept": [{"code": "dark-red", "display": "Dark red"}]},
    {"code": "blue", "display": "Blue"}])
V2 = code_system("2.0", "2024-01-01", [{"code": "red", "display": "Red"}, {"code": "green", "display": "Green"}])


@pytest.fixture()
def sessions(tmp_path_factory: pytest.TempPathFactory):
    engine = make_engine(make_test_database_url(tmp_path_factory, "store"))
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


def write(path: Path, resource: dict[str, Any]) -> Path:
    path.write_text(json.dumps(resource), encoding="utf-8")
    return path


def rows(sessions) -> list[tuple[str, str | None, int]]:
    with sessions() as session:
        return [(r.url, r.version, r.concept_count) for r in
                session.scalars(select(CodeSystemVersion).order_by(CodeSystemVersion.url, CodeSystemVersion.version))]


def test_versions_side_by_side_and_newest_is_default(sessions, tmp_path: Path) -> None:
    report = load_paths(sessions, [write(tmp_path / "v1.json", V1), write(tmp_path / "v2.json", V2)], AliasTable())
    assert not report.errors
    assert rows(sessions) == [(SYSTEM, "1.0", 3), (SYSTEM, "2.0", 2)]
    with sessions() as session:
        ctx = catalog.Context(session, AliasTable())
        assert catalog.resolve_system(ctx, SYSTEM).version == "2.0"
        assert catalog.resolve_system(ctx, SYSTEM, "1.0").version == "1.0"
        old = catalog.resolve_system(ctx, SYSTEM, "1.0")
        assert catalog.parents_of(ctx, old, "dark-red") == ["red"]


def test_reloading_the_same_file_changes_nothing(sessions, tmp_path: Path) -> None:
    path = write(tmp_path / "v1.json", V1)
    first = load_paths(sessions, [path], AliasTable())
    with sessions() as session:
        before = [(c.id, c.code) for c in session.scalars(select(Concept).order_by(Concept.id))]
        loaded_at = session.scalar(select(CodeSystemVersion.loaded_at))
    second = load_paths(sessions, [path], AliasTable())
    assert [r.status for r in first.results] == ["loaded"]
    assert [r.status for r in second.results] == ["unchanged"]
    assert second.results[0].codes == 3
    with sessions() as session:
        assert [(c.id, c.code) for c in session.scalars(select(Concept).order_by(Concept.id))] == before
        assert session.scalar(select(CodeSystemVersion.loaded_at)) == loaded_at


def test_changed_content_with_same_version_replaces_it(sessions, tmp_path: Path) -> None:
    load_paths(sessions, [write(tmp_path / "v1.json", V1)], AliasTable())
    changed = code_system("1.0", "2020-01-01", [{"code": "red", "display": "Rød"}])
    report = load_paths(sessions, [write(tmp_path / "v1b.json", changed)], AliasTable())
    assert [r.status for r in report.results] == ["replaced"]
    assert rows(sessions) == [(SYSTEM, "1.0", 1)]


def test_a_corrupt_file_changes_nothing_and_names_the_file(sessions, tmp_path: Path) -> None:
    good = write(tmp_path / "good.json", V1)
    bad = tmp_path / "bad.json"
    bad.write_text('{"resourceType": "CodeSystem", "url": "x",\n "concept": [', encoding="utf-8")
    report = load_paths(sessions, [good, bad], AliasTable())
    assert report.results == []
    assert len(report.errors) == 1
    assert str(bad) in report.errors[0] and "malformed JSON" in report.errors[0]
    assert "\n" not in report.errors[0]
    assert rows(sessions) == []


def test_an_unrecognised_file_is_an_error_and_docs_are_skipped(sessions, tmp_path: Path) -> None:
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    (tmp_path / "README.md").write_text("about these files")
    report = load_paths(sessions, [tmp_path], AliasTable())
    assert [p.name for p, reason in report.skipped] == ["README.md"]
    assert report.skipped[0][1] == "not a release, skipped"
    assert len(report.errors) == 1 and "notes.bin" in report.errors[0] and "unrecognised" in report.errors[0]


def test_a_failed_store_leaves_the_previous_version_untouched(sessions) -> None:
    aliases = AliasTable()
    good = ParsedCodeSystem(url=SYSTEM, version="1.0", concepts=[ParsedConcept("red", "Red")])
    store_code_system(sessions, good, aliases, "good")
    broken = ParsedCodeSystem(url=SYSTEM, version="1.0", concepts=[ParsedConcept("red", "Red"),
                                                                    ParsedConcept("red", "Red again")])
    with pytest.raises(LoadError, match="appears twice"):
        store_code_system(sessions, broken, aliases, "broken")
    # a database error half-way through the write is rolled back as a whole
    too_long = ParsedCodeSystem(url=SYSTEM, version="1.0",
                                concepts=[ParsedConcept("blue", "Blue"), ParsedConcept("x" * 5000, "long")])
    try:
        store_code_system(sessions, too_long, aliases, "too-long")
    except Exception:
        pass  # SQLite does not enforce VARCHAR length; PostgreSQL does and must roll back
    with sessions() as session:
        codes = sorted(session.scalars(select(Concept.code).join(CodeSystemVersion).where(
            CodeSystemVersion.url == SYSTEM)))
    assert codes in (["red"], ["blue", "x" * 5000])


def test_aliases_are_resolved_when_storing(sessions) -> None:
    parsed = ParsedCodeSystem(url="http://npu-terminology.org", version="1", concepts=[ParsedConcept("NPU1", "x")])
    store_code_system(sessions, parsed, AliasTable(), "alias")
    assert rows(sessions) == [(NPU, "1", 1)]


def _layer(key: str, priority: int, role: str, version: str | None, language: str,
           concepts: list[ParsedConcept]) -> ParsedCodeSystem:
    return ParsedCodeSystem(url=SYSTEM, version=version, language=language, layer=key, layer_priority=priority,
                            layer_role=role, concepts=concepts)


def test_merge_layers_prefers_priority_and_keeps_other_displays_as_designations() -> None:
    base = _layer("base", 0, "base", "7", "en", [ParsedConcept("A", "Alpha", active=True),
                                                 ParsedConcept("B", "Beta")])
    danish = _layer("dk", 10, "addition", "2020", "da", [ParsedConcept("A", "Alfa"), ParsedConcept("C", "Ce",
                                                                                                   active=False)])
    merged = merge_layers([danish, base])
    assert merged.version == "7" and merged.language == "en"
    assert [c.code for c in merged.concepts] == ["A", "B", "C"]
    a = merged.concepts[0]
    assert a.display == "Alfa"
    assert [(d.language, d.value) for d in a.designations] == [("en", "Alpha")]
    assert merged.concepts[2].active is False


def test_layers_are_merged_in_the_store_and_reloads_keep_the_other_layer(sessions) -> None:
    aliases = AliasTable()
    base = _layer("base", 0, "base", "7", "en", [ParsedConcept("A", "Alpha"), ParsedConcept("B", "Beta")])
    extra = _layer("extra", -10, "addition", None, "da", [ParsedConcept("A", "Alfa"), ParsedConcept("Z", "Zet")])
    assert store_code_system(sessions, extra, aliases, "extra.tsv").status == "loaded"
    assert store_code_system(sessions, base, aliases, "base.xlsx").status == "loaded"
    # the extra-only version was superseded by the assembled one, not kept as a version of its own
    assert rows(sessions) == [(SYSTEM, "7", 3)]
    assert store_code_system(sessions, extra, aliases, "extra.tsv").status == "unchanged"
    newer_base = _layer("base", 0, "base", "7", "en", [ParsedConcept("A", "Alpha"), ParsedConcept("B", "Beta 2")])
    assert store_code_system(sessions, newer_base, aliases, "base.xlsx").status == "replaced"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Layer)) == 2
        ctx = catalog.Context(session, aliases)
        row = catalog.resolve_system(ctx, SYSTEM)
        view = catalog.concept_view(ctx, row, catalog.require_concept(ctx, row, "A"))
        assert view.display == "Alpha"
        assert [(d.language, d.value) for d in view.designations] == [("da", "Alfa")]
        assert catalog.require_concept(ctx, row, "B").display == "Beta 2"
        assert catalog.find_concept(ctx, row, "Z") is not None


def test_supplement_designations_attach_to_the_base_system(sessions, tmp_path: Path) -> None:
    supplement = {"resourceType": "CodeSystem", "url": "http://example.org/fhir/CodeSystem/colours-da",
                  "version": "1", "status": "active", "content": "supplement", "supplements": SYSTEM,
                  "concept": [{"code": "red", "designation": [{"language": "da", "value": "Rød"}]}]}
    load_paths(sessions, [write(tmp_path / "v2.json", V2), write(tmp_path / "da.json", supplement)], AliasTable())
    with sessions() as session:
        ctx = catalog.Context(session, AliasTable())
        row = catalog.resolve_system(ctx, SYSTEM)
        view = catalog.concept_view(ctx, row, catalog.require_concept(ctx, row, "red"))
        assert [(d.language, d.value) for d in view.designations] == [("da", "Rød")]
        assert catalog.preferred_display(row, view.display, view.designations, "da") == "Rød"
        assert catalog.preferred_display(row, view.display, view.designations, None) == "Red"
        assert session.scalar(select(func.count()).select_from(Designation)) == 1
