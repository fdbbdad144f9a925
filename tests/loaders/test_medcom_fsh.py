"""MedCom's FSH terminology sources: hand-made files (value sets with aliases and inline concepts, a code system, an
alias file, malformed FSH naming file and line), then MedCom's real IG folder (26 value sets, 17 code systems of
its own, the NPU and MCS observation value sets and their pre-2025 URLs)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from loaders import find_loader, is_not_a_release, medcom_fsh
from loaders.model import ParsedValueSet
from loaders.run import load_paths
from termserver.db import create_schema, make_engine, make_session_factory
from termserver.errors import LoadError
from termserver.models import ValueSetVersion
from termserver.systems import MCS, MCS_IG, MCS_LEGACY, NPU, AliasTable
from tests.conftest import FIXTURES, REPO

IG = "http://medcomfhir.dk/ig/terminology"
NPU_VS = f"{IG}/ValueSet/npu-observation-codes-valueset"
MCS_VS = f"{IG}/ValueSet/medcom-observation-valueset"
NPU_VS_OLD = f"{IG}/ValueSet/NPUObservationCodesValueSet"
MCS_VS_OLD = f"{IG}/ValueSet/MedComObservationValueSet"
ACTIVITY_CODES = f"{IG}/CodeSystem/medcom-messaging-activityCodes"
FSH = FIXTURES / "fsh" / "medcom"
IG_FOLDER = REPO.parent / "shared" / "fhir-examples" / "dk-medcom-terminology"


def value_sets(path: Path) -> dict[str, ParsedValueSet]:
    return {vs.url: vs for vs in medcom_fsh.parse(path).value_sets}


def listed(value_set: ParsedValueSet) -> list[str]:
    return [c["code"] for include in value_set.compose["include"] for c in include.get("concept", [])]


# --- hand-made files ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, claimed", [("Observations.fsh", True), ("Messaging.fsh", True),
                                           ("alias.fsh", False)])
def test_sniff_claims_fsh_with_value_sets_or_code_systems(name: str, claimed: bool) -> None:
    path = FSH / name
    assert medcom_fsh.sniff(path) is claimed
    assert is_not_a_release(path) is not claimed
    if claimed:
        assert find_loader(path) is medcom_fsh


def test_copies_of_npu_and_mcs_become_concept_lists_under_the_real_systems() -> None:
    release = medcom_fsh.parse(FSH / "Observations.fsh")
    assert release.format == "medcom-fsh"
    assert release.code_systems == []  # MedCom's copies would replace the 9,741-code NPU and the 432-code MCS
    npu, mcs = release.value_sets
    assert (npu.url, npu.version, npu.status, npu.name, npu.date) == (
        NPU_VS, "1.8.1", "draft", "NPUObservationCodesValueSet", "2025-06-28")
    assert npu.extra["aliases"] == [NPU_VS_OLD]
    [include] = npu.compose["include"]
    assert include["system"] == NPU
    assert include["concept"][0] == {
        "code": "NPU19748", "display": "P—C-reaktivt protein; massek. = ? mg/L",
        "designation": [{"use": {"system": "http://snomed.info/sct", "code": "900000000000013009"},
                         "value": "C-reaktivt protein [CRP];P"}]}
    assert listed(npu) == ["NPU19748", "NPU02593", "NPU02636", "NPU03804"]
    # the IG's own URL of the MCS copy is an alias of MCS: the value set names the canonical OID
    assert (mcs.url, mcs.extra["aliases"], mcs.compose["include"][0]["system"]) == (MCS_VS, [MCS_VS_OLD], MCS)
    assert listed(mcs) == ["MCS88125", "MCS88126"]
    assert mcs.extra["experimental"] is True


def test_data_errors_and_skipped_copies_are_warnings() -> None:
    warnings = medcom_fsh.parse(FSH / "Observations.fsh").warnings
    assert any(w.startswith("line 3: CodeSystem 'NPUObservationCodes' is MedCom's copy of 4 codes of NPU")
               for w in warnings)
    assert any("copy of 2 codes of MedCom MCS" in w and MCS_IG in w for w in warnings)
    assert "line 22: value set 'npu-observation-codes-valueset': NPU02636 has the same display as NPU02593: " \
           "'B—Leukocytter; antalk. = ? × 10^9/L'" in warnings


def test_a_code_system_of_medcom_its_concepts_and_hierarchy() -> None:
    release = medcom_fsh.parse(FSH / "Messaging.fsh")
    [system] = release.code_systems
    assert (system.url, system.version, system.status, system.name, system.case_sensitive, system.content) == (
        ACTIVITY_CODES, "1.8.1", "active", "MedComMessagingActivityCodes", False, "complete")
    assert system.description == "CodeSystem containing codes for activities\noccuring in MedCom messages"
    assert [(p.code, p.type) for p in system.property_definitions] == [("status", "code")]
    concepts = {c.code: c for c in system.concepts}
    assert list(concepts) == ["new-message", "admit", "admit-emergency", "retired-message", "code with space"]
    new = concepts["new-message"]
    assert (new.display, new.definition, new.status) == ("A new message has been sent", "Sent for the first time",
                                                         "active")
    emergency = concepts["admit-emergency"]
    assert emergency.parents == ["admit"]
    assert emergency.display == "Start hospital stay - acute ambulant"  # the second definition is dropped
    assert [(d.language, d.value) for d in emergency.designations] == [("da", "Start sygehusophold - akut ambulant")]
    assert concepts["retired-message"].active is False
    assert "line 26: code system 'medcom-messaging-activityCodes': code admit-emergency is defined twice; the first " \
           "definition is kept" in release.warnings
    assert "code system 'medcom-messaging-activityCodes': code new-message has a property 'status' without a " \
           "value; dropped" in release.warnings


def test_value_set_rules() -> None:
    release = medcom_fsh.parse(FSH / "Messaging.fsh")
    vs = {v.url: v for v in release.value_sets}[f"{IG}/ValueSet/medcom-hospitalNotification-messageActivities"]
    assert vs.compose == {
        "include": [
            {"system": ACTIVITY_CODES, "filter": [{"property": "concept", "op": "descendent-of", "value": "admit"}]},
            # a concept rule and an 'include … from system' rule of the same system share one include
            {"system": ACTIVITY_CODES, "concept": [{"code": "new-message", "display": "A new message"},
                                                   {"code": "retired-message"}, {"code": "code with space"}]},
            {"system": "http://snomed.info/sct", "concept": [{"code": "723506003"}]},
            {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type"}],
        "exclude": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "concept": [{"code": "OBSENC"}]}]}
    assert "aliases" not in vs.extra
    assert any(w.startswith("line 37: value set 'medcom-hospitalNotification-messageActivities': rule not "
                            "supported in a ValueSet, skipped: * insert SomeRuleSet") for w in release.warnings)
    assert any(w.startswith("line 52: Instance 'medcom-messaging-map' of ConceptMap skipped") for w in release.warnings)


def test_caret_compose_the_pre_2025_form() -> None:
    release = medcom_fsh.parse(FSH / "Messaging.fsh")
    legacy = {v.url: v for v in release.value_sets}["http://example.org/fhir/ValueSet/legacy-observations"]
    assert legacy.extra["identifier"] == [{"value": NPU}]
    # the retired MCS URI ($medcomcodes) becomes the canonical one; the code listed twice is listed once
    assert legacy.compose == {"include": [{"system": MCS, "concept": [
        {"code": "MCS88125", "display": "TOBS score;Pt",
         "designation": [{"use": {"code": "900000000000013009"}, "value": "TOBS"}]}]}]}
    assert "line 48: value set 'legacy-observations': code MCS88125 is listed twice; listed once" in release.warnings
    assert any("designation use 900000000000013009 has no system" in w for w in release.warnings)
    assert any(w.startswith("line 50: value set 'legacy-observations': path 'extension[fmm].valueInteger' is not "
                            "supported, rule skipped") for w in release.warnings)


def test_a_file_alone_still_uses_the_aliases_and_code_systems_of_its_folder(tmp_path: Path) -> None:
    (tmp_path / "alias.fsh").write_text("Alias: $sct = http://snomed.info/sct\n", encoding="utf-8")
    (tmp_path / "Codes.fsh").write_text('CodeSystem: Own\nId: own\n* ^url = "http://example.org/cs/own"\n'
                                        '* #a "A"\n', encoding="utf-8")
    path = tmp_path / "Status.fsh"
    path.write_text("ValueSet: Status\n* $sct#723506003\n* Own#a\n", encoding="utf-8")
    [vs] = medcom_fsh.parse(path).value_sets
    assert vs.url == f"{IG}/ValueSet/Status"  # no Id: the name is the id
    assert [i["system"] for i in vs.compose["include"]] == ["http://snomed.info/sct", "http://example.org/cs/own"]


def test_the_canonical_comes_from_sushi_config(tmp_path: Path) -> None:
    folder = tmp_path / "input" / "fsh"
    folder.mkdir(parents=True)
    (tmp_path / "sushi-config.yaml").write_text("id: x\ncanonical: http://example.org/ig/\n", encoding="utf-8")
    (folder / "Vs.fsh").write_text("ValueSet: Vs\nId: vs\n* http://snomed.info/sct#1\n", encoding="utf-8")
    assert list(value_sets(folder / "Vs.fsh")) == ["http://example.org/ig/ValueSet/vs"]


@pytest.mark.parametrize("text, line, message", [
    ('ValueSet: A\n* ^status = #draft\n* $sct#1 "resolved\n', 3, "unterminated string"),
    ("* ^status = #draft\nValueSet: A\n", 1, "rule outside any definition"),
    ("ValueSet: A\n\n* $nope#1\n", 3, "unknown alias $nope"),
    ("ValueSet: A\n* include codes from system nowhere\n", 2, "unknown code system 'nowhere'"),
    ("ValueSet: A\n* include codes from\n", 2, "expected 'system <name>' or 'valueset <name>'"),
    ("ValueSet: A\n* include codes from system $sct where concept is-like #1\n", 2, "unknown filter operator"),
    ('ValueSet: A\n* #1 "one"\n', 2, "code #1 has no system"),
    ('CodeSystem: C\n* #1 "one" "two" "three"\n', 2, "a concept rule is"),
    ("ValueSet:\n", 1, "'ValueSet:' needs a name"),
    ("ValueSet: A\nhello world\n", 2, "cannot read 'hello world'"),
    ("ValueSet: A\nId: a\n", 1, "ValueSet 'A' includes nothing"),
])
def test_malformed_fsh_names_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    (tmp_path / "alias.fsh").write_text("Alias: $sct = http://snomed.info/sct\n", encoding="utf-8")
    path = tmp_path / "Broken.fsh"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError) as caught:
        medcom_fsh.parse(path)
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_a_malformed_file_fails_the_folder_load_and_stores_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fsh.sqlite'}")
    create_schema(engine)
    broken = FIXTURES / "fsh" / "malformed"
    report = load_paths(make_session_factory(engine), [FSH, broken], AliasTable())
    assert report.errors == [f"{broken / 'Broken.fsh'}:4: unterminated string \"resolved"]
    assert report.results == []
    engine.dispose()


def test_loading_the_folder_stores_value_sets_with_their_former_urls(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fsh.sqlite'}")
    create_schema(engine)
    factory = make_session_factory(engine)
    report = load_paths(factory, [FSH], AliasTable())
    assert not report.errors, report.errors
    assert [(p.name, why) for p, why in report.skipped] == [("alias.fsh", "not a release, skipped")]
    assert sorted((r.kind, r.status) for r in report.results) == [("CodeSystem", "loaded")] + [("ValueSet",
                                                                                                "loaded")] * 4
    with factory() as session:
        stored = {row.url: row for row in session.scalars(select(ValueSetVersion))}
        assert stored[NPU_VS].aliases == [NPU_VS_OLD]
        assert "aliases" not in stored[NPU_VS].extra  # kept out of the FHIR resource
        assert stored[f"{IG}/ValueSet/medcom-hospitalNotification-messageActivities"].aliases == []
    again = load_paths(factory, [FSH], AliasTable())
    assert {r.status for r in again.results} == {"unchanged"}
    engine.dispose()


def test_termserver_load_adds_the_extra_releases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from termserver.cli import main
    from termserver.config import default_extra_releases, load_settings

    releases = tmp_path / "releases"
    releases.mkdir()
    (releases / "cs.json").write_text('{"resourceType": "CodeSystem", "url": "http://example.org/cs", "status": '
                                      '"active", "content": "complete", "concept": [{"code": "a"}]}', encoding="utf-8")
    monkeypatch.setenv("TERMSERVER_DATA", str(releases))
    monkeypatch.setenv("TERMSERVER_EXTRA_RELEASES", str(FSH))
    assert default_extra_releases(load_settings()) == [FSH]
    result = CliRunner().invoke(main, ["load", "--quiet", "--database-url", f"sqlite:///{tmp_path / 'x.sqlite'}"])
    assert result.exit_code == 0, result.output
    rows = [line.split()[:2] for line in result.output.splitlines() if line.startswith(("CodeSystem", "ValueSet"))]
    assert ["ValueSet", NPU_VS] in rows and ["CodeSystem", "http://example.org/cs"] in rows


def test_the_default_extra_release_is_the_ig_folder_beside_the_repository() -> None:
    from termserver.config import default_extra_releases

    expected = [IG_FOLDER / "input" / "fsh"] if (IG_FOLDER / "input" / "fsh").is_dir() else []
    assert [p.resolve() for p in default_extra_releases({})] == [p.resolve() for p in expected]
    assert default_extra_releases({"EXTRA_RELEASES": []}) == []


# --- MedCom's real IG --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ig_fsh() -> Path:
    """MedCom's terminology IG sources. Skipped on a developer machine without them; in CI a failure."""
    folder = IG_FOLDER / "input" / "fsh"
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"MedCom's FSH sources not found: CI must have {folder}")
        pytest.skip(f"MedCom's FSH sources not found in {folder}")
    return folder


