"""MedCom's terminology in FHIR Shorthand (FSH): the ValueSets and CodeSystems of the MedCom terminology IG
(github.com/medcomdk/dk-medcom-terminology, ``input/fsh/*.fsh``), read without SUSHI.

A small line-oriented reader. Entities: ``ValueSet:`` and ``CodeSystem:`` with ``Id:``, ``Title:`` and
``Description:`` (other kinds, e.g. a ConceptMap ``Instance:``, are skipped with a warning). Rules: caret rules
(``* ^version = "1.8.1"``, ``* ^compose.include[+].concept[=].code = #X``), value-set components
(``* include codes from system X where concept is-a #Y``, ``* $alias#code "display"``, ``* #code from system X``)
and code-system concepts (``* #code "display" "definition"``, with indented caret rules for their designations and
properties). The ``Alias:`` lines of every .fsh file in the folder apply (SUSHI's aliases are project-wide; MedCom
keeps them in alias.fsh), and so do the CodeSystem/ValueSet names and ids defined in sibling files.

URLs follow SUSHI: ``^url`` when given, else ``<canonical>/<ValueSet|CodeSystem>/<id>``, the canonical taken from a
sushi-config.yaml above the folder, else MedCom's ``http://medcomfhir.dk/ig/terminology``.

MedCom's IG defines its own copies of systems this server loads from their releases: the NPU analyses of the
national repertoire (``^url = urn:oid:1.2.208.176.2.1``) and MCS (``medcom-observation-codes``, an alias of
``urn:oid:1.2.208.184.100.8``). Such a copy is not stored (it would replace the real NPU or MCS); a value set that
includes it lists its codes, with MedCom's displays, under the canonical system instead. Value sets MedCom renamed
keep their old URLs as aliases (:data:`RENAMED_VALUE_SETS`). MedCom's data errors (a code listed twice, two codes
with one display) are release warnings; :func:`check_stored_value_sets` compares stored value sets with the stored
NPU/MCS once both are loaded.
"""
from __future__ import annotations

import functools
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from loaders.fhir import code_system_from_json, value_set_from_json
from loaders.model import ParsedRelease
from termserver.errors import LoadError
from termserver.models import CodeSystemVersion, Concept, Designation, ValueSetVersion
from termserver.systems import KNOWN_SYSTEMS, AliasTable, KnownSystem

NAME = "medcom-fsh"
MEDCOM_CANONICAL = "http://medcomfhir.dk/ig/terminology"

# Value set ids MedCom changed in the July 2025 refactor of the terminology IG: before it (commit d32d467) the ids
# were the value sets' names. Profiles and senders still use the old URLs. New id → old ids.
RENAMED_VALUE_SETS: dict[str, tuple[str, ...]] = {
    "npu-observation-codes-valueset": ("NPUObservationCodesValueSet",),
    "medcom-observation-valueset": ("MedComObservationValueSet",),
}

ENTITY_KINDS = frozenset({"ValueSet", "CodeSystem", "Alias", "Profile", "Extension", "Logical", "Resource",
                          "Instance", "Invariant", "RuleSet", "Mapping"})
KEYWORDS = frozenset({"Id", "Title", "Description", "Parent", "InstanceOf", "Usage", "Severity", "Expression",
                      "XPath", "Source", "Target", "Characteristics", "Context"})
FILTER_OPS = frozenset({"=", "is-a", "descendent-of", "is-not-a", "regex", "in", "not-in", "generalizes", "exists"})
# FHIR elements of ValueSet/CodeSystem that are lists: FSH may leave their index out (meaning [0])
_LISTS = frozenset({"identifier", "contact", "telecom", "jurisdiction", "useContext", "include", "exclude", "concept",
                    "filter", "designation", "property", "extension", "modifierExtension", "coding", "valueSet"})

_ALIASES = AliasTable()
_KNOWN: dict[str, KnownSystem] = {s.canonical: s for s in KNOWN_SYSTEMS}

# strings (kept: they may hold '//') and comments: '//' or '/*' at a line start or after a space (not 'http://')
_COMMENT = re.compile(r'"""[\s\S]*?(?:"""|\Z)|"(?:[^"\\\n]|\\.)*"?'
                      r"|(?:(?<=\s)|^)//[^\n]*|(?:(?<=\s)|^)/\*[\s\S]*?(?:\*/|\Z)", re.M)
