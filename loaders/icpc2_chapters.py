"""ICPC-2 chapters, code shapes and our designation uses, shared by the ICPC-2 release loaders.

ICPC-2 has 17 chapters, one letter each. A rubric's first letter is its chapter (``K86`` → ``K``); the
chapter-independent process codes of the English release (``-30`` … ``-69``) belong to no chapter.
"""
from __future__ import annotations

import re

from loaders.model import ParsedConcept, ParsedDesignation

# Designation uses this server defines for kinds of text that FHIR has no code for.
DESIGNATION_USE = "https://termserver.dk/fhir/CodeSystem/designation-use"
SHORT_TITLE = "short-title"
INCLUSION_TERM = "inclusion-term"
SYNONYM = "synonym"
DESIGNATION_USE_DISPLAYS = {SHORT_TITLE: "Short title", INCLUSION_TERM: "Inclusion term", SYNONYM: "Synonym"}

# letter → (English title, Danish title)
CHAPTERS: dict[str, tuple[str, str]] = {
    "A": ("General and unspecified", "Almen og uspecificeret"),
    "B": ("Blood, blood forming organs and immune mechanism", "Blod, bloddannende organer og immunsystem"),
    "D": ("Digestive", "Fordøjelsessystemet"),
    "F": ("Eye", "Øje"),
    "H": ("Ear", "Øre"),
    "K": ("Cardiovascular", "Hjerte-kar"),
    "L": ("Musculoskeletal", "Bevægeapparatet"),
    "N": ("Neurological", "Nervesystemet"),
    "P": ("Psychological", "Psykologisk"),
    "R": ("Respiratory", "Luftveje"),
    "S": ("Skin", "Hud"),
    "T": ("Endocrine/metabolic and nutritional", "Endokrine, metaboliske og ernæringsmæssige"),
    "U": ("Urological", "Urinveje"),
    "W": ("Pregnancy, childbearing, family planning", "Graviditet, fødsel og familieplanlægning"),
    "X": ("Female genital", "Kvindelige kønsorganer"),
    "Y": ("Male genital", "Mandlige kønsorganer"),
    "Z": ("Social problems", "Sociale problemer"),
}

RUBRIC_CODE = re.compile(r"^[A-Z][0-9]{2}$")  # A01, K86, and chapter-specific process codes such as A30
PROCESS_CODE = re.compile(r"^-[0-9]{2}$")  # chapter-independent process codes of ICPC-2e: -30 … -69


def chapter_of(code: str) -> str | None:
    """The chapter letter of a rubric code (``K86`` → ``K``); None for process codes and unknown letters."""
    letter = code[:1]
    return letter if letter in CHAPTERS and RUBRIC_CODE.match(code[:3]) else None


def chapter_concepts() -> list[ParsedConcept]:
    """The 17 chapters as not-selectable concepts: English display, Danish designation."""
    return [ParsedConcept(code=letter, display=english, not_selectable=True,
                          designations=[ParsedDesignation(value=danish, language="da")])
            for letter, (english, danish) in CHAPTERS.items()]


def designation_use(code: str) -> dict[str, str]:
    """``use_system``/``use_code``/``use_display`` keyword arguments for one of our designation uses."""
    return {"use_system": DESIGNATION_USE, "use_code": code, "use_display": DESIGNATION_USE_DISPLAYS[code]}
