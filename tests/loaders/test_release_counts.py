"""Every file in the release folder loads, and each system holds exactly the codes its source files have."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from loaders import fhir, icpc2_extra, icpc2e_xlsx, nlk_xlsx
from termserver.db import make_engine, make_session_factory
from termserver.models import CodeSystemVersion, ConceptMapVersion

pytestmark = pytest.mark.release


@pytest.fixture(scope="module")
def stored(loaded_database: str) -> tuple[dict[tuple[str, str | None], int], dict[str, int]]:
    engine = make_engine(loaded_database)
    with make_session_factory(engine)() as session:
        systems = {(r.url, r.version): r.concept_count for r in session.scalars(select(CodeSystemVersion))}
        maps = {r.url: r.mapping_count for r in session.scalars(select(ConceptMapVersion))}
    engine.dispose()
    return systems, maps


@pytest.mark.parametrize("url, version, count", [
    # 726 ICPC-2e rows + 17 chapters + 9 Danish process codes (A30 …) from the extra-codes TSV (its D86 is a rubric)
    ("http://hl7.org/fhir/sid/icpc-2", "7.0", 726 + 17 + 9),
    ("urn:oid:1.2.208.176.2.4.12", None, 24979),
    ("http://hl7.org/fhir/sid/icd-10", "2019", 22 + 274 + 2050 + 10196),
    ("urn:oid:1.2.208.184.100.8", "1.0.0", 432),
    # 9,737 distinct NPU codes in NLK + the Danish-only codes of the Danish NPU CodeSystem
    ("urn:oid:1.2.208.176.2.1", "7280.77", 9741),
    ("http://hl7.dk/fhir/core/CodeSystem/icpc2E-DK", None, 684),
    ("http://hl7.dk/fhir/core/CodeSystem/icd10-da", "2026-06-16", 10563),
    ("urn:oid:2.16.578.1.12.4.1.1.7170", None, 708),
    ("https://termserver.dk/fhir/CodeSystem/icpc2-fi-sv-thl", "2020-05-05", 1383),
])
def test_code_counts_equal_the_source_files(stored, url: str, version: str | None, count: int) -> None:
    systems, _ = stored
    assert systems[(url, version)] == count


def test_only_one_version_of_each_assembled_system(stored) -> None:
    systems, _ = stored
    assert [v for (u, v) in systems if u == "urn:oid:1.2.208.176.2.1"] == ["7280.77"]
    assert [v for (u, v) in systems if u == "http://hl7.org/fhir/sid/icpc-2"] == ["7.0"]


def test_npu_count_is_the_union_of_both_sources(release_dir: Path, stored) -> None:
    nlk = nlk_xlsx.parse(release_dir / "npu" / "Norsk_Laboratoriekodeverk_7280.77.xlsx").code_systems[0]
    danish = fhir.parse(release_dir / "npu" / "CodeSystem-urn-oid-1.2.208.176.2.1.json").code_systems[0]
    union = {c.code for c in nlk.concepts} | {c.code for c in danish.concepts}
    assert len(union) == stored[0][("urn:oid:1.2.208.176.2.1", "7280.77")]


def test_icpc2_count_is_the_union_of_its_sources(release_dir: Path, stored) -> None:
    excel = icpc2e_xlsx.parse(release_dir / "icpc2" / "icpc-2e-v7.0.xlsx").code_systems[0]
    extra = icpc2_extra.parse(release_dir / "icpc2" / "icpc2-extra-codes.tsv").code_systems[0]
    union = {c.code for c in excel.concepts} | {c.code for c in extra.concepts}
    assert len(union) == stored[0][("http://hl7.org/fhir/sid/icpc-2", "7.0")]


@pytest.mark.parametrize("url, count", [
    ("http://hl7.dk/fhir/core/ConceptMap/icpc2-icd10", 9287),  # 9,278 pairs + 9 unmatched process codes
    ("https://termserver.dk/fhir/ConceptMap/icpc2e-icd10", 9913),  # 9,915 cells less 4 repeats, plus 2 split
    ("http://ehealth.sundhed.dk/ConceptMap/conceptmap-obs-code-to-ucum", 23),
])
def test_map_entry_counts(stored, url: str, count: int) -> None:
    assert stored[1][url] == count