_TOKEN = re.compile(r'\S*#"(?:[^"\\\n]|\\.)*"|"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|\S+')
_KEYWORD = re.compile(r"([A-Za-z]+)\s*:(?!//)\s*(.*)$", re.S)
_CARET = re.compile(r"\^((?:[^\s\[=]|\[[^\]]*\])+)\s*=\s*(.+)$")
_SEGMENT = re.compile(r"([A-Za-z][A-Za-z0-9_\-]*)(?:\[(\+|=|\d+)\])?$")
_DEFINES = re.compile(r"\s*(ValueSet|CodeSystem)\s*:")


class _Unsupported(Exception):
    """A valid-looking FSH construct this reader does not handle: the rule is skipped with a warning."""


class _Code(str):
    """A value written ``#code`` (so that a Coding element such as ``designation.use`` can be filled from it)."""


@dataclass
class _Rule:
    line: int
    indent: int
    text: str  # after the '*'


@dataclass
class _Entity:
    kind: str
    name: str
    line: int
    path: Path
    keywords: dict[str, str] = field(default_factory=dict)
    rules: list[_Rule] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.keywords.get("Id") or self.name


@dataclass
class _Source:
    entities: list[_Entity]
    aliases: dict[str, str]
    warnings: list[str]


@dataclass
class _Folder:
    """What the .fsh files of one folder define: aliases, and code systems and value sets by name and id."""

    canonical: str
    aliases: dict[str, str] = field(default_factory=dict)
    code_systems: dict[str, _Entity] = field(default_factory=dict)
    value_sets: dict[str, _Entity] = field(default_factory=dict)

    def url(self, entity: _Entity) -> str:
        for rule in entity.rules:
            match = _CARET.fullmatch(rule.text)
            if rule.indent == 0 and match and match.group(1) == "url":
                return str(_string(match.group(2).strip(), entity.path, rule.line))
        return f"{self.canonical}/{entity.kind}/{entity.id}"

    def alias(self, name: str, path: Path, line: int) -> str:
        if name not in self.aliases:
            raise LoadError(path, f"unknown alias {name}: no 'Alias: {name} = …' line in this folder's .fsh files",
                            line=line)
        return self.aliases[name]

    def system(self, token: str, path: Path, line: int) -> tuple[str, _Entity | None]:
        """The canonical URI of a code system named by alias, URL, or a CodeSystem name/id of this folder."""
        if token.startswith("$"):
            return _ALIASES.canonical(self.alias(token, path, line)), None
        if token in self.code_systems:
            entity = self.code_systems[token]
            return _ALIASES.canonical(self.url(entity)), entity
        if ":" in token:
            return _ALIASES.canonical(_string(token, path, line) if token.startswith('"') else token), None
        raise LoadError(path, f"unknown code system '{token}': not an alias, a URL or a CodeSystem defined in this "
                              "folder", line=line)

    def value_set(self, token: str, path: Path, line: int) -> str:
        if token.startswith("$"):
            return self.alias(token, path, line)
        if token in self.value_sets:
            return self.url(self.value_sets[token])
        if ":" in token:
            return str(_string(token, path, line)) if token.startswith('"') else token
        raise LoadError(path, f"unknown value set '{token}': not an alias, a URL or a ValueSet defined in this folder",
                        line=line)


def sniff(path: Path) -> bool:
    """A .fsh file that defines a ValueSet or a CodeSystem (alias files and profiles are not releases)."""
    if path.suffix.lower() != ".fsh":
        return False
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        return any(_DEFINES.match(line) for line in handle)


def parse(path: Path) -> ParsedRelease:
    """Every ValueSet and CodeSystem of one .fsh file (its folder gives aliases and the other definitions).

    :raises LoadError: naming file and line, on malformed FSH: an unterminated string, a rule outside any
        definition, an unknown alias or code system, a value-set or concept rule that cannot be read.
    """
    source = _read(path)
    folder = _folder_of(path, source)
    release = ParsedRelease(path=str(path), format=NAME, warnings=list(source.warnings))
    for entity in source.entities:
        if entity.kind == "CodeSystem":
            _add_code_system(release, entity, folder)
        elif entity.kind == "ValueSet":
            _add_value_set(release, entity, folder)
        else:
            of = f" of {entity.keywords['InstanceOf']}" if "InstanceOf" in entity.keywords else ""
            release.warnings.append(f"line {entity.line}: {entity.kind} '{entity.name}'{of} skipped: only ValueSet "
                                    "and CodeSystem definitions are loaded from FSH")
    return release


# --- reading ----------------------------------------------------------------------------------------------------

