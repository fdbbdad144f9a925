"""Release loaders: one module per real release format.

Every loader module has ``NAME``, ``sniff(path) -> bool`` (cheap: file name and the first bytes) and
``parse(path) -> ParsedRelease`` (no database). :func:`find_loader` picks the loader for a file;
``loaders.store`` writes what the parsers return.
"""
from __future__ import annotations

from pathlib import Path
from types import ModuleType

from termserver.errors import LoadError

# Files that document a release rather than being one: reported as "not a release, skipped".
NOT_A_RELEASE_SUFFIXES = {".md", ".pdf", ".html", ".htm", ".rst", ".docx"}
NOT_A_RELEASE_NAMES = {"readme", "readme.txt", "license", "license.txt", "sources.md", "origin.md", ".gitkeep"}


def _modules() -> list[ModuleType]:
    # Imported lazily so that `import loaders` stays cheap for the server.
    from loaders import (fhir, icpc2_extra, icpc2_fi, icpc2_no, icpc2e_xlsx, lexicon_tsv, medcom_fsh, nlk_xlsx,
                         sks_csv, who_icd10_xml)

    return [fhir, icpc2e_xlsx, icpc2_extra, icpc2_fi, icpc2_no, sks_csv, who_icd10_xml, nlk_xlsx, lexicon_tsv,
            medcom_fsh]


def is_not_a_release(path: Path) -> bool:
    """True for documentation files that sit beside releases (README, SOURCES.md, PDFs), and for FSH files that
    define no ValueSet or CodeSystem (alias.fsh, profiles, examples) beside the FSH files that do."""
    if path.suffix.lower() == ".fsh":
        from loaders import medcom_fsh

        try:
            return not medcom_fsh.sniff(path)
        except OSError:
            return False  # find_loader reports the read error
    return path.suffix.lower() in NOT_A_RELEASE_SUFFIXES or path.name.lower() in NOT_A_RELEASE_NAMES \
        or path.name.startswith(".")


def find_loader(path: Path) -> ModuleType:
    """The loader module that recognises ``path``.

    :raises LoadError: when no loader recognises the file.
    """
    for module in _modules():
        try:
            if module.sniff(path):
                return module
        except OSError as exc:
            raise LoadError(path, f"cannot read file: {exc.strerror or exc}") from exc
    raise LoadError(path, "unrecognised file: not a FHIR CodeSystem/ValueSet/ConceptMap, ICPC-2e Excel, "
                          "ICPC-2 extra-codes TSV, SKS CSV, WHO ICD-10 XML, NPU/NLK Excel, synonym lexicon TSV or "
                          "MedCom FSH")


def loader_names() -> list[str]:
    return [m.NAME for m in _modules()]
