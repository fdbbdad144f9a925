"""The synonym lexicon loader (``term<TAB>code[<TAB>system]``): hand-made files, errors naming file and line, the
sniffers of the lexicon and of the look-alike ICPC-2 extra-codes TSV, and the real data/synonyms-da.tsv."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from loaders import find_loader, icpc2_extra, lexicon_tsv
from loaders.icpc2_chapters import DESIGNATION_USE, SYNONYM
from termserver.errors import LoadError
from termserver.systems import ICPC2, SKS_DIAGNOSES
from tests.conftest import REPO

LEXICON = """\
# Danish lay words for a test
term\tcode\tsystem

# A Almen
kulderystelser\tA02
kuldegysninger\tA02\t
  helvedesild  \tS70
helvedesild\tS70
hjertebanken\tK04
hjertebanken\tK04
\t\t
lændesmerter\tDM545\turn:oid:1.2.208.176.2.4.12
   # an indented comment
rygsmerter\tDM545\turn:oid:1.2.208.176.2.4.12
"""


def write(tmp_path: Path, text: str, name: str = "synonyms-da.tsv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def terms(system) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {c.code: [d.value for d in c.designations] for c in system.concepts}


def test_one_supplement_per_system(tmp_path: Path) -> None:
    release = lexicon_tsv.parse(write(tmp_path, LEXICON))
    assert release.format == "lexicon-tsv"
    icpc, sks = release.code_systems
    assert (icpc.url, icpc.supplements, icpc.content, icpc.language) == (
        f"{lexicon_tsv.URL_BASE}/synonyms-da", ICPC2, "supplement", "da")
    assert (sks.url, sks.supplements, sks.content) == (f"{lexicon_tsv.URL_BASE}/synonyms-da-2", SKS_DIAGNOSES,
                                                       "supplement")
    # a term is kept once per code, in file order, trimmed; a blank system column means ICPC-2
    assert terms(icpc) == {"A02": ["kulderystelser", "kuldegysninger"], "S70": ["helvedesild"],
                           "K04": ["hjertebanken"]}
    assert terms(sks) == {"DM545": ["lændesmerter", "rygsmerter"]}


def test_terms_are_danish_synonyms(tmp_path: Path) -> None:
    release = lexicon_tsv.parse(write(tmp_path, LEXICON))
    for system in release.code_systems:
        for concept in system.concepts:
            assert concept.display is None  # a supplement adds designations, never a display
            for d in concept.designations:
                assert (d.language, d.use_system, d.use_code, d.use_display) == ("da", DESIGNATION_USE, SYNONYM,
                                                                                 "Synonym")


@pytest.mark.parametrize(("text", "columns"), [
    ("term\tcode\nhøjt blodtryk\tK86\n", 2),
    ("Term\tCode\nhøjt blodtryk\tK86\n", 2),                 # header in any case
    ("\ufeffterm\tcode\r\nhøjt blodtryk\tK86\r\n", 2),       # BOM and CRLF
    ("term\tcode\tsystem\nhøjt blodtryk\tK86\thttp://hl7.org/fhir/sid/icpc-2\n", 3),
])
def test_two_or_three_columns(tmp_path: Path, text: str, columns: int) -> None:
    [system] = lexicon_tsv.parse(write(tmp_path, text)).code_systems
    assert system.supplements == ICPC2
    assert terms(system) == {"K86": ["højt blodtryk"]}


def test_the_url_comes_from_the_file_name(tmp_path: Path) -> None:
    text = "term\tcode\nhøjt blodtryk\tK86\n"
    first = lexicon_tsv.parse(write(tmp_path, text, "Praksis Ord (2024).tsv")).code_systems[0]
    assert first.url == f"{lexicon_tsv.URL_BASE}/praksis-ord-2024"
    edited = lexicon_tsv.parse(write(tmp_path, text + "blodtryk\tK86\n", "Praksis Ord (2024).tsv")).code_systems[0]
    assert edited.url == first.url  # loading an edited lexicon replaces the old one


@pytest.mark.parametrize(("text", "message", "line"), [
    ("højt blodtryk\tK86\n", "header 'term<TAB>code", None),
    ("# only a comment\nhøjt blodtryk\tK86\n", "header 'term<TAB>code", None),
    ("code\tterm\nK86\thøjt blodtryk\n", "header 'term<TAB>code", None),
    ("", "header 'term<TAB>code", None),
    ("term\tcode\n", "no terms after the header", None),
    ("term\tcode\n# none yet\n\n", "no terms after the header", None),
    ("term\tcode\nhøjt blodtryk\n", "expected 2 or 3 tab-separated columns, found 1", 2),
    ("term\tcode\n# one\n\nhøjt blodtryk\tK86\tx\ty\n", "expected 2 or 3 tab-separated columns, found 4", 4),
    ("term\tcode\nhøjt blodtryk\tK86\n\tK87\n", "empty term or code", 3),
    ("term\tcode\nhøjt blodtryk\t \n", "empty term or code", 2),
])
def test_bad_file_raises_load_error_naming_file_and_line(tmp_path: Path, text: str, message: str,
                                                         line: int | None) -> None:
    path = write(tmp_path, text)
    with pytest.raises(LoadError, match=re.escape(message)) as caught:
        lexicon_tsv.parse(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: " if line else f"{path}: ")


def test_not_utf8_raises_load_error(tmp_path: Path) -> None:
    path = tmp_path / "synonyms.tsv"
    path.write_bytes("term\tcode\nhøjt blodtryk\tK86\n".encode("cp1252"))
    with pytest.raises(LoadError, match="not UTF-8"):
        lexicon_tsv.parse(path)


# --- sniffing -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text", "lexicon"), [
    ("synonyms.tsv", "term\tcode\nhøjt blodtryk\tK86\n", True),
    ("synonyms.tsv", "# comment\n\nterm\tcode\tsystem\nhøjt blodtryk\tK86\ticpc2\n", True),
    ("synonyms.TSV", "TERM\tCODE\n", True),
    ("synonyms.tsv", "\ufeffterm\tcode\r\n", True),
    ("synonyms.txt", "term\tcode\nhøjt blodtryk\tK86\n", False),  # not .tsv
    ("synonyms.tsv", "højt blodtryk\tK86\n", False),               # no header
    ("synonyms.tsv", "code\tterm\nK86\thøjt blodtryk\n", False),
    ("synonyms.tsv", "term;code\n", False),
    ("synonyms.tsv", "# only comments\n\n", False),
    ("synonyms.tsv", "", False),
    ("extra.tsv", "# extra codes\nD86\tMavesår uden nærmere angivelse\nK83\tHjerteklapsygdom IKA\n", False),
])
def test_sniff(tmp_path: Path, name: str, text: str, lexicon: bool) -> None:
    assert lexicon_tsv.sniff(write(tmp_path, text, name)) is lexicon


@pytest.mark.parametrize("text", [
    "term\tcode\nhøjt blodtryk\tK86\n",
    "term\tcode\tsystem\nhøjt blodtryk\tK86\thttp://hl7.org/fhir/sid/icpc-2\n",
    "# comment\nterm\tcode\nD86\tK86\n",  # even with codes in the term column
])
def test_the_extra_codes_sniffer_does_not_claim_a_lexicon(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    assert not icpc2_extra.sniff(path)
    assert find_loader(path) is lexicon_tsv


def test_the_lexicon_sniffer_does_not_claim_the_extra_codes_tsv(fixtures_dir: Path) -> None:
    path = fixtures_dir / "icpc2" / "extra-codes.tsv"
    assert not lexicon_tsv.sniff(path)
    assert find_loader(path) is icpc2_extra


@pytest.mark.release
def test_the_lexicon_sniffer_claims_nothing_in_the_release_folder(release_dir: Path) -> None:
    assert [p for p in release_dir.rglob("*") if p.is_file() and lexicon_tsv.sniff(p)] == []


# --- the real lexicon -----------------------------------------------------------------------------------------------

def test_the_real_lexicon() -> None:
    path = REPO / "data" / "synonyms-da.tsv"
    assert lexicon_tsv.sniff(path)
    assert find_loader(path) is lexicon_tsv
    release = lexicon_tsv.parse(path)
    [system] = release.code_systems
    assert (system.url, system.supplements, system.content, system.language) == (
        f"{lexicon_tsv.URL_BASE}/synonyms-da", ICPC2, "supplement", "da")
    designations = [d for c in system.concepts for d in c.designations]
    assert len(designations) >= 300
    assert all(d.use_code == SYNONYM and d.language == "da" and d.value.strip() == d.value != ""
               for d in designations)
    assert all(re.fullmatch(r"[A-Z]|[A-Z]\d\d", c.code) for c in system.concepts), \
        [c.code for c in system.concepts if not re.fullmatch(r"[A-Z]|[A-Z]\d\d", c.code)]
    by_code = terms(system)
    assert "helvedesild" in by_code["S70"] and "bihulebetændelse" in by_code["R75"]
