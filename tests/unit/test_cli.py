"""``termserver load`` and ``info`` on small hand-made releases."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from termserver.cli import main

CODE_SYSTEM = {"resourceType": "CodeSystem", "url": "http://example.org/cs", "version": "1", "name": "Example",
               "status": "active", "content": "complete",
               "concept": [{"code": "a", "display": "A"}, {"code": "b", "display": "B"}]}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "releases"
    folder.mkdir()
    (folder / "cs.json").write_text(json.dumps(CODE_SYSTEM), encoding="utf-8")
    (folder / "SOURCES.md").write_text("where the files come from", encoding="utf-8")
    return folder


def test_load_prints_a_table_and_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    runner = CliRunner()
    first = runner.invoke(main, ["load", "--quiet", "--database-url", url, str(_folder(tmp_path))])
    assert first.exit_code == 0, first.output
    assert "not a release, skipped" in first.output
    row = next(line for line in first.output.splitlines() if line.startswith("CodeSystem"))
    assert row.split()[:6] == ["CodeSystem", "http://example.org/cs", "1", "loaded", "2", "0"]
    second = runner.invoke(main, ["load", "--quiet", "--database-url", url, str(tmp_path / "releases")])
    assert "unchanged" in second.output and second.exit_code == 0
    info = runner.invoke(main, ["info", "--database-url", url])
    assert "http://example.org/cs | 1: 2 codes" in info.output


def test_a_corrupt_file_fails_the_load_and_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    folder = _folder(tmp_path)
    (folder / "broken.json").write_text('{"resourceType": "CodeSystem", "url": ', encoding="utf-8")
    result = CliRunner().invoke(main, ["load", "--quiet", "--database-url", url, str(folder)])
    assert result.exit_code == 1
    assert f"error: {folder / 'broken.json'}" in result.output
    assert "nothing was changed" in result.output
    info = CliRunner().invoke(main, ["info", "--database-url", url])
    assert "http://example.org/cs" not in info.output


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["load", "--quiet", "--database-url", f"sqlite:///{tmp_path / 'x.sqlite'}",
                                       str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "no such file or folder" in result.output