def _read(path: Path) -> _Source:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(path, "not UTF-8 text") from exc
    text = _COMMENT.sub(lambda m: m.group() if m.group().startswith('"') else re.sub(r"[^\n]", " ", m.group()), text)
    lines = text.split("\n")
    entities: list[_Entity] = []
    aliases: dict[str, str] = {}
    warnings: list[str] = []
    current: _Entity | None = None
    index = 0
    while index < len(lines):
        number, raw = index + 1, lines[index].rstrip("\r")
        index += 1
        while raw.count('"""') % 2 == 1 and index < len(lines):  # a multi-line string continues
            raw += "\n" + lines[index].rstrip("\r")
            index += 1
        stripped = raw.strip()
        if not stripped:
            continue
        if stripped.startswith("*"):
            if current is None:
                raise LoadError(path, "rule outside any definition (no 'ValueSet:' or 'CodeSystem:' above it)",
                                line=number)
            if not stripped[1:].strip():
                raise LoadError(path, "empty rule '*'", line=number)
            indent = len(raw) - len(raw.lstrip(" \t"))
            current.rules.append(_Rule(number, indent, stripped[1:].strip()))
            continue
        match = _KEYWORD.match(stripped)
        if not match:
            raise LoadError(path, f"cannot read {stripped[:40]!r}: expected 'Keyword: …' or a rule '* …'",
                            line=number)
        keyword, value = match.group(1), match.group(2).strip()
        if keyword == "Alias":
            alias = re.fullmatch(r"(\S+)\s*=\s*(\S+)", value)
            if not alias:
                raise LoadError(path, "an alias must look like 'Alias: $name = uri'", line=number)
            aliases[alias.group(1)] = alias.group(2)
            current = None
        elif keyword in ENTITY_KINDS:
            if not value:
                raise LoadError(path, f"'{keyword}:' needs a name", line=number)
            current = _Entity(keyword, value, number, path)
            entities.append(current)
        elif keyword in KEYWORDS:
            if current is None:
                raise LoadError(path, f"'{keyword}:' outside any definition", line=number)
            current.keywords[keyword] = str(_string(value, path, number)) if value.startswith('"') else value
        else:
            warnings.append(f"line {number}: unknown FSH keyword '{keyword}:', skipped")
    return _Source(entities, aliases, warnings)


@functools.lru_cache(maxsize=512)
def _read_cached(path: str, mtime_ns: int, size: int) -> _Source:
    return _read(Path(path))


def _folder_of(path: Path, source: _Source) -> _Folder:
    folder = _Folder(canonical=_ig_canonical(path.resolve().parent))
    sources = [source]
    for sibling in sorted(path.parent.glob("*.fsh")):
        if sibling.name == path.name:
            continue
        try:
            stat = sibling.stat()
            sources.append(_read_cached(str(sibling), stat.st_mtime_ns, stat.st_size))
        except (LoadError, OSError):
            continue  # reported when that file is loaded itself
    for item in sources:
        for name, uri in item.aliases.items():
            folder.aliases.setdefault(name, uri)
        for entity in item.entities:
            table = {"CodeSystem": folder.code_systems, "ValueSet": folder.value_sets}.get(entity.kind)
            if table is not None:
                table.setdefault(entity.name, entity)
                table.setdefault(entity.id, entity)
    return folder


def _ig_canonical(folder: Path) -> str:
    for parent in [folder, *folder.parents][:4]:
        config = parent / "sushi-config.yaml"
        if config.is_file():
            found = re.search(r"^canonical:\s*['\"]?([^'\"\s#]+)", config.read_text(encoding="utf-8",
                                                                                   errors="replace"), re.M)
            if found:
                return found.group(1).rstrip("/")
    return MEDCOM_CANONICAL


def _string(token: str, path: Path, line: int) -> str:
    """The text of a quoted FSH string (``"…"`` or ``\"\"\"…\"\"\"``)."""
    if token.startswith('"""'):
        if len(token) < 6 or not token.endswith('"""'):
            raise LoadError(path, "unterminated multi-line string", line=line)
        return textwrap.dedent(token[3:-3]).strip()
    if len(token) < 2 or not token.endswith('"') or token.endswith('\\"') and not token.endswith('\\\\"'):
        raise LoadError(path, f"unterminated string {token[:40]}", line=line)
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), token[1:-1])


def _tokens(text: str, path: Path, line: int) -> list[str]:
    tokens = _TOKEN.findall(text)
    for token in tokens:
        if token.startswith('"') and not token.startswith('"""'):
            _string(token, path, line)  # raises on an unterminated string
    return tokens


def _code(token: str, path: Path, line: int) -> str:
    """``#code`` or ``#"code with spaces"`` → the code."""
    code = token[1:]
    if code.startswith('"'):
        code = _string(code, path, line)
    if not code:
        raise LoadError(path, "empty code '#'", line=line)
    return code


