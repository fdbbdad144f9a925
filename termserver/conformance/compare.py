"""Compare a server's answer with an expected HL7 tx-ecosystem test file, as the Java reference runner does.

Two parts, each a port of the Java the reference runner (``org.hl7.fhir.validation.special.TxTester``) uses:

* :class:`JsonComparer` is ``org.hl7.fhir.services.testing.CompareUtilities`` (formerly
  ``org.hl7.fhir.r5.test.utils.CompareUtilities``): ``compareObjects``, ``compareNodes``, ``matches``,
  ``presentExpected``, ``createNotEqualMessage`` and the ``$optional$`` / ``$only$`` helpers, message for message.
* :func:`normalize` is ``TxTesterNormalizer.normalize``: the ``TxTesterScrubbers`` (narrative, meta, diagnostics)
  and ``TxTesterSorters`` (parameters, parts, issues, expansion contents, designations, properties, capability
  statements) applied to the *actual* resource only. "Array order never matters" (tests/readme.md) is achieved
  this way: the expected files are stored in the order the sorters produce, and arrays are then compared in order.

Both work on plain JSON (``dict``/``list``) in the R5 shape; numbers should be parsed with :func:`load_json` so
that they compare by their JSON text, as the Java ``JsonNumber`` does.
"""
from __future__ import annotations

import base64
import binascii
import decimal
import json
import re
from functools import cmp_to_key
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

JsonObject = dict[str, Any]

_CLASS_NAMES = {
    "object": "org.hl7.fhir.utilities.json.model.JsonObject",
    "array": "org.hl7.fhir.utilities.json.model.JsonArray",
    "string": "org.hl7.fhir.utilities.json.model.JsonString",
    "boolean": "org.hl7.fhir.utilities.json.model.JsonBoolean",
    "number": "org.hl7.fhir.utilities.json.model.JsonNumber",
    "null": "org.hl7.fhir.utilities.json.model.JsonNull",
}

# org.hl7.fhir.utilities.regex.RegexConstants; Java's String.matches() anchors at both ends (re.fullmatch).
# URL_REGEX's "[[:blank:|:blank:]]" is a Java class union, i.e. the characters ":blank|".
_INSTANT = re.compile(r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
                      r"T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?"
                      r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))")
