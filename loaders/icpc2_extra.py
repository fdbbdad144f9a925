"""The Danish ICPC-2 extra-codes list (``icpc2/icpc2-extra-codes.tsv``): a Danish addition layer of ICPC-2.

Lines are ``CODE<TAB>TITLE`` with no header row; ``#`` comments and blank lines are ignored. It holds codes the
Danish sources lack elsewhere (D86 and the chapter-specific process codes A30, W30, ...), with titles from the
Danish ICPC-2 code card.
"""
from __future__ import annotations

from pathlib import Path

from loaders.icpc2_chapters import RUBRIC_CODE, chapter_of
from loaders.model import ParsedCodeSystem, ParsedConcept, ParsedRelease
from termserver.errors import LoadError
from termserver.systems import ICPC2

NAME = "icpc2-extra-tsv"

_SNIFF_BYTES = 4096
_SNIFF_LINES = 5


def sniff(path: Path) -> bool:
    """A .tsv whose first non-comment lines are ``A01<TAB>title`` (a file with a header row is not ours)."""
    if path.suffix.lower() != ".tsv":
        return False
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    lines = head.decode("utf-8-sig", errors="replace").splitlines()
    if len(head) == _SNIFF_BYTES:
        lines = lines[:-1]  # the last line may be cut short
    data = [line for line in lines if line.strip() and not line.lstrip().startswith("#")][:_SNIFF_LINES]
    return bool(data) and all(_entry(line) is not None for line in data)


def parse(path: Path) -> ParsedRelease:
    """Parse the extra-codes TSV into the ``icpc2-dk-extra`` layer of ICPC-2 (Danish titles).

    :raises LoadError: when the file is not UTF-8, a line is not ``CODE<TAB>TITLE``, or a code repeats.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, "not UTF-8 text") from exc
    system = ParsedCodeSystem(
        url=ICPC2, version=None, name="ICPC-2-DK extra codes",
        title="ICPC-2-DK extra codes (Danish code card)", language="da",
        description="Danish ICPC-2 codes missing from the other Danish sources: D86 and chapter-specific "
                    "process codes, with titles from the Danish ICPC-2 code card.",
        layer="icpc2-dk-extra", layer_priority=-10, layer_role="addition",
    )
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        entry = _entry(line)
        if entry is None:
            raise LoadError(path, f"expected CODE<TAB>TITLE with an ICPC-2 code, got {line.strip()[:60]!r}",
                            line=number)
        code, title = entry
        if code in first_line:
            raise LoadError(path, f"duplicate code {code!r} (first on line {first_line[code]})", line=number)
        first_line[code] = number
        system.concepts.append(ParsedConcept(code=code, display=title, parents=[code[0]]))
    if not system.concepts:
        raise LoadError(path, "no codes in the file")
    return ParsedRelease(path=str(path), format=NAME, code_systems=[system])


def _entry(line: str) -> tuple[str, str] | None:
    """(code, title) of a ``CODE<TAB>TITLE`` line with a chaptered ICPC-2 code, else None."""
    code, tab, title = line.partition("\t")
    code, title = code.strip(), title.strip()
    if not tab or not title or "\t" in title or not RUBRIC_CODE.match(code) or chapter_of(code) is None:
        return None
    return code, title
