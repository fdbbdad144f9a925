"""Known code systems: canonical URIs, their aliases, names and the language a Danish GP expects displays in.

SKS diagnoses and WHO ICD-10 stay separate systems; :func:`sks_to_who` and :func:`who_to_sks` carry the
code-form rule between them (``DJ449`` ↔ ``J44.9``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
ICPC2_OID = "urn:oid:1.2.208.176.2.31"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SKS_DIAGNOSES = "urn:oid:1.2.208.176.2.4.12"
NPU = "urn:oid:1.2.208.176.2.1"
NPU_INTERNATIONAL = "http://npu-terminology.org"
MCS = "urn:oid:1.2.208.184.100.8"
MCS_IG = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-observation-codes"
MCS_LEGACY = "https://terminology.medcom.dk/fhir/observation-code"


@dataclass(frozen=True)
class KnownSystem:
    """A code system this server knows by name, with every URI it is sent under."""

    canonical: str
    name: str
    aliases: tuple[str, ...] = ()
    retired_aliases: tuple[str, ...] = ()
    display_language: str | None = None  # language of the display shown by default; None: the stored display
    extra: dict[str, str] = field(default_factory=dict)
    key: str = ""  # its short name in the web pages' URLs (/code/icpc2/R75)


KNOWN_SYSTEMS: tuple[KnownSystem, ...] = (
    KnownSystem(ICPC2, "ICPC-2", aliases=(ICPC2_OID, "urn:oid:2.16.840.1.113883.6.139",
                                         "https://kiap.dk/kiap/koder/icpckoder"), display_language="da", key="icpc2"),
    KnownSystem(SKS_DIAGNOSES, "SKS diagnoses (ICD-10-DK)", display_language="da", key="sks"),
    KnownSystem(ICD10, "ICD-10 (WHO)", key="icd10"),
    KnownSystem(NPU, "NPU", aliases=(NPU_INTERNATIONAL,), display_language="da", key="npu"),
    KnownSystem(MCS, "MedCom MCS", aliases=(MCS_IG,), retired_aliases=(MCS_LEGACY,), display_language="da",
                key="mcs"),
)


def default_aliases() -> dict[str, str]:
    """The built-in alias table: alias URI → canonical URI (retired URIs included)."""
    table: dict[str, str] = {}
    for system in KNOWN_SYSTEMS:
        for alias in system.aliases + system.retired_aliases:
            table[alias] = system.canonical
    return table


def system_by_key(key: str) -> KnownSystem | None:
    """The :class:`KnownSystem` whose web-page key is ``key`` (``icpc2``, ``sks``, ``icd10``, ``npu``, ``mcs``)."""
    return next((system for system in KNOWN_SYSTEMS if system.key == key), None)


def known_system(canonical: str) -> KnownSystem | None:
    """The :class:`KnownSystem` for a canonical URI, if it is one of ours."""
    for system in KNOWN_SYSTEMS:
        if system.canonical == canonical:
            return system
    return None


class AliasTable:
    """Resolves any URI a client sends to the canonical URI the store uses."""

    def __init__(self, extra: dict[str, str] | None = None) -> None:
        self._table = default_aliases()
        self._table.update(extra or {})
        self._retired = {a for s in KNOWN_SYSTEMS for a in s.retired_aliases}

    def canonical(self, uri: str) -> str:
        """The canonical URI for ``uri`` (itself when it is not an alias)."""
        return self._table.get(uri, uri)

    def is_retired(self, uri: str) -> bool:
        """True when ``uri`` is a retired alias that still resolves but should be replaced."""
        return uri in self._retired

    def aliases_of(self, canonical: str) -> list[str]:
        """Every alias that resolves to ``canonical``."""
        return sorted(a for a, c in self._table.items() if c == canonical)

    def items(self) -> list[tuple[str, str]]:
        return sorted(self._table.items())


_SKS = re.compile(r"^D([A-Z][0-9]{2})([0-9A-Z]*)$")
_WHO = re.compile(r"^([A-Z][0-9]{2})(?:\.([0-9A-Z]+))?$")


def sks_to_who(code: str) -> str | None:
    """WHO form of an SKS diagnosis code: ``DJ449`` → ``J44.9``, ``DE11`` → ``E11``; None if not of that shape.

    Danish extension codes (``DE115A``) give a form that WHO ICD-10 does not have; callers check existence.
    """
    match = _SKS.match(code)
    if not match:
        return None
    head, tail = match.groups()
    return f"{head}.{tail}" if tail else head


def who_to_sks(code: str) -> str | None:
    """SKS form of a WHO ICD-10 code: ``J44.9`` → ``DJ449``, ``E11`` → ``DE11``; None if not of that shape."""
    match = _WHO.match(code)
    if not match:
        return None
    head, tail = match.groups()
    return f"D{head}{tail or ''}"
