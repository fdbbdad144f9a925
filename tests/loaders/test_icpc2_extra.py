"""The Danish ICPC-2 extra-codes TSV loader: the hand-written fixture and the real file."""
from __future__ import annotations

from pathlib import Path

import pytest

from loaders import icpc2_extra
from termserver.errors import LoadError
from termserver.systems import ICPC2


def test_parses_codes_titles_and_chapters(fixtures_dir: Path) -> None:
    release = icpc2_extra.parse(fixtures_dir / "icpc2" / "extra-codes.tsv")
    assert release.format == "icpc2-extra-tsv"
    [system] = release.code_systems
    assert (system.url, system.version, system.language, system.layer, system.layer_priority,
            system.layer_role, system.name) == (ICPC2, None, "da", "icpc2-dk-extra", -10, "addition",
                                                "ICPC-2-DK extra codes")
    assert len(system.concepts) == 11
    concepts = {c.code: c for c in system.concepts}
    assert concepts["D86"].display == "Mavesår uden nærmere angivelse"
    assert concepts["D86"].parents == ["D"]
    assert concepts["X37"].parents == ["X"]


def test_sniff(fixtures_dir: Path, tmp_path: Path) -> None:
    assert icpc2_extra.sniff(fixtures_dir / "icpc2" / "extra-codes.tsv")
    lexicon = tmp_path / "synonyms.tsv"
    lexicon.write_text("term\tcode\tsystem\nhøjt blodtryk\tK86\ticpc2\n", encoding="utf-8")
    assert not icpc2_extra.sniff(lexicon)
    comments_only = tmp_path / "empty.tsv"
    comments_only.write_text("# nothing here\n\n", encoding="utf-8")
    assert not icpc2_extra.sniff(comments_only)
    as_txt = tmp_path / "extra-codes.txt"
    as_txt.write_bytes((fixtures_dir / "icpc2" / "extra-codes.tsv").read_bytes())
    assert not icpc2_extra.sniff(as_txt)


@pytest.mark.parametrize(("text", "message", "line"), [
    ("# codes\nD86\tMavesår\nK86 Forhøjet blodtryk\n", "expected CODE<TAB>TITLE", 3),
    ("D86\tMavesår\nK8\tForhøjet blodtryk\n", "expected CODE<TAB>TITLE", 2),
    ("D86\tMavesår\nC01\tUkendt kapitel\n", "expected CODE<TAB>TITLE", 2),
    ("D86\t\n", "expected CODE<TAB>TITLE", 1),
    ("D86\tMavesår\n\nD86\tMavesår igen\n", "duplicate code 'D86' \\(first on line 1\\)", 3),
    ("# only comments\n", "no codes in the file", None),
])
def test_malformed_file_raises_load_error(tmp_path: Path, text: str, message: str, line: int | None) -> None:
    path = tmp_path / "extra.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoadError, match=message) as caught:
        icpc2_extra.parse(path)
    assert caught.value.line == line
    assert str(path) in str(caught.value)


def test_not_utf8_raises_load_error(tmp_path: Path) -> None:
    path = tmp_path / "extra.tsv"
    path.write_bytes("D86\tMavesår\n".encode("cp1252"))
    with pytest.raises(LoadError, match="not UTF-8"):
        icpc2_extra.parse(path)


@pytest.mark.release
def test_real_file(release_dir: Path) -> None:
    [system] = icpc2_extra.parse(release_dir / "icpc2" / "icpc2-extra-codes.tsv").code_systems
    concepts = {c.code: c for c in system.concepts}
    assert len(concepts) == 10
    assert concepts["D86"].display == "Mavesår IKA"
    assert set(concepts) == {"D86", "A30", "A31", "A43", "A44", "A45", "A49", "A62", "W30", "X37"}
    assert concepts["W30"].parents == ["W"]