def _value(raw: str, folder: _Folder, path: Path, line: int) -> Any:
    """The value of a caret rule: string, boolean, number, ``#code``, ``system#code "display"``, alias,
    ``Canonical(Name)``."""
    raw = raw.strip()
    if raw.startswith('"'):
        return _string(raw, path, line)
    if raw in ("true", "false"):
        return raw == "true"
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    if re.fullmatch(r"-?\d+\.\d+", raw):
        return float(raw)
    coding = re.fullmatch(r'(\S*?)(#"(?:[^"\\]|\\.)*"|#\S+)(?:\s+("(?:[^"\\]|\\.)*"))?', raw)
    if coding:
        system, code, display = coding.group(1), _code(coding.group(2), path, line), coding.group(3)
        if not system and not display:
            return _Code(code)
        result: dict[str, Any] = {"system": folder.system(system, path, line)[0]} if system else {}
        result["code"] = code
        if display:
            result["display"] = _string(display, path, line)
        return result
    if raw.startswith("$"):
        return folder.alias(raw, path, line)
    canonical = re.fullmatch(r"Canonical\(\s*([^|)\s]+)(?:\|([^)\s]+))?\s*\)", raw)
    if canonical:
        name, version = canonical.groups()
        entity = folder.value_sets.get(name) or folder.code_systems.get(name)
        if entity is None:
            raise LoadError(path, f"Canonical({name}): no ValueSet or CodeSystem '{name}' in this folder", line=line)
        return folder.url(entity) + (f"|{version}" if version else "")
    raise _Unsupported(f"value {raw[:40]!r}")


def _assign(root: dict[str, Any], path_text: str, value: Any, lines: dict[int, int] | None = None,
            line: int = 0) -> None:
    """Set ``value`` at an FSH path (``compose.include[+].concept[=].code``) with soft indexing: ``[+]`` appends,
    ``[=]`` is the last element, no index on a list element is ``[0]``. ``lines`` records the line that made each
    new list element (by ``id``), for warnings about it."""
    segments = path_text.split(".")
    node: Any = root
    for depth, segment in enumerate(segments):
        match = _SEGMENT.match(segment)
        if not match or not isinstance(node, dict):
            raise _Unsupported(f"path '{path_text}'")
        name, index = match.groups()
        last = depth == len(segments) - 1
        if last and isinstance(value, _Code):
            # a #code put into a Coding (designation.use, valueCoding) is that Coding's code
            value = {"code": str(value)} if name == "use" or name.endswith("Coding") else str(value)
        if index is None and (name not in _LISTS or (name == "valueSet" and depth == 0)):
            if last:
                node[name] = value
                return
            node = node.setdefault(name, {})
            continue
        items = node.setdefault(name, [])
        if not isinstance(items, list):
            raise _Unsupported(f"path '{path_text}'")
        if index == "+" or (index in (None, "=") and not items):
            items.append(None)
            position = len(items) - 1 if index == "+" or index == "=" else 0
        elif index == "=":
            position = len(items) - 1
        elif index is None:
            position = 0
        else:
            position = int(index)
            items.extend([None] * (position + 1 - len(items)))
        if last:
            items[position] = value
            return
        if items[position] is None:
            items[position] = {}
            if lines is not None:
                lines[id(items[position])] = line
        node = items[position]


def _caret(target: dict[str, Any], rule: _Rule, folder: _Folder, path: Path, warnings: list[str],
           what: str, lines: dict[int, int] | None = None) -> None:
    match = _CARET.fullmatch(rule.text)
    try:
        if not match:
            raise _Unsupported("caret rule without '= value'")
        _assign(target, match.group(1), _value(match.group(2), folder, path, rule.line), lines, rule.line)
    except _Unsupported as exc:
        warnings.append(f"line {rule.line}: {what}: {exc} is not supported, rule skipped: * {rule.text[:60]}")


# --- code systems -------------------------------------------------------------------------------------------------

