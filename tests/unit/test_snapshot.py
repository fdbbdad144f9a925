"""The in-memory snapshot answers validations and lookups exactly as the store does."""
from __future__ import annotations

import dataclasses
import json
import random

import pytest

from termserver.errors import TermserverError
from termserver.fhir import render
from termserver.services import catalog
from termserver.services.codesystems import LookupRequest, lookup_code, validate_coding
from termserver.services.results import Coding

SYSTEMS = ["urn:oid:1.2.208.176.2.31", "http://hl7.org/fhir/sid/icpc-2", "urn:oid:1.2.208.176.2.4.12",
           "http://hl7.org/fhir/sid/icd-10", "http://npu-terminology.org", "urn:oid:1.2.208.184.100.8",
           "https://terminology.medcom.dk/fhir/observation-code"]


@pytest.fixture(scope="module")
def contexts(app):
    sessions = app.extensions["termserver.sessions"]
    index = app.extensions["termserver.search"].index
    session = sessions()
    settings = app.config["TERMSERVER"]
    aliases = app.extensions["termserver.aliases"]
    yield catalog.Context(session, aliases, settings, index), catalog.Context(session, aliases, settings, None)
    session.close()


def _cases(index, system: str, aliases) -> list[Coding]:
    snapshot = index.snapshots[aliases.canonical(system)]
    codes = sorted(snapshot.concepts)
    rng = random.Random(system)
    chosen = rng.sample(codes, min(60, len(codes))) + [codes[0], codes[-1]]
    cases = []
    for code in chosen:
        concept = snapshot.concepts[code]
        cases += [Coding(system, code), Coding(system, code, concept.display),
                  Coding(system, code, (concept.display or "x").upper()), Coding(system, code, "Forkert tekst"),
                  Coding(system, code.lower()), Coding(system, code + "9"), Coding(system, code, version="0.0")]
        cases += [Coding(system, code, d.value) for d in concept.designations[:3]]
    return cases


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("language", [None, "en", "da"])
def test_snapshot_and_store_give_the_same_answer(contexts, system: str, language: str | None) -> None:
    fast, store = contexts
    for coding in _cases(fast.search, system, fast.aliases):
        from_snapshot = validate_coding(fast, dataclasses.replace(coding), display_language=language, path="Coding")
        from_store = validate_coding(store, dataclasses.replace(coding), display_language=language, path="Coding")
        assert from_snapshot == from_store, coding


def _lookup_answer(ctx: catalog.Context, request: LookupRequest) -> str:
    """The rendered $lookup answer (or the error it raises), as the client gets it."""
    try:
        return json.dumps(render.lookup_parameters(lookup_code(ctx, request)), ensure_ascii=False)
    except TermserverError as exc:
        return f"{type(exc).__name__} {exc.status} {exc.issue_code} {exc.message}"


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("language", [None, "en", "da"])
def test_lookup_from_the_snapshot_is_the_stores_answer(contexts, system: str, language: str | None) -> None:
    fast, store = contexts
    snapshot = fast.search.snapshots[fast.aliases.canonical(system)]
    codes = {coding.code for coding in _cases(fast.search, system, fast.aliases)}
    # the codes with the most to say: supplements, properties, children
    for kind in ("supplements", "properties", "children", "parents"):
        having = sorted(c.code for c in snapshot.concepts.values() if getattr(c, kind))
        codes |= set(random.Random(kind).sample(having, min(15, len(having))))
    compared = 0
    for code in sorted(codes):
        for properties in ((), ("parent", "child"), ("*",), ("inclusion", "status")):
            request = LookupRequest(system, code, None, language, properties)
            from_snapshot = _lookup_answer(fast, request)
            assert from_snapshot == _lookup_answer(store, request), (code, properties)
            compared += 1
    assert compared > 100


def test_lookup_of_another_version_goes_to_the_store(contexts) -> None:
    fast, _ = contexts
    request = LookupRequest("http://hl7.org/fhir/sid/icpc-2", "K86", "0.0")
    assert _lookup_answer(fast, request).startswith("UnknownCodeSystem 404")


@pytest.mark.parametrize(("system", "target", "reverse"), [
    ("http://hl7.org/fhir/sid/icpc-2", None, False), ("urn:oid:1.2.208.176.2.31", "urn:oid:1.2.208.176.2.4.12", False),
    ("urn:oid:1.2.208.176.2.4.12", None, False), ("http://hl7.org/fhir/sid/icd-10", None, True),
])
def test_translation_displays_from_the_snapshot_are_the_stores(contexts, system: str, target: str | None,
                                                               reverse: bool) -> None:
    """$translate fills each target's display from the snapshot; the answer is the one the store gives."""
    from termserver.services.conceptmaps import TranslateRequest, translate_code

    fast, store = contexts
    snapshot = fast.search.snapshots[fast.aliases.canonical(system)]
    codes = sorted(snapshot.concepts)
    chosen = random.Random(system).sample(codes, min(80, len(codes)))
    from sqlalchemy import or_, select

    from termserver.models import MapElement

    mapped = sorted({code for code in store.session.scalars(select(MapElement.target_code).where(or_(
        MapElement.target_system == system, MapElement.target_system == store.aliases.canonical(system))))
        if code})
    chosen += random.Random(system).sample(mapped, min(40, len(mapped)))
    translated = 0
    for code in chosen + [c.lower() for c in chosen[:10]]:
        request = TranslateRequest(system, code, target_system=target, reverse=reverse)
        answers = []
        for ctx in (fast, store):
            try:
                answers.append(json.dumps(render.translate_parameters(translate_code(ctx, request)),
                                          ensure_ascii=False))
            except TermserverError as error:
                answers.append(f"{type(error).__name__}: {error}")
        assert answers[0] == answers[1], code
        translated += '"display"' in answers[0]
    assert translated >= 10, "too few translations with displays to compare"