def _parse_folder(folder: Path) -> tuple[list, list[str], list[str]]:
    releases, skipped = [], []
    for path in sorted(folder.glob("*.fsh")):
        if is_not_a_release(path):
            skipped.append(path.name)
        else:
            releases.append(medcom_fsh.parse(path))
    return releases, skipped, [w for r in releases for w in r.warnings]


def test_the_ig_has_26_value_sets_and_17_code_systems_of_medcom_own(ig_fsh: Path) -> None:
    releases, skipped, _ = _parse_folder(ig_fsh)
    assert skipped == ["MedComMessagingMapFhirToSorEdi.fsh", "alias.fsh"]  # a ConceptMap instance; aliases only
    urls = [vs.url for r in releases for vs in r.value_sets]
    assert len(urls) == len(set(urls)) == 26
    assert all(url.startswith(f"{IG}/ValueSet/") for url in urls)
    systems = [cs.url for r in releases for cs in r.code_systems]
    assert len(systems) == len(set(systems)) == 17  # 19 in the IG, less MedCom's copies of NPU and MCS
    assert NPU not in systems and MCS_IG not in systems and MCS not in systems
    assert f"{IG}/CodeSystem/medcom-messaging-activityCodes" in systems


def test_the_npu_value_set_lists_the_35_codes_of_the_national_repertoire(ig_fsh: Path) -> None:
    npu = value_sets(ig_fsh / "NPUObservationCodes.fsh")[NPU_VS]
    assert (npu.version, npu.extra["aliases"]) == ("1.8.1", [NPU_VS_OLD])
    [include] = npu.compose["include"]
    assert include["system"] == NPU
    codes = listed(npu)
    assert len(codes) == len(set(codes)) == 35
    assert codes[:3] == ["DNK05473", "DNK05472", "NPU21692"] and "NPU19748" in codes
    displays = {c["code"]: c["display"] for c in include["concept"]}
    assert displays["NPU03429"] == "P—Natrium-ion; stofk. = ? mmol/L"  # Danish NPU names