def _code_system_json(entity: _Entity, folder: _Folder, warnings: list[str]) -> dict[str, Any]:
    path = entity.path
    what = f"code system '{entity.id}'"
    resource: dict[str, Any] = {"resourceType": "CodeSystem", "id": entity.id, "url": folder.url(entity),
                                "name": entity.name, "content": "complete"}
    for keyword, key in (("Title", "title"), ("Description", "description")):
        if keyword in entity.keywords:
            resource[key] = entity.keywords[keyword]
    by_code: dict[str, dict[str, Any]] = {}
    stack: list[tuple[int, dict[str, Any] | None]] = []  # (indent, concept the rule is about, or None)
    for rule in entity.rules:
        while stack and stack[-1][0] >= rule.indent:
            stack.pop()
        context = stack[-1][1] if stack else None
        if rule.indent and context is None:
            warnings.append(f"line {rule.line}: {what}: an indented rule that is not about a concept is not "
                            f"supported, rule skipped: * {rule.text[:60]}")
            stack.append((rule.indent, None))
            continue
        if rule.text.startswith("^"):
            _caret(context if context is not None else resource, rule, folder, path, warnings, what)
            stack.append((rule.indent, None))
        elif rule.text.startswith("#"):
            concept = _concept_rule(rule, path, resource, context, by_code, folder, warnings, what)
            stack.append((rule.indent, concept))
        else:
            warnings.append(f"line {rule.line}: {what}: rule not supported in a CodeSystem, skipped: "
                            f"* {rule.text[:60]}")
            stack.append((rule.indent, None))
    _drop_incomplete(resource, what, warnings)
    return resource


def _concept_rule(rule: _Rule, path: Path, resource: dict[str, Any], context: dict[str, Any] | None,
                  by_code: dict[str, dict[str, Any]], folder: _Folder, warnings: list[str],
                  what: str) -> dict[str, Any]:
    """``#code "display" "definition"`` (``#parent #child …`` for a child; ``#code ^path = value`` for a caret rule
    on an existing concept). Returns the concept the rule is about."""
    tokens = _tokens(rule.text, path, rule.line)
    codes: list[str] = []
    while tokens and tokens[0].startswith("#"):
        codes.append(_code(tokens.pop(0), path, rule.line))
    if tokens and tokens[0].startswith("^"):  # * #code ^designation[0].value = "…"
        concept = by_code.get(codes[-1])
        if concept is None:
            raise LoadError(path, f"caret rule on code '{codes[-1]}' before that code is defined", line=rule.line)
        _caret(concept, _Rule(rule.line, rule.indent, rule.text[rule.text.index("^"):]), folder, path, warnings,
               what)
        return concept
    strings = [_string(t, path, rule.line) for t in tokens if t.startswith('"')]
    if len(strings) != len(tokens) or len(strings) > 2:
        raise LoadError(path, 'a concept rule is \'#code "display" "definition"\'', line=rule.line)
    code = codes[-1]
    parent = context
    if len(codes) > 1:
        parent = by_code.get(codes[-2])
        if parent is None:
            raise LoadError(path, f"parent code '{codes[-2]}' is not defined above", line=rule.line)
    if code in by_code:
        if not strings:
            return by_code[code]  # a later rule about an existing concept
        warnings.append(f"line {rule.line}: {what}: code {code} is defined twice; the first definition is kept")
        return {"code": code}  # rules under the repeat are dropped with it
    concept: dict[str, Any] = {"code": code}
    if strings:
        concept["display"] = strings[0]
    if len(strings) > 1:
        concept["definition"] = strings[1]
    by_code[code] = concept
    (parent.setdefault("concept", []) if parent is not None else resource.setdefault("concept", [])).append(concept)
    return concept


def _drop_incomplete(resource: dict[str, Any], what: str, warnings: list[str]) -> None:
    """Drop properties without a value and designations without text (MedCom has a few), with a warning each."""
    definitions = resource.get("property") or []
    resource["property"] = [p for p in definitions if isinstance(p, dict) and p.get("code")]
    if not resource["property"]:
        del resource["property"]

    def walk(concepts: list[Any]) -> None:
        for concept in concepts:
            kept = []
            for prop in concept.get("property") or []:
                if isinstance(prop, dict) and prop.get("code") and any(k.startswith("value") for k in prop):
                    kept.append(prop)
                else:
                    name = prop.get("code", "?") if isinstance(prop, dict) else "?"
                    warnings.append(f"{what}: code {concept['code']} has a property '{name}' without a value; "
                                    "dropped")
            if "property" in concept:
                concept["property"] = kept
                if not kept:
                    del concept["property"]
            designations = [d for d in concept.get("designation") or [] if isinstance(d, dict) and d.get("value")]
            if len(designations) != len(concept.get("designation") or []):
                warnings.append(f"{what}: code {concept['code']} has a designation without a value; dropped")
            if "designation" in concept:
                concept["designation"] = designations
                if not designations:
                    del concept["designation"]
            walk(concept.get("concept") or [])

    walk(resource.get("concept") or [])


