"""The search index built from the store: the issue's Done-when queries on the real releases, through
``search_codes`` and through ``ValueSet/$expand``; and the index's life cycle (rebuilt when a load changes the store,
not when a reload changes nothing)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loaders.run import load_paths
from termserver.db import create_schema, make_engine, make_session_factory
from termserver.services.catalog import Context
from termserver.services.search import SearchIndex, search_codes
from termserver.services.search_index import IndexHolder, current_generation
from termserver.systems import ICD10, ICPC2, SKS_DIAGNOSES, AliasTable
from tests.api.fhir_check import check_response
from tests.conftest import REPO, make_test_database_url

EXPAND = "/fhir/ValueSet/$expand"

# (system, query, code, within the first n): the Done-when cases of the search issue and the ones beside them
DONE_WHEN = [
    (ICPC2, "kulderystlse", "A02", 1),
    (ICPC2, "naeldefeber", "S98", 1),
    (ICPC2, "l84", "L84", 1),
    (ICPC2, "hjertebankn", "K04", 1),
    (ICPC2, "bihulebet", "R75", 1),
    (ICPC2, "hjerte banken", "K04", 1),
    (ICPC2, "hovedpine", "N01", 1),
    (ICPC2, "kropslus", "S73", 1),
    (SKS_DIAGNOSES, "dm545", "DM545", 1),
    (SKS_DIAGNOSES, "DM54.5", "DM545", 1),
    (SKS_DIAGNOSES, "M54.5", "DM545", 1),
    (ICD10, "DM545", "M54.5", 1),
]
# needs the synonym lexicon (data/synonyms-da.tsv), which the release folder does not hold
DONE_WHEN_LEXICON = [
    (ICPC2, "helvedesild", "S70", 5),
    (ICPC2, "kulderystlse", "A02", 1),
    (ICPC2, "naeldefeber", "S98", 1),
    (ICPC2, "l84", "L84", 1),
    (ICPC2, "bihulebet", "R75", 1),
]


def current_index(app) -> SearchIndex:  # type: ignore[no-untyped-def]
    with app.extensions["termserver.sessions"]() as session:
        return app.extensions["termserver.search"].get(session)


def expanded_entries(app, system: str, query: str,  # type: ignore[no-untyped-def]
                   count: int = 10) -> list[dict[str, Any]]:
    """The filtered expansion's entries, via GET $expand of the system's implicit value set."""
    response = app.test_client().get(EXPAND, query_string={"url": f"{system}?fhir_vs", "filter": query,
                                                           "count": count})
    return check_response(response, 200, "ValueSet")["expansion"].get("contains", [])


@pytest.fixture(scope="module")
def lexicon_app(release_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """ICPC-2 with the synonym lexicon, as ``termserver load`` stores them."""
    from termserver import create_app

    url = make_test_database_url(tmp_path_factory, "lexicon")
    engine = make_engine(url)
    create_schema(engine)
    report = load_paths(make_session_factory(engine), [release_dir / "icpc2", REPO / "data" / "synonyms-da.tsv"],
                        AliasTable())
    engine.dispose()
    assert not report.errors, report.errors
    application = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING"})
    yield application
    application.extensions["termserver.engine"].dispose()


# --- the Done-when queries ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("system", "query", "code", "top"), DONE_WHEN)
def test_done_when_through_search_codes(app, system: str, query: str, code: str, top: int) -> None:
    hits = search_codes(current_index(app), query, [system], limit=top)
    assert code in [h.code for h in hits], [(h.code, h.matched_term, h.match_kind) for h in hits]
    assert all(h.system == system for h in hits)


@pytest.mark.parametrize(("system", "query", "code", "top"), DONE_WHEN)
def test_done_when_through_expand(app, system: str, query: str, code: str, top: int) -> None:
    contains = expanded_entries(app, system, query)
    assert code in [e["code"] for e in contains[:top]], [e["code"] for e in contains]


@pytest.mark.parametrize(("system", "query", "code", "top"), DONE_WHEN_LEXICON)
def test_done_when_with_the_lexicon(lexicon_app, system: str, query: str, code: str, top: int) -> None:
    hits = search_codes(current_index(lexicon_app), query, [system], limit=top)
    assert code in [h.code for h in hits], [(h.code, h.matched_term, h.match_kind) for h in hits]
    assert code in [e["code"] for e in expanded_entries(lexicon_app, system, query)[:top]]


def test_helvedesild_is_found_through_the_lexicon(lexicon_app) -> None:
    [hit] = [h for h in search_codes(current_index(lexicon_app), "helvedesild", [ICPC2]) if h.code == "S70"]
    assert (hit.matched_term, hit.match_kind, hit.term_kind) == ("helvedesild", "exact", "synonym")


@pytest.mark.parametrize(("query", "code", "match_kind", "matched_term", "term_kind"), [
    ("kropslus", "S73", "words", "Infestation med kropslus", "mapped"),  # the ICD-10 text mapped to S73
    ("l84", "L84", "code", "L84", "code"),
    ("hovedpine", "N01", "exact", "Hovedpine", "display"),
    ("hjertebankn", "K04", "fuzzy", "Hjertebanken", "display"),
    ("naeldefeber", "S98", "exact", "Nældefeber", "display"),
])
def test_how_the_match_was_made(app, query: str, code: str, match_kind: str, matched_term: str,
                                term_kind: str) -> None:
    hit = search_codes(current_index(app), query, [ICPC2], limit=1)[0]
    assert (hit.code, hit.match_kind, hit.matched_term, hit.term_kind) == (code, match_kind, matched_term,
                                                                           term_kind)
    [entry] = expanded_entries(app, ICPC2, query, count=1)
    match = {e["url"]: next(v for k, v in e.items() if k.startswith("value"))
             for e in entry["extension"][0]["extension"]}
    assert (entry["code"], match["term"], match["kind"], match["score"]) == (code, matched_term, match_kind,
                                                                             hit.score)


@pytest.mark.parametrize("title", ["Hypertensjon ukomplisert", "Hodepine"])
def test_norwegian_designations_are_not_indexed(app, title: str) -> None:
    """ICPC-2 carries Norwegian and Finnish/Swedish titles too; only Danish and English are searched."""
    hits = search_codes(current_index(app), title, [ICPC2], limit=200)
    assert title not in {h.matched_term for h in hits}


def test_every_loaded_system_is_indexed_at_its_newest_version(app) -> None:
    index = current_index(app)
    assert {ICPC2, SKS_DIAGNOSES, ICD10} <= set(index.systems)
    assert index.get(ICPC2).version == "7.0"
    assert index.generation > 0


# --- life cycle ---------------------------------------------------------------------------------------------------

SYMPTOMS = "http://example.org/fhir/CodeSystem/symptoms"


def write_code_system(path: Path, concepts: list[tuple[str, str]], url: str = SYMPTOMS) -> Path:
    path.write_text(json.dumps({
        "resourceType": "CodeSystem", "url": url, "version": "1", "name": "Symptoms", "status": "active",
        "content": "complete", "language": "da",
        "concept": [{"code": code, "display": display} for code, display in concepts]}), encoding="utf-8")
    return path


@pytest.fixture()
def small_store(tmp_path_factory: pytest.TempPathFactory):
    engine = make_engine(make_test_database_url(tmp_path_factory, "lifecycle"))
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


def test_a_load_that_changes_the_store_rebuilds_the_index(small_store, tmp_path: Path) -> None:
    aliases = AliasTable()
    before = [("S1", "Hovedpine"), ("S2", "Hoste")]
    path = write_code_system(tmp_path / "symptoms.json", before)
    assert not load_paths(small_store, [path], aliases).errors
    holder = IndexHolder(small_store, lambda session: Context(session, aliases, {}), check_seconds=0)
    first = holder.build()
    assert [h.code for h in search_codes(first, "hoste", [SYMPTOMS])] == ["S2"]
    assert search_codes(first, "naeldefeber", [SYMPTOMS]) == []

    # reloading the same file changes nothing: same generation, same index
    assert [r.status for r in load_paths(small_store, [path], aliases).results] == ["unchanged"]
    with small_store() as session:
        assert current_generation(session) == first.generation
        assert holder.get(session) is first

    # a changed file: the next get() rebuilds, and the new term is found
    write_code_system(path, before + [("S3", "Nældefeber")])
    assert [r.status for r in load_paths(small_store, [path], aliases).results] == ["replaced"]
    with small_store() as session:
        generation = current_generation(session)
        rebuilt = holder.get(session)
    assert generation > first.generation
    assert rebuilt is not first and rebuilt.generation == generation
    assert [h.code for h in search_codes(rebuilt, "naeldefeber", [SYMPTOMS])] == ["S3"]
    assert [h.code for h in search_codes(rebuilt, "hoste", [SYMPTOMS])] == ["S2"]
    with small_store() as session:
        assert holder.get(session) is rebuilt  # no change since: no rebuild


def test_the_store_is_checked_at_most_every_check_seconds(small_store, tmp_path: Path) -> None:
    aliases = AliasTable()
    path = write_code_system(tmp_path / "symptoms.json", [("S1", "Hovedpine")])
    load_paths(small_store, [path], aliases)
    holder = IndexHolder(small_store, lambda session: Context(session, aliases, {}), check_seconds=3600)
    first = holder.build()
    write_code_system(path, [("S1", "Hovedpine"), ("S3", "Nældefeber")])
    assert [r.status for r in load_paths(small_store, [path], aliases).results] == ["replaced"]
    with small_store() as session:
        assert holder.get(session) is first  # checked too recently: keeps the old index
    assert search_codes(holder.index, "naeldefeber", [SYMPTOMS]) == []


def test_an_empty_store_has_an_empty_index(small_store) -> None:
    holder = IndexHolder(small_store, lambda session: Context(session, AliasTable(), {}), check_seconds=0)
    index = holder.build()
    assert index.systems == {} and index.generation == 0
    assert search_codes(index, "hoste", None) == []


def test_a_load_of_several_parts_bumps_the_generation_once(small_store, tmp_path: Path) -> None:
    aliases = AliasTable()
    with small_store() as session:
        start = current_generation(session)
    paths = [write_code_system(tmp_path / f"part{i}.json", [("S1", f"Hovedpine {i}")], url=f"{SYMPTOMS}-{i}")
             for i in range(3)]
    assert [r.status for r in load_paths(small_store, paths, aliases).results] == ["loaded"] * 3
    with small_store() as session:
        assert current_generation(session) == start + 1  # one rebuild per load, not one per part
    assert [r.status for r in load_paths(small_store, paths, aliases).results] == ["unchanged"] * 3
    with small_store() as session:
        assert current_generation(session) == start + 1


def test_a_rebuilt_index_is_frozen_out_of_garbage_collections(small_store, tmp_path: Path) -> None:
    """After the first build and after a rebuild the index is in the collector's permanent generation: a
    collection in a worker never scans its ~10⁶ objects (a 100 ms pause in some request), and the old index is
    freed rather than frozen with it."""
    import gc
    import weakref

    aliases = AliasTable()
    path = write_code_system(tmp_path / "symptoms.json", [("S1", "Hovedpine"), ("S2", "Hoste")])
    load_paths(small_store, [path], aliases)
    holder = IndexHolder(small_store, lambda session: Context(session, aliases, {}), check_seconds=0)

    def tracked(index) -> bool:  # type: ignore[no-untyped-def]
        return any(obj is index for obj in gc.get_objects())  # generations 0-2, not the permanent one

    first = holder.build()
    assert gc.isenabled() and not tracked(first)
    old = weakref.ref(first.systems[SYMPTOMS])
    del first
    write_code_system(path, [("S1", "Hovedpine"), ("S3", "Nældefeber")])
    load_paths(small_store, [path], aliases)
    with small_store() as session:
        rebuilt = holder.get(session)
    assert gc.isenabled() and not tracked(rebuilt)
    assert [h.code for h in search_codes(rebuilt, "naeldefeber", [SYMPTOMS])] == ["S3"]
    assert old() is None, "the old index is still alive after the rebuild"