def test_the_mcs_value_set_lists_4_codes_under_the_mcs_oid(ig_fsh: Path) -> None:
    mcs = value_sets(ig_fsh / "MedComObservationsCodes.fsh")[MCS_VS]
    assert (mcs.version, mcs.extra["aliases"], mcs.compose["include"][0]["system"]) == ("1.8.1", [MCS_VS_OLD], MCS)
    assert listed(mcs) == ["MCS88122", "MCS88125", "MCS88126", "MCS88147"]


def test_the_former_urls_are_those_of_the_pre_2025_ig(ig_fsh: Path) -> None:
    legacy = IG_FOLDER / "_history" / "d32d467" / "input" / "fsh"
    old_npu = medcom_fsh.parse(legacy / "NPUObservationCodes.fsh")
    old_mcs = medcom_fsh.parse(legacy / "MedComObservationsCodes.fsh")
    [npu], [mcs] = old_npu.value_sets, old_mcs.value_sets
    assert (npu.url, mcs.url) == (NPU_VS_OLD, MCS_VS_OLD)
    # the same codes then as now; the legacy MCS system URI is an alias of the MCS OID
    current = value_sets(ig_fsh / "NPUObservationCodes.fsh")[NPU_VS]
    assert listed(npu) == listed(current)
    assert mcs.compose["include"][0]["system"] == MCS and AliasTable().canonical(MCS_LEGACY) == MCS
    assert listed(mcs) == listed(value_sets(ig_fsh / "MedComObservationsCodes.fsh")[MCS_VS])
    assert "line 55: value set 'NPUObservationCodesValueSet': code NPU01933 is listed twice; listed once" \
        in old_npu.warnings