def _flat_concepts(resource: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(concepts: list[dict[str, Any]]) -> None:
        for concept in concepts:
            out.append(concept)
            walk(concept.get("concept") or [])

    walk(resource.get("concept") or [])
    return out


def _known_copy(url: str) -> KnownSystem | None:
    """The system this server loads from its own release, when ``url`` is (an alias of) one."""
    return _KNOWN.get(_ALIASES.canonical(url))


def _add_code_system(release: ParsedRelease, entity: _Entity, folder: _Folder) -> None:
    resource = _code_system_json(entity, folder, release.warnings)
    known = _known_copy(resource["url"])
    if known is not None:
        count = len(_flat_concepts(resource))
        via = "" if resource["url"] == known.canonical else f", here as {resource['url']}"
        release.warnings.append(
            f"line {entity.line}: CodeSystem '{entity.name}' is MedCom's copy of {count} codes of {known.name} "
            f"({known.canonical}{via}): not stored, {known.name} is loaded from its own release; value sets that "
            "include it list its codes")
        return
    _check_duplicate_texts(f"line {entity.line}: code system '{entity.id}'", None, _flat_concepts(resource),
                           release.warnings)
    try:
        release.code_systems.append(code_system_from_json(resource))
    except (KeyError, TypeError, ValueError) as exc:
        raise LoadError(entity.path, f"invalid CodeSystem '{entity.name}': {exc}", line=entity.line) from exc


# --- value sets ---------------------------------------------------------------------------------------------------

def _add_value_set(release: ParsedRelease, entity: _Entity, folder: _Folder) -> None:
    path = entity.path
    what = f"value set '{entity.id}'"
    url = folder.url(entity)
    resource: dict[str, Any] = {"resourceType": "ValueSet", "id": entity.id, "url": url, "name": entity.name}
    for keyword, key in (("Title", "title"), ("Description", "description")):
        if keyword in entity.keywords:
            resource[key] = entity.keywords[keyword]
    lines: dict[int, int] = {}  # id(concept entry) → the line that listed it
    for rule in entity.rules:
        if rule.indent:
            release.warnings.append(f"line {rule.line}: {what}: indented rules are not supported in a ValueSet, "
                                    f"rule skipped: * {rule.text[:60]}")
        elif rule.text.startswith("^"):
            _caret(resource, rule, folder, path, release.warnings, what, lines)
        elif re.match(r"(insert|obeys)\b", rule.text) or re.match(r"[A-Za-z][\w.\[\]+=]*\s*=", rule.text):
            release.warnings.append(f"line {rule.line}: {what}: rule not supported in a ValueSet, skipped: "
                                    f"* {rule.text[:60]}")
        else:
            _component(resource, rule, folder, path, lines)
    compose = resource.get("compose")
    if not isinstance(compose, dict) or not compose.get("include"):
        raise LoadError(path, f"ValueSet '{entity.name}' includes nothing (no '* include …' or concept rules)",
                        line=entity.line)
    for part in ("include", "exclude"):
        for item in compose.get(part) or []:
            if isinstance(item, dict) and isinstance(item.get("system"), str):
                item["system"] = _ALIASES.canonical(item["system"])
            if isinstance(item, dict) and item.get("concept"):
                item["concept"] = _dedupe(item["concept"], what, lines, entity.line, release.warnings)
                _check_duplicate_texts(f"line {entity.line}: {what}", item.get("system"), item["concept"],
                                       release.warnings)
    _check_designation_uses(compose, f"line {entity.line}: {what}", release.warnings)
    aliases = [f"{folder.canonical}/ValueSet/{old}" for old in RENAMED_VALUE_SETS.get(entity.id, ())]
    if aliases:
        resource["aliases"] = [a for a in aliases if a != url]  # ParsedValueSet.extra → ValueSetVersion.aliases
    try:
        release.value_sets.append(value_set_from_json(resource))
    except (KeyError, TypeError, ValueError) as exc:
        raise LoadError(path, f"invalid ValueSet '{entity.name}': {exc}", line=entity.line) from exc


def _component(resource: dict[str, Any], rule: _Rule, folder: _Folder, path: Path, lines: dict[int, int]) -> None:
    """One value-set component rule: ``[include|exclude] codes from system X [and valueset Y] [where …]`` or
    ``[include|exclude] SYS#code ["display"] [and …] [from system X]``."""
    tokens = _tokens(rule.text, path, rule.line)
    line = rule.line

    def fail(why: str) -> LoadError:
        return LoadError(path, f"cannot read value set rule '* {rule.text[:60]}': {why}", line=line)

    mode = "include"
    if tokens and tokens[0] in ("include", "exclude"):
        mode = tokens.pop(0)
    parts = resource.setdefault("compose", {}).setdefault(mode, [])
    if tokens[:2] == ["codes", "from"]:
        item: dict[str, Any] = {}
        copy: _Entity | None = None
        position = 2
        while True:
            if position + 1 >= len(tokens) or tokens[position] not in ("system", "valueset"):
                raise fail("expected 'system <name>' or 'valueset <name>' after 'from'")
            kind, name = tokens[position], tokens[position + 1]
            if kind == "system":
                if "system" in item:
                    raise fail("a component has one system")
                item["system"], copy = folder.system(name, path, line)
            else:
                item.setdefault("valueSet", []).append(folder.value_set(name, path, line))
            position += 2
            if position < len(tokens) and tokens[position] == "and":
                position += 1
                continue
            break
        if position < len(tokens):
            if tokens[position] != "where" or "system" not in item:
                raise fail("expected 'where <property> <operator> <value>' after the system")
            item["filter"] = _filters(tokens[position + 1:], fail, path, line)
        if copy is not None and "filter" not in item and _known_copy(item["system"]) is not None:
            # MedCom's copy of NPU/MCS: the value set is the codes of the copy, not all of the real system
            concepts = _flat_concepts(_code_system_json(copy, folder, []))
            item["concept"] = [_compose_concept(c) for c in concepts]
        parts.append(item)
        return
    concepts: list[tuple[str | None, str, str | None]] = []
    position = 0
    while position < len(tokens) and "#" in tokens[position] and not tokens[position].startswith('"'):
        system_name, _, rest = tokens[position].partition("#")
        code = _code("#" + rest, path, line)
        position += 1
        display = None
        if position < len(tokens) and tokens[position].startswith('"'):
            display = _string(tokens[position], path, line)
            position += 1
        concepts.append((system_name or None, code, display))
        if position + 1 < len(tokens) and tokens[position] == "and" and "#" in tokens[position + 1]:
            position += 1
            continue
        break
    if not concepts:
        raise fail("expected 'codes from …' or a code '#code' / 'SYSTEM#code'")
    shared: str | None = None
    value_sets: list[str] = []
    if position < len(tokens):
        if tokens[position] != "from":
            raise fail(f"unexpected {tokens[position]!r}")
        position += 1
        while position + 1 < len(tokens) and tokens[position] in ("system", "valueset"):
            if tokens[position] == "system":
                shared = folder.system(tokens[position + 1], path, line)[0]
            else:
                value_sets.append(folder.value_set(tokens[position + 1], path, line))
            position += 2
            if position < len(tokens) and tokens[position] == "and":
                position += 1
        if position != len(tokens):
            raise fail("expected 'from system <name>' / 'from valueset <name>'")
    for system_name, code, display in concepts:
        system = folder.system(system_name, path, line)[0] if system_name else shared
        if system is None:
            raise fail(f"code #{code} has no system (write SYSTEM#{code} or '… from system X')")
        entry = {"code": code, **({"display": display} if display else {})}
        lines[id(entry)] = line
        target = next((p for p in parts if isinstance(p, dict) and p.get("system") == system and "concept" in p
                       and "filter" not in p and p.get("valueSet", []) == value_sets), None)
        if target is None:
            target = {"system": system, **({"valueSet": value_sets} if value_sets else {}), "concept": []}
            parts.append(target)
        target["concept"].append(entry)


def _filters(tokens: list[str], fail: Any, path: Path, line: int) -> list[dict[str, str]]:
    filters = []
    position = 0
    while position + 3 <= len(tokens):
        prop, op, value = tokens[position:position + 3]
        if op not in FILTER_OPS:
            raise fail(f"unknown filter operator {op!r}")
        if value.startswith("#"):
            value = _code(value, path, line)
        elif value.startswith('"'):
            value = _string(value, path, line)
        elif value.startswith("/") and value.endswith("/") and len(value) > 1:
            value = value[1:-1]
        filters.append({"property": prop, "op": op, "value": value})
        position += 3
        if position < len(tokens) and tokens[position] == "and":
            position += 1
            continue
        break
    if not filters or position != len(tokens):
        raise fail("expected 'where <property> <operator> <value> [and …]'")
    return filters


def _compose_concept(concept: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": concept["code"]}
    if concept.get("display"):
        entry["display"] = concept["display"]
    designations = [{k: v for k, v in d.items() if k in ("language", "use", "value")}
                    for d in concept.get("designation") or [] if d.get("value")]
    if designations:
        entry["designation"] = designations
    return entry


# --- MedCom's data errors -----------------------------------------------------------------------------------------

def _dedupe(concepts: list[dict[str, Any]], what: str, lines: dict[int, int], line: int,
            warnings: list[str]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for concept in concepts:
        code = concept.get("code") if isinstance(concept, dict) else None
        if code in seen:
            warnings.append(f"line {lines.get(id(concept), line)}: {what}: code {code} is listed twice; listed once")
            continue
        if code is not None:
            seen.add(code)
        kept.append(concept)
    return kept


def _check_duplicate_texts(what: str, system: str | None, concepts: list[dict[str, Any]],
                           warnings: list[str]) -> None:
    """One warning per code whose display (or a designation) is already another code's: a user picking from a
    list cannot tell the two apart."""
    displays: dict[str, str] = {}
    designations: dict[str, str] = {}
    for concept in concepts:
        if not isinstance(concept, dict):
            continue
        code, display = concept.get("code"), concept.get("display")
        if display:
            if display in displays and displays[display] != code:
                warnings.append(f"{what}: {code} has the same display as {displays[display]}: {display!r}")
            displays.setdefault(display, code)
        for designation in concept.get("designation") or []:
            value = designation.get("value") if isinstance(designation, dict) else None
            if value and value != display:
                if value in designations and designations[value] != code:
                    warnings.append(f"{what}: {code} has the same designation as {designations[value]}: {value!r}")
                designations.setdefault(value, code)


def _check_designation_uses(compose: dict[str, Any], what: str, warnings: list[str]) -> None:
    codes = sorted({d["use"]["code"] for part in ("include", "exclude") for item in compose.get(part) or []
                    if isinstance(item, dict) for c in item.get("concept") or [] if isinstance(c, dict)
                    for d in c.get("designation") or [] if isinstance(d, dict) and isinstance(d.get("use"), dict)
                    and "system" not in d["use"] and d["use"].get("code")})
    if codes:
        warnings.append(f"{what}: designation use {', '.join(codes)} has no system (SNOMED CT "
                        "900000000000013009 is 'synonym')")


def check_stored_value_sets(session: Session, aliases: AliasTable, urls: Iterable[str] | None = None) -> list[str]:
    """Compare the concept lists of stored value sets with the stored NPU, MCS, ICPC-2, … (the systems this server
    loads from their own releases): one line per code that system does not have, and per display that differs from
    the system's Danish texts. Run after loading (value sets may be loaded before the systems they use).
    """
    wanted = set(urls) if urls is not None else None
    lines: list[str] = []
    for value_set in session.scalars(select(ValueSetVersion).order_by(ValueSetVersion.url, ValueSetVersion.id)):
        if wanted is not None and value_set.url not in wanted:
            continue
        for include in (value_set.compose or {}).get("include") or []:
            system = aliases.canonical(include.get("system") or "")
            known = _KNOWN.get(system)
            if known is None or not include.get("concept"):
                continue
            row = session.scalars(select(CodeSystemVersion).where(
                CodeSystemVersion.url == system, CodeSystemVersion.content != "supplement")
                .order_by(CodeSystemVersion.loaded_at.desc(), CodeSystemVersion.id.desc())).first()
            label = f"ValueSet '{value_set.url}'"
            if row is None:
                lines.append(f"{label}: {known.name} ({system}) is not loaded, its codes cannot be checked")
                continue
            listed = {c["code"]: c.get("display") for c in include["concept"]}
            stored = {c.code: c for c in session.scalars(select(Concept).where(
                Concept.code_system_id == row.id, Concept.code.in_(list(listed))))}
            texts: dict[int, list[tuple[str | None, str]]] = {}
            for designation in session.scalars(select(Designation).where(
                    Designation.concept_id.in_([c.id for c in stored.values()]))):
                texts.setdefault(designation.concept_id, []).append((designation.language, designation.value))
            where = f"{known.name} ({system}{'|' + row.version if row.version else ''})"
            for code, display in listed.items():
                concept = stored.get(code)
                if concept is None:
                    lines.append(f"{label}: code {code} is not in {where}")
                    continue
                danish = [v for language, v in texts.get(concept.id, []) if (language or "").startswith("da")]
                if not display or not (danish or (row.language or "").startswith("da")):
                    continue  # no Danish text to compare with (an English NPU name is not a contradiction)
                if display in {concept.display, *danish, *(v for _, v in texts.get(concept.id, []))}:
                    continue
                if display == concept.definition:
                    lines.append(f"{label}: code {code} has {known.name}'s definition as display, "
                                 f"{known.name}'s display is {concept.display!r}")
                else:
                    also = f" (definition {concept.definition!r})" if concept.definition else ""
                    lines.append(f"{label}: code {code} has display {display!r}, {known.name} says "
                                 f"{concept.display!r}{also}")
    return lines