_DATE = re.compile(r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
                   r"(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?"
                   r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?")
_URN_UUID = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_URL = re.compile(r"^(((https?)://)(%[0-9A-Fa-f]{2}|[-()_.!~*';/?:@&=+$,A-Za-z0-9])+)([).!';/?:,][:blank|])?$")
_TOKEN = re.compile(r"[0-9a-zA-Z_][0-9a-zA-Z_.\-]*")
# VersionUtilities.isSemVer(v, false): major.minor[.patch][-prerelease][+build], no leading zeros (semver.org rules)
_NUM = r"(0|[1-9][0-9]*)"
_PRE_ID = r"(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
_SEMVER = re.compile(rf"{_NUM}\.{_NUM}(\.{_NUM})?(-{_PRE_ID}(\.{_PRE_ID})*)?(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?")


class UnhandledTemplateError(Exception):
    """An expected string looks like ``$...$`` but is no template the comparer knows (Java throws an Error)."""


def load_json(path: Path) -> Any:
    """Read a test file: UTF-8 with or without a BOM, numbers kept as their JSON text (``Decimal``/``int``)."""
    return parse_json(path.read_bytes())


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON text, keeping decimals exact so that numbers compare by their text."""
    text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw
    return json.loads(text, parse_float=decimal.Decimal)


def dump_json(value: Any, indent: int | None = 2, sort_keys: bool = False) -> str:
    """JSON text with decimals written exactly as they were read (Java's DecimalType keeps its text)."""
    decimals: list[str] = []

    def mark(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: mark(v) for k, v in item.items()}
        if isinstance(item, list):
            return [mark(v) for v in item]
        if isinstance(item, decimal.Decimal):
            decimals.append(str(item))
            return f"\x00{len(decimals) - 1}\x00"
        return item

    text = json.dumps(mark(value), indent=indent, ensure_ascii=False, sort_keys=sort_keys)
    return re.sub(r'"\\u0000(\d+)\\u0000"', lambda m: decimals[int(m.group(1))], text)


def java_compare(a: str, b: str) -> int:
    """``String.compareTo``: UTF-16 code unit order (differs from Python's for characters beyond the BMP)."""
    ea, eb = a.encode("utf-16-be"), b.encode("utf-16-be")
    return (ea > eb) - (ea < eb)


def java_split(value: str, separator: str) -> list[str]:
    """``String.split`` with a literal separator: trailing empty strings removed, no match gives ``[value]``."""
    if separator not in value:
        return [value]
    parts = value.split(separator)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _as_string(value: Any) -> str:
    """``JsonPrimitive.asString()``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def _java_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


def _read_choices(value: str) -> list[str]:
    return java_split(value, "|")


def _un_base64(text: str) -> bytes:
    """Canonical base64 only: anything else decodes to nothing, which never matches (CompareUtilities.unBase64)."""
    if not text or len(text) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text):
        return b""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""
    return data if base64.b64encode(data).decode("ascii") == text else b""


def _same_bytes(b1: bytes, b2: bytes) -> bool:
    return bool(b1) and bool(b2) and b1 == b2


class JsonComparer:
    """``CompareUtilities``: expected test file (a template) against the actual JSON; None means they match.

    ``modes`` are the runner's modes (for ``$optional$``/``$only$`` filters), ``externals`` the file's entry in
    an externals file (``$external:N$`` strings), ``variables`` holds ``version`` (the server's FHIR version).
    In pattern mode (metadata tests) properties the expected file does not mention are ignored.
    """

    def __init__(self, modes: Iterable[str] | None = None, externals: Mapping[str, Any] | None = None,
                 variables: Mapping[str, str] | None = None, pattern_mode: bool = False) -> None:
        self.modes = None if modes is None else set(modes)
        self.externals = externals
        self.variables = dict(variables or {})
        self.pattern_mode = pattern_mode
        self.warnings: list[str] = []

    def compare(self, test_id: str, expected: JsonObject, actual: JsonObject) -> str | None:
        """``checkJsonSrcIsSame``: the first difference as the Java message, or None.

        :raises UnhandledTemplateError: when the expected file uses an unknown ``$...$`` template.
        """
        return self.compare_objects(test_id, "", expected, actual)

    # -- messages -------------------------------------------------------------------------------------------
    def not_equal(self, test_id: str, message: str, expected: str | None, actual: str) -> str:
        """``createNotEqualMessage``."""
        sep = ". " if self.pattern_mode else "\n"
        return (f"{message}{sep}Expected:{self.present_expected(expected)} for {test_id}{sep}"
                f"Actual  :\"{actual}\"")

    def present_expected(self, expected: str | None) -> str:
        """``presentExpected``: how an expected value (or template) is shown in a message."""
        if expected is None:
            return "null"
        if not (expected.startswith("$") and expected.endswith("$")):
            return f"\"{expected}\""
        if expected.startswith("$choice:"):
            return "Contains one of " + _java_list(_read_choices(expected[8:-1]))
        if expected.startswith("$fragments:"):
            return "Contains all of " + _java_list(_read_choices(expected[11:-1]))
        if expected.startswith("$external:"):
            cmd = java_split(expected[1:-1], ":")
            if self.externals is not None:
                return f"\"{_as_string(self.externals.get(cmd[1]))}\" (Ext)"
            fragments = _read_choices(cmd[2]) if len(cmd) > 2 else []
            return f"Contains all of {_java_list(fragments)} (because no external string provided for {cmd[1]})"
        named = {"$$": "$$", "$instant$": "\"An Instant\"", "$date$": "\"A date\"", "$uuid$": "\"A Uuid\"",
                 "$string$": "\"A string\"", "$id$": "\"An Id\"", "$url$": "\"A URL\"", "$token$": "\"A Token\"",
                 "$semver$": "A semver"}
        if expected == "$version$":
            return self.variables.get("version", "(anything)")
        return named.get(expected, "Unhandled template: " + expected)

    # -- objects --------------------------------------------------------------------------------------------
    def compare_objects(self, test_id: str, path: str, expected: JsonObject, actual: JsonObject) -> str | None:
        """``compareObjects``: actual properties must be expected (unless pattern mode), expected ones present."""
        optionals = self._list_optionals(expected)
        count_onlys = self._list_count_onlys(expected)
        for name, value in actual.items():
            if name == "fhir_comments":
                continue
            if name in expected:
                if self._is_prohibited(expected[name]):
                    return (f"properties differ at {path}: prohibited property {name} (only allowed when "
                            f"'{_as_string(expected[name].get('$only$'))}')")
                s = self.compare_nodes(test_id, f"{path}.{name}", expected[name], value, name in count_onlys, name,
                                       actual)
                if s:
                    return s
            elif not self.pattern_mode and name not in optionals:
                return f"properties differ at {path}: unexpected property {name}"
        for name, value in expected.items():
            if name != "fhir_comments" and not self._is_optional_name(name, optionals) \
                    and not self._is_prohibited(value):
                if name not in actual and not self._all_optional(value):
                    return f"properties differ at {path}: missing property {name}"
        return None

    @staticmethod
    def _is_optional_name(name: str, optionals: list[str]) -> bool:
        return name in ("$optional$", "$only$") or "*" in optionals or name in optionals

    def _is_prohibited(self, element: Any) -> bool:
        """``$only$`` whose filter does not pass: the item must not be present at all."""
        return isinstance(element, dict) and isinstance(element.get("$only$"), str) \
            and not self._passes_optional_filter(element["$only$"])

    def _all_optional(self, value: Any) -> bool:
        if not isinstance(value, list):
            return False
        return all("$optional$" in item or self._is_prohibited(item) for item in value if isinstance(item, dict))

    @staticmethod
    def _list_optionals(expected: JsonObject) -> list[str]:
        if "$optional-properties$" not in expected:
            return []
        return ["$optional-properties$", "$count-arrays$"] + [_as_string(s) for s in expected["$optional-properties$"]]

    @staticmethod
    def _list_count_onlys(expected: JsonObject) -> list[str]:
        return [_as_string(s) for s in expected.get("$count-arrays$", [])]

    # -- nodes ----------------------------------------------------------------------------------------------
    def compare_nodes(self, test_id: str, path: str, expected: Any, actual: Any, count_only: bool,
                      name: str | None, parent: JsonObject | None) -> str | None:
        """``compareNodes``: primitives by value/template, objects recursively, arrays in order."""
        e_kind, a_kind = _kind(expected), _kind(actual)
        primitives = ("string", "boolean", "number", "null")
        if not (e_kind in primitives and a_kind in primitives) and e_kind != a_kind:
            return self.not_equal(test_id, f"properties differ at {path}", _CLASS_NAMES[e_kind], _CLASS_NAMES[a_kind])
        if a_kind in primitives:
            if e_kind == a_kind == "boolean":
                if actual != expected:
                    return self.not_equal(test_id, f"boolean property values differ at {path}", _as_string(expected),
                                          _as_string(actual))
            elif e_kind == a_kind == "string":
                if not ("<div" in actual and "<div" in expected) and not self.matches(actual, expected) \
                        and not _same_bytes(_un_base64(actual), _un_base64(expected)):
                    return self.not_equal(test_id, f"string property values differ at {path}", expected, actual)
            elif e_kind == a_kind == "number":
                if _as_string(actual) != _as_string(expected):
                    return self.not_equal(test_id, f"number property values differ at {path}", _as_string(expected),
                                          _as_string(actual))
            elif e_kind == "null":
                return None if a_kind == "null" else self.not_equal(test_id, f"null Properties differ at {path}",
                                                                    "null", _as_string(actual))
            else:
                return self.not_equal(test_id, f"property types differ at {path}", _as_string(expected),
                                      _as_string(actual))
        elif a_kind == "object":
            return self.compare_objects(test_id, path, expected, actual) or None
        else:
            return self._compare_arrays(test_id, path, expected, actual, count_only)
        return None

    def _compare_arrays(self, test_id: str, path: str, expected: list[Any], actual: list[Any],
                        count_only: bool) -> str | None:
        prohibited = self._check_prohibited(test_id, path, expected, actual)
        if prohibited is not None:
            return prohibited
        # prohibited items are not expected at all: the count and leftover checks below enforce that
        expected = [e for e in expected if not self._is_prohibited(e)]
        a_size, e_size = len(actual), len(expected)
        if count_only:
            if a_size != e_size:
                return self.not_equal(test_id, f"array item count differs at {path}", str(e_size), str(a_size))
            return None
        optional_count = sum(1 for e in expected if self._is_optional_item(e))
        expected_min = e_size - optional_count
        if self.pattern_mode:
            c = 0
            for i, item in enumerate(expected):
                s: str | None = "Doesn't exist"
                failures = [""]
                while s is not None and c < a_size:
                    s = self.compare_nodes(test_id, f"{path}[{i}]", item, actual[c], False, None, None)
                    if s is not None:
                        failures.append("  " + s)
                    c += 1
                if s is not None:
                    return f"The expected item at {path} at index {i} was not found: " + "\r\n".join(failures)
            return None
        if a_size > e_size or a_size < expected_min:
            return self.not_equal(test_id, f"array item count differs at {path}", str(e_size), str(a_size))
        c = 0
        for i, item in enumerate(expected):
            if c >= a_size:
                if i >= e_size - optional_count and self._is_optional_item(item):
                    warning = self._optional_warning(item)
                    if warning is not None:
                        self.warnings.append(warning)
                    return None  # the rest is optional: this is OK
                return f"One or more array items did not match at {path} starting at index {i}"
            s = self.compare_nodes(test_id, f"{path}[{i}]", item, actual[c], False, None, None)
            if s and not self._is_optional_item(item):
                return s
            if not s:
                c += 1
        if c < a_size:
            return f"Unexpected Node found in array at '{path}' at index {c}"
        return None

    def _check_prohibited(self, test_id: str, path: str, expected: list[Any], actual: list[Any]) -> str | None:
        """``checkProhibited``: a response item matching a prohibited (``$only$``) expectation is an error."""
        for item in expected:
            if not self._is_prohibited(item):
                continue
            for i, candidate in enumerate(actual):
                kept = len(self.warnings)
                s = self.compare_nodes(test_id, f"{path}[{i}]", item, candidate, False, None, None)
                del self.warnings[kept:]  # only a probe: leave no warnings behind
                if not s:
                    return (f"prohibited item found at {path}[{i}]{self._describe_item(item)}: this is only allowed "
                            f"when '{_as_string(item.get('$only$'))}'")
        return None

    @staticmethod
    def _describe_item(item: Any) -> str:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            return f" (name = {item['name']})"
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            return f" (code = {item['code']})"
        return ""

    def _is_optional_item(self, item: Any) -> bool:
        """``isOptional(JsonElement)``: a prohibited item, or ``$optional$`` true / a passing filter."""
        if not isinstance(item, dict):
            return False
        if self._is_prohibited(item):
            return True
        flag = item.get("$optional$")
        if isinstance(flag, str):
            return self._passes_optional_filter(flag)
        return flag is True

    @staticmethod
    def _optional_warning(item: Any) -> str | None:
        flag = item.get("$optional$") if isinstance(item, dict) else None
        return flag[len("warning:"):] if isinstance(flag, str) and flag.startswith("warning:") else None

    def _passes_optional_filter(self, token: str) -> bool:
        """``passesOptionalFilter``: ``!mode``, ``warning:...``, ``version:N`` or a mode name."""
        if token.startswith("!"):
            return self.modes is None or token[1:] not in self.modes
        if token.startswith("warning:"):
            return True
        if token.startswith("version:"):
            version = self.variables.get("version")
            return version is not None and version.startswith(token[8:])
        return self.modes is not None and token in self.modes

    # -- strings --------------------------------------------------------------------------------------------
    def matches(self, actual: str, expected: str) -> bool:
        """``matches``: literal equality (with ``$version$`` substituted) or one of the ``$...$`` templates.

        :raises UnhandledTemplateError: for an unknown template.
        """
        if not (expected.startswith("$") and expected.endswith("$")):
            if "$version$" in expected and "version" in self.variables:
                expected = expected.replace("$version$", self.variables["version"])
            return actual == expected
        if expected.startswith("$choice:"):
            return actual in _read_choices(expected[8:-1])
        if expected.startswith("$fragments:"):
            return all(f.lower() in actual.lower() for f in _read_choices(expected[11:-1]))
        if expected.startswith("$external:"):
            cmd = java_split(expected[1:-1], ":")
            if self.externals is not None:
                return actual == self.externals.get(cmd[1])
            if len(cmd) <= 2:
                return True
            return all(f.lower() in actual.lower() for f in _read_choices(cmd[2]))
        checks: dict[str, Callable[[str], bool]] = {
            "$$": lambda s: True,
            "$instant$": lambda s: _INSTANT.fullmatch(s) is not None,
            "$date$": lambda s: _DATE.fullmatch(s) is not None,
            "$uuid$": lambda s: _URN_UUID.fullmatch(s) is not None,
            "$string$": lambda s: s == s.strip(),
            "$id$": lambda s: _ID.fullmatch(s) is not None,
            "$url$": lambda s: _URL.fullmatch(s) is not None,
            "$token$": lambda s: _TOKEN.fullmatch(s) is not None,
            "$semver$": lambda s: _SEMVER.fullmatch(s) is not None,
            "$version$": lambda s: "version" not in self.variables or s == self.variables["version"],
        }
        if expected not in checks:
            raise UnhandledTemplateError("Unhandled template: " + expected)
        return checks[expected](actual)


# ---------------------------------------------------------------------------------------------------------------
# TxTesterScrubbers: server detail removed before comparing. Applied to the actual resource only.
# ---------------------------------------------------------------------------------------------------------------

#: TxTesterScrubbers.TxTesterScrubberVisitor.isManagedExtension: kept when not in "tight" mode
MANAGED_EXTENSIONS = frozenset({
    "http://hl7.org/fhir/StructureDefinition/codesystem-alternate",
    "http://hl7.org/fhir/StructureDefinition/codesystem-conceptOrder",
    "http://hl7.org/fhir/StructureDefinition/codesystem-label",
    "http://hl7.org/fhir/StructureDefinition/coding-sctdescid",
    "http://hl7.org/fhir/StructureDefinition/itemWeight",
    "http://hl7.org/fhir/StructureDefinition/rendering-style",
    "http://hl7.org/fhir/StructureDefinition/rendering-xhtml",
    "http://hl7.org/fhir/StructureDefinition/translation",
    "http://hl7.org/fhir/StructureDefinition/valueset-concept-definition",
    "http://hl7.org/fhir/StructureDefinition/valueset-conceptOrder",
    "http://hl7.org/fhir/StructureDefinition/valueset-deprecated",
    "http://hl7.org/fhir/StructureDefinition/valueset-label",
    "http://hl7.org/fhir/StructureDefinition/valueset-supplement",
    "http://hl7.org/fhir/test/CodeSystem/de-multi",
    "http://hl7.org/fhir/test/CodeSystem/en-multi",
    "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-1",
    "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-3",
    "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-4",
    "http://hl7.org/fhir/test/StructureDefinition/unknown-extension-5",
    "http://hl7.org/fhir/test/ValueSet/extensions-bad-supplement",
    "http://hl7.org/fhir/test/ValueSet/simple-all",
    "http://hl7.org/fhir/test/ValueSet/simple-enumerated",
    "http://hl7.org/fhir/StructureDefinition/alternate-code-use",
    "http://hl7.org/fhir/StructureDefinition/alternate-code-status",
    "http://hl7.org/fhir/test/ValueSet/simple-filter-isa",
})
_ABSOLUTE_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-]*:")


def _is_managed_extension(extension: Any, tight: bool) -> bool:
    url = extension.get("url") if isinstance(extension, dict) else None
    return tight or not isinstance(url, str) or not _ABSOLUTE_URL.match(url) or url in MANAGED_EXTENSIONS


def _filter_extensions(element: JsonObject, tight: bool) -> None:
    if isinstance(element.get("extension"), list):
        element["extension"] = [e for e in element["extension"] if _is_managed_extension(e, tight)]
        if not element["extension"]:
            del element["extension"]


def _scrub_extensions(node: Any, tight: bool) -> None:
    """The ElementVisitor pass: drop unmanaged extensions everywhere except below ``ValueSet.compose``."""
    if isinstance(node, list):
        for item in node:
            _scrub_extensions(item, tight)
        return
    if not isinstance(node, dict):
        return
    _filter_extensions(node, tight)
    for key, value in node.items():
        if key == "compose" and node.get("resourceType") == "ValueSet" and isinstance(value, dict):
            _filter_extensions(value, tight)  # visited, but NO_VISIT_CHILDREN
        else:
            _scrub_extensions(value, tight)


def scrub_domain_resource(resource: JsonObject, tight: bool) -> None:
    """``TxTesterScrubbers.scrubDR``: no narrative, no meta, and (unless tight) only managed extensions."""
    resource.pop("text", None)
    resource.pop("meta", None)
    if not tight:
        _scrub_extensions(resource, tight)


def scrub_parameters(parameters: JsonObject, tight: bool) -> None:
    """``TxTesterScrubbers.scrubParameters``: no meta."""
    parameters.pop("meta", None)


def scrub_operation_outcome(outcome: JsonObject, tight: bool) -> None:
    """``TxTesterScrubbers.scrubOperationOutcome``: as scrubDR, and no ``diagnostics`` (issues that are nothing
    but diagnostics go)."""
    scrub_domain_resource(outcome, tight)
    issues = outcome.get("issue")
    if isinstance(issues, list):
        outcome["issue"] = [i for i in issues
                            if not (isinstance(i, dict) and "diagnostics" in i and not i.get("details"))]
        for issue in outcome["issue"]:
            if isinstance(issue, dict):
                issue.pop("diagnostics", None)
                issue.pop("_diagnostics", None)


# ---------------------------------------------------------------------------------------------------------------
# TxTesterSorters: Collections.sort with the runner's comparators (stable TimSort, like Python's sort).
# ---------------------------------------------------------------------------------------------------------------

_PRIMITIVE_VALUE_KEYS = ("valueBase64Binary", "valueBoolean", "valueCanonical", "valueCode", "valueDate",
                         "valueDateTime", "valueDecimal", "valueId", "valueInstant", "valueInteger",
                         "valueInteger64", "valueMarkdown", "valueOid", "valuePositiveInt", "valueString",
                         "valueTime", "valueUnsignedInt", "valueUri", "valueUrl", "valueUuid")


def primitive_value(element: Any) -> str | None:
    """``getValue().primitiveValue()`` of an element with a ``value[x]``; None when absent or not primitive."""
    if not isinstance(element, dict):
        return None
    for key in _PRIMITIVE_VALUE_KEYS:
        if key in element and element[key] is not None and not isinstance(element[key], (dict, list)):
            return _as_string(element[key])
    return None


def _text(value: Any) -> str:
    return "" if value is None else _as_string(value)


def _sort(items: Any, compare: Callable[[Any, Any], int], before: Callable[[Any], None] | None = None) -> None:
    """Sort a JSON array in place. Java's TimSort calls the comparator (and so its side effects) only for two
    or more items."""
    if not isinstance(items, list) or len(items) < 2:
        return
    if before is not None:
        for item in items:
            before(item)
    items.sort(key=cmp_to_key(compare))


def _sort_extensions(element: Any) -> None:
    """``Collections.sort(x.getExtension(), new ExtensionSorter())``: by url, sub-extensions sorted too."""
    if isinstance(element, dict):
        _sort(element.get("extension"), lambda a, b: java_compare(_text(a.get("url")), _text(b.get("url"))),
              _sort_extensions)


def _part(parameter: Any, name: str) -> Any:
    for part in parameter.get("part", []) if isinstance(parameter, dict) else []:
        if isinstance(part, dict) and part.get("name") == name:
            return part
    return None


def _compare_parameters(o1: Any, o2: Any) -> int:
    """``ParameterSorter.compare``: by name; ``property`` by code then value, ``designation`` by language."""
    n1, n2 = _text(o1.get("name")), _text(o2.get("name"))
    if n1 == n2 == "property":
        code1 = (primitive_value(_part(o1, "code")) or "").lower()
        code2 = (primitive_value(_part(o2, "code")) or "").lower()
        if code1 != code2:
            return java_compare(code1, code2)
        v1, v2 = primitive_value(_part(o1, "value")), primitive_value(_part(o2, "value"))
        if v1 is not None and v2 is not None and v1.lower() != v2.lower():
            return java_compare(v1.lower(), v2.lower())
    if n1 == n2 == "designation":
        lang1 = (primitive_value(_part(o1, "language")) or "").lower()
        lang2 = (primitive_value(_part(o2, "language")) or "").lower()
        if lang1 != lang2:
            return java_compare(lang1, lang2)
        # the Java compares part("value").hasPrimitiveValue(), which a parameter component never has
    return java_compare(n1, n2)


def _prepare_parameter(parameter: Any) -> None:
    """The comparator's side effects: a compared parameter's extensions and parts get sorted."""
    if isinstance(parameter, dict):
        _sort_extensions(parameter)
        _sort(parameter.get("part"), _compare_parameters, _prepare_parameter)


def _compare_issues(o1: Any, o2: Any) -> int:
    """``OperationIssueSorter``: severity, code, first expression, details.text."""
    def key(issue: Any) -> list[str]:
        expression = issue.get("expression") or [""]
        details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
        return [_text(issue.get("severity")), _text(issue.get("code")), _text(expression[0]),
                _text(details.get("text"))]
    for a, b in zip(key(o1), key(o2)):
        if a != b:
            return java_compare(a, b)
    return 0


def sort_operation_outcome(outcome: JsonObject) -> None:
    """``TxTesterSorters.sortOperationOutcome``."""
    _sort(outcome.get("issue"), _compare_issues)


def sort_parameters(parameters: JsonObject) -> None:
    """``TxTesterSorters.sortParameters``: parameters (and their parts), nested issues and Parameters, and the
    ``; ``-separated pieces of a ``message``."""
    params = parameters.get("parameter")
    _sort(params, _compare_parameters, _prepare_parameter)
    for param in params if isinstance(params, list) else []:
        if not isinstance(param, dict):
            continue
        resource = param.get("resource")
        if isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            sort_operation_outcome(resource)
        if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
            sort_parameters(resource)
        value = primitive_value(param)
        if param.get("name") == "message" and value is not None and "; " in value:
            bits = sorted(java_split(value, "; "), key=cmp_to_key(java_compare))
            for key in [k for k in param if k.startswith(("value", "_value"))]:
                del param[key]
            param["valueString"] = "; ".join(bits)


def _compare_by(field: str) -> Callable[[Any, Any], int]:
    return lambda a, b: java_compare(_text(a.get(field)), _text(b.get(field)))


def _compare_expansion_parameters(o1: Any, o2: Any) -> int:
    """``ExpParameterSorter``: name, then primitive value."""
    res = java_compare(_text(o1.get("name")), _text(o2.get("name")))
    return res or java_compare(primitive_value(o1) or "", primitive_value(o2) or "")


def _compare_property_definitions(o1: Any, o2: Any) -> int:
    """``PropertyDefnSorter``: uri (absent first), then code."""
    u1, u2 = o1.get("uri"), o2.get("uri")
    if u1 is None or u2 is None:
        i = 0 if u1 is None and u2 is None else (-1 if u1 is None else 1)
    else:
        i = java_compare(_text(u1), _text(u2))
    return i or java_compare(_text(o1.get("code")), _text(o2.get("code")))


def _compare_designations(o1: Any, o2: Any) -> int:
    """``DesignationSorter``: language when both have one, else value."""
    if o1.get("language") is not None and o2.get("language") is not None:
        return java_compare(_text(o1.get("language")), _text(o2.get("language")))
    return java_compare(_text(o1.get("value")), _text(o2.get("value")))


def _sort_contains(contains: Any) -> None:
    """``sortContainsFeatures``."""
    if not isinstance(contains, dict):
        return
    _sort(contains.get("contains"), _compare_by("code"))
    _sort(contains.get("extension"), _compare_by("url"), _sort_extensions)
    _sort(contains.get("designation"), _compare_designations)
    _sort(contains.get("property"), _compare_by("code"))
    for child in contains.get("contains", []) or []:
        _sort_contains(child)


def sort_value_set(value_set: JsonObject) -> None:
    """``TxTesterSorters.sortValueSet``: extensions, expansion parameters/properties/extensions and contents."""
    _sort(value_set.get("extension"), _compare_by("url"), _sort_extensions)
    expansion = value_set.get("expansion")
    if isinstance(expansion, dict):
        _sort(expansion.get("parameter"), _compare_expansion_parameters, _sort_extensions)
        _sort(expansion.get("property"), _compare_property_definitions)
        _sort(expansion.get("extension"), _compare_by("url"), _sort_extensions)
        _sort(expansion.get("contains"), _compare_by("code"))
        for contains in expansion.get("contains", []) or []:
            _sort_contains(contains)


def _compare_strings(a: Any, b: Any) -> int:
    return java_compare(_text(a), _text(b))


def _first_coding(concept: Any) -> dict[str, Any]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return codings[0] if isinstance(codings, list) and codings and isinstance(codings[0], dict) else {}


def _compare_codings(c1: Any, c2: Any) -> int:
    if _text(c1.get("system")) == _text(c2.get("system")):
        return java_compare(_text(c1.get("code")), _text(c2.get("code")))
    return java_compare(_text(c1.get("system")), _text(c2.get("system")))


def _compare_concepts(o1: Any, o2: Any) -> int:
    if o1.get("coding") and o2.get("coding"):
        return _compare_codings(_first_coding(o1), _first_coding(o2))
    return java_compare(_text(o1.get("text")), _text(o2.get("text")))


def sort_capability_statement(statement: JsonObject) -> None:
    """``TxTesterSorters.sortCapStmt``."""
    for key in ("format", "instantiates", "imports", "acceptLanguage"):
        _sort(statement.get(key), _compare_strings)
    _sort(statement.get("rest"), _compare_by("mode"))
    for rest in statement.get("rest", []) or []:
        if not isinstance(rest, dict):
            continue
        security = rest.get("security")
        if isinstance(security, dict):
            for service in security.get("service", []) or []:
                if isinstance(service, dict):
                    _sort(service.get("coding"), _compare_codings)
            _sort(security.get("service"), _compare_concepts)
        _sort(rest.get("resource"), _compare_by("type"))
        for resource in rest.get("resource", []) or []:
            if not isinstance(resource, dict):
                continue
            for key in ("supportedProfile", "searchInclude", "searchRevInclude"):
                _sort(resource.get(key), _compare_strings)
            _sort(resource.get("interaction"), _compare_by("code"))
            _sort(resource.get("searchParam"), _compare_by("name"))
            _sort(resource.get("operation"), _compare_by("name"))
        _sort(rest.get("interaction"), _compare_by("code"))
        _sort(rest.get("searchParam"), _compare_by("name"))
        _sort(rest.get("operation"), _compare_by("name"))
        _sort(rest.get("compartment"), _compare_strings)


def sort_terminology_capabilities(capabilities: JsonObject) -> None:
    """``TxTesterSorters.sortTermCaps``."""
    _sort(capabilities.get("codeSystem"), _compare_by("uri"))
    for system in capabilities.get("codeSystem", []) or []:
        if not isinstance(system, dict):
            continue
        versions = system.get("version")
        _sort(versions, lambda a, b: 0 if a.get("code") is None or b.get("code") is None
              else java_compare(_text(a.get("code")), _text(b.get("code"))))
        for version in versions or []:
            if isinstance(version, dict):
                _sort(version.get("language"), _compare_strings)
                _sort(version.get("property"), _compare_strings)
                _sort(version.get("filter"), _compare_by("code"))
    expansion = capabilities.get("expansion")
    if isinstance(expansion, dict):
        _sort(expansion.get("parameter"), _compare_by("name"))


def normalize(resource: JsonObject, tight: bool = True) -> None:
    """``TxTesterNormalizer.normalize``: scrub and sort an actual (R5) resource in place, per resource type."""
    kind = resource.get("resourceType")
    if kind == "Parameters":
        scrub_parameters(resource, tight)
        sort_parameters(resource)
    elif kind == "ValueSet":
        scrub_domain_resource(resource, tight)
        sort_value_set(resource)
    elif kind == "OperationOutcome":
        scrub_operation_outcome(resource, tight)
    elif kind == "CapabilityStatement":
        scrub_domain_resource(resource, tight)
        sort_capability_statement(resource)
    elif kind == "TerminologyCapabilities":
        scrub_domain_resource(resource, tight)
        sort_terminology_capabilities(resource)