def test_medcoms_data_errors_are_reported(ig_fsh: Path) -> None:
    _, _, warnings = _parse_folder(ig_fsh)
    for expected in [
        "line 336: value set 'npu-observation-codes-valueset': NPU02636 has the same display as NPU02593: "
        "'B—Leukocytter; antalk. = ? × 10^9/L'",
        "line 336: value set 'npu-observation-codes-valueset': NPU18016 has the same designation as NPU04998: "
        "'Kreatinin;P'",
        "line 1: code system 'medcom-core-PractitionerRolesSKSadministrativ': pyskolog has the same display as "
        "psykolog: 'Psykolog'",
    ]:
        assert expected in warnings
    assert not any("not supported" in w or "unknown" in w for w in warnings), warnings


@pytest.mark.release
def test_the_value_sets_against_the_stored_npu_and_mcs(ig_fsh: Path, loaded_database: str) -> None:
    engine = make_engine(loaded_database)
    with make_session_factory(engine)() as session:
        lines = medcom_fsh.check_stored_value_sets(session, AliasTable(), [NPU_VS, MCS_VS])
    engine.dispose()
    npu = f"ValueSet '{NPU_VS}': code"
    mcs = f"ValueSet '{MCS_VS}': code"
    # four NPU analyses of the repertoire are missing from the Nordic list our NPU is built from
    assert [line for line in lines if "is not in" in line] == [
        f"{npu} {code} is not in NPU ({NPU}|7280.77)" for code in ("NPU02319", "NPU21578", "NPU16328", "NPU18542")]
    # MedCom shows the long NPU/MCS name where the Danish NPU and MCS releases have the short name as display
    assert f"{npu} DNK05472 has NPU's definition as display, NPU's display is 'Blodtryk systolisk;Arm'" in lines
    assert f"{npu} DNK05473 has display 'Arm—Blodtryk(diastolisk); tryk =? mmHg', NPU says 'Blodtryk " \
           "diastolisk;Arm' (definition 'Arm—Blodtryk(diastolisk); tryk = ? mmHg')" in lines
    assert f"{mcs} MCS88125 has MedCom MCS's definition as display, MedCom MCS's display is 'TOBS score;Pt'" \
        in lines
    assert len(lines) == 4 + 2 + 4
