"""Run the HL7 FHIR terminology-ecosystem tests (``test-cases.json``) against a server, as ``TxTester`` does.

A port of ``org.hl7.fhir.validation.special.TxTester`` (``execute``, ``connectToServer``, ``checkClient``,
``runSuite``, ``runTest`` and one method per operation) and of the parts of its terminology client
(``TerminologyClientR4`` over ``FHIRToolingClient``) that decide what goes over the wire:

* each request is the test's Parameters, then every file of the suite's ``setup`` as a ``tx-resource``
  parameter, then the parameters of the test's ``profile`` (default ``parameters-default.json``);
* against an R4 server the request is converted to R4 and the answer back to R5 (:mod:`.r5_to_r4`);
* ``$validate-code`` goes through ``operateType``: GET with a query string when every parameter is a primitive,
  else POST; ``$expand``, ``$lookup``, ``$translate`` and the others are always POSTed;
* an answer that is an OperationOutcome with an error or fatal issue, or any non-2xx status, is the error
  outcome; the answer is then scrubbed and sorted (:func:`.compare.normalize`, with each operation's own
  variations) and compared with the expected file (:class:`.compare.JsonComparer`); the HTTP status class
  (``http-code``, default ``2xx``) is checked last and its message wins.

The metadata suite compares the server's CapabilityStatement and TerminologyCapabilities, fetched once at the
start, in pattern mode. No Flask here: the server is reached over HTTP only.
"""
from __future__ import annotations

import copy
import difflib
import http.client
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from termserver.config import REPO_DATA
from termserver.conformance.compare import (JsonComparer, UnhandledTemplateError, dump_json, load_json, normalize,
                                            parse_json, primitive_value, scrub_domain_resource,
                                            scrub_operation_outcome, scrub_parameters, sort_parameters,
                                            sort_value_set)
from termserver.conformance.r5_to_r4 import r4_to_r5, r5_to_r4

JsonObject = dict[str, Any]

#: ``../shared/tx-tests/tests`` beside the repository (the folder holding pyproject.toml), as config.py does
DEFAULT_TESTS_DIR = REPO_DATA.parent.parent / "shared" / "tx-tests" / "tests"
MANIFEST = "test-cases.json"
DEFAULT_PROFILE = "parameters-default.json"
USER_AGENT = "Tools/Java"  # TerminologyClientFactory.makeClient(..., "Tools/Java", ...)
TIMEOUT_SECONDS = 120.0


class RunnerError(Exception):
    """The run cannot be done: bad arguments, missing test files, or a server that cannot be reached."""


class ClientError(Exception):
    """``EFhirClientException``: the server answered with an error; ``outcome`` is its OperationOutcome (R5)."""

    def __init__(self, message: str, code: int, outcome: JsonObject | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.outcome = outcome


class TxTestError(Exception):
    """The test could not be compared (the Java runner's exception path): the test fails with this message."""


@dataclass
class TxTestResult:
    """One test: passed, failed (``reason`` says why) or skipped (``reason`` says why)."""

    suite: str
    name: str
    operation: str | None
    passed: bool
    skipped: bool = False
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    status: int | None = None
    expected_file: str | None = None
    actual: JsonObject | None = None

    @property
    def failed(self) -> bool:
        """Run and not passed."""
        return not self.passed and not self.skipped


@dataclass
class Report:
    """All results of a run, in manifest order."""

    server: str
    software: str
    fhir_version: str
    modes: tuple[str, ...]
    results: list[TxTestResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        """Tests that passed."""
        return sum(1 for r in self.results if r.passed)

    @property
    def failed(self) -> int:
        """Tests that ran and failed."""
        return sum(1 for r in self.results if r.failed)

    @property
    def skipped(self) -> int:
        """Tests not run (mode, FHIR version, disabled, filter)."""
        return sum(1 for r in self.results if r.skipped)

    def by_suite(self) -> list[tuple[str, int, int, int]]:
        """``(suite, passed, failed, skipped)`` per suite, in manifest order."""
        rows: dict[str, list[int]] = {}
        for r in self.results:
            row = rows.setdefault(r.suite, [0, 0, 0])
            row[0 if r.passed else 2 if r.skipped else 1] += 1
        return [(suite, p, f, k) for suite, (p, f, k) in rows.items()]

    def table(self) -> str:
        """The per-suite table, with a total row."""
        rows = [("suite", "passed", "failed", "skipped")]
        rows += [(s, str(p), str(f), str(k)) for s, p, f, k in self.by_suite()]
        rows.append(("total", str(self.passed), str(self.failed), str(self.skipped)))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row))
                 for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.insert(len(lines) - 1, lines[1])
        return "\n".join(lines)

    def summary(self) -> str:
        """The last line of a run."""
        return f"{self.passed} passed, {self.failed} failed"


# -- HTTP ------------------------------------------------------------------------------------------------------

class TerminologyClient:
    """``TerminologyClientR4``/``R5`` over ``FHIRToolingClient``: JSON, headers, the R4 <-> R5 conversion."""

    def __init__(self, base: str, fhir_version: str, timeout: float = TIMEOUT_SECONDS) -> None:
        self.base = base.rstrip("/")
        self.r5 = fhir_version.startswith(("5", "6"))
        self.format = "application/fhir+json; fhirVersion=" + ("5.0" if self.r5 else "4.0")
        self.timeout = timeout
        self.accept_language: str | None = None
        self.request_id: str | None = None
        self.extra_headers: list[tuple[str, str]] = []
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def actual_version(self) -> str:
        """``getActualVersion().toCode()``: the ``$version$`` of the expected files."""
        return "5.0.0" if self.r5 else "4.0.1"

    def to_server(self, resource: JsonObject) -> JsonObject:
        """A request resource (R5) in the server's FHIR version."""
        return resource if self.r5 else r5_to_r4(resource)

    def from_server(self, resource: JsonObject) -> JsonObject:
        """An answer in R5."""
        return resource if self.r5 else r4_to_r5(resource)

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Accept": self.format, "Accept-Charset": "utf-8", "User-Agent": USER_AGENT}
        if has_body:
            headers["Content-Type"] = self.format + ";charset=UTF-8"
        if self.accept_language:
            headers["Accept-Language"] = self.accept_language
        if self.request_id:
            headers["X-Request-Id"] = self.request_id
        for name, value in self.extra_headers:
            headers[name] = value
        return headers

    def http(self, method: str, url: str, body: JsonObject | None = None,
             headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
        """One request; any HTTP status is returned, a transport failure raises ``OSError``."""
        data = None if body is None else dump_json(body, indent=None).encode("utf-8")
        sent = dict(headers) if headers is not None else self._headers(data is not None)
        request = urllib.request.Request(url, data=data, method=method, headers=sent)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except http.client.HTTPException as exc:
            raise OSError(f"{type(exc).__name__}: {exc}") from exc

    def _resource(self, source: str, status: int, body: bytes) -> JsonObject:
        """``unmarshalReference``: parse; an error OperationOutcome, or any non-2xx answer, is a ClientError."""
        try:
            resource = parse_json(body)
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                raise ValueError("not a FHIR resource")
        except ValueError as exc:
            raise ClientError(f"Error parsing response message from {source} (HTTP {status}): {exc}: "
                              f"{body[:200]!r}", status) from exc
        resource = self.from_server(resource)
        is_outcome = resource["resourceType"] == "OperationOutcome"
        if is_outcome and any(i.get("severity") in ("error", "fatal") for i in resource.get("issue", [])
                              if isinstance(i, dict)):
            raise ClientError(f"Error from {source}: HTTP {status}", status, resource)
        if status // 100 != 2:
            if not is_outcome:
                raise ClientError(f"Server returned error code {status} from {source} with a "
                                  f"{resource['resourceType']}, not an OperationOutcome", status)
            raise ClientError(f"Server returned error code {status} from {source}", status, resource)
        return resource

    def post(self, path: str, resource: JsonObject) -> tuple[int, JsonObject]:
        """POST a resource to ``{base}/{path}``; the answer (R5) and its status."""
        url = f"{self.base}/{path}" if path else self.base
        status, body = self.http("POST", url, self.to_server(resource))
        return status, self._resource(path or "batch", status, body)

    def operate_type(self, resource_type: str, name: str, parameters: JsonObject) -> tuple[int, JsonObject]:
        """``FHIRToolingClient.operateType``: GET when all parameters are primitives, else POST; a non-Parameters
        answer is wrapped in a ``return`` parameter."""
        converted = self.to_server(parameters)
        params = converted.get("parameter", []) or []
        complex_ = any(primitive_value(p) is None for p in params)
        path = f"{resource_type}/${name}"
        if complex_:
            status, body = self.http("POST", f"{self.base}/{path}", converted)
        else:
            query = "".join(urllib.parse.urlencode({p.get("name", ""): primitive_value(p)},
                                                   quote_via=urllib.parse.quote) + "&" for p in params)
            status, body = self.http("GET", f"{self.base}/{path}?{query}")
        resource = self._resource(path, status, body)
        if resource["resourceType"] != "Parameters":
            resource = {"resourceType": "Parameters", "parameter": [{"name": "return", "resource": resource}]}
        return status, resource

    def read_metadata(self, query: str) -> JsonObject:
        """``GET {base}/metadata[?query]`` (R5); a ClientError when it is not a resource."""
        url = f"{self.base}/metadata" + (f"?{query}" if query else "")
        status, body = self.http("GET", url, headers={"Accept": self.format, "User-Agent": USER_AGENT})
        return self._resource("metadata" + (f"?{query}" if query else ""), status, body)


def detect_fhir_version(base: str, timeout: float = TIMEOUT_SECONDS) -> str:
    """``connectToServer``: ``$versions`` (default), else ``metadata`` fhirVersion, else ``4.0``."""
    client = TerminologyClient(base, "4.0", timeout)
    accept = {"Accept": "application/json, application/fhir+json", "User-Agent": USER_AGENT}
    nocache = int(time.time() * 1000)
    try:
        status, body = client.http("GET", f"{client.base}/$versions?_format=json&nocache={nocache}", headers=accept)
        versions = parse_json(body) if status // 100 == 2 else None
        if isinstance(versions, dict) and versions.get("resourceType") == "Parameters":
            for param in versions.get("parameter", []) or []:
                if isinstance(param, dict) and param.get("name") == "default" and param.get("valueString"):
                    return str(param["valueString"])
        elif isinstance(versions, dict) and versions.get("default"):
            return str(versions["default"])
    except (OSError, ValueError):
        pass
    try:
        status, body = client.http("GET", f"{client.base}/metadata?_format=json", headers=accept)
        statement = parse_json(body)
        if isinstance(statement, dict) and statement.get("fhirVersion"):
            return str(statement["fhirVersion"])
    except (OSError, ValueError):
        pass
    return "4.0"


# -- test selection --------------------------------------------------------------------------------------------

def _passes_modes(item: Mapping[str, Any], modes: Sequence[str]) -> bool:
    """``passesModes``: no mode, or one of ``modes``/``mode`` is on."""
    if isinstance(item.get("modes"), list) and any(m in modes for m in item["modes"]):
        return True
    if "mode" in item:
        return item["mode"] in modes
    return True


def _passes_version(item: Mapping[str, Any], fhir_version: str) -> bool:
    """``version``: ``4.0`` matches 4.0 and 4.0.x; ``!4.0`` everything else (testcases.md)."""
    wanted = item.get("version")
    if not isinstance(wanted, str):
        return True
    negate = wanted.startswith("!")
    wanted = wanted[1:] if negate else wanted
    match = fhir_version == wanted or fhir_version.startswith(wanted + ".")
    return match != negate


def _choose(test: Mapping[str, Any], name: str, modes: Sequence[str]) -> str | None:
    """``chooseParam``: ``name:mode`` for the first mode that has one, else ``name``."""
    for mode in modes:
        if f"{name}:{mode}" in test:
            return str(test[f"{name}:{mode}"])
    value = test.get(name)
    return None if value is None else str(value)


def _http_code_ok(expected: str, code: int) -> bool:
    """``httpCodeOk``: a status class (``4xx``) or, as testcases.md allows, an exact status.

    :raises TxTestError: on anything else (the Java throws ``unknown code string``).
    """
    if len(expected) == 3 and expected[0] in "2345" and expected[1:] == "xx":
        return code // 100 == int(expected[0])
    if expected.isdigit():
        return code == int(expected)
    raise TxTestError(f"unknown code string {expected}")


# -- the run ---------------------------------------------------------------------------------------------------

@dataclass
class _Run:
    tests_dir: Path
    client: TerminologyClient
    modes: tuple[str, ...]
    fhir_version: str
    externals: Mapping[str, Any] | None
    tight: bool
    capability_statement: JsonObject
    terminology_capabilities: JsonObject
    output: Path | None

    def load(self, name: str) -> Any:
        path = self.tests_dir / name
        try:
            return load_json(path)
        except OSError as exc:
            raise TxTestError(f"cannot read test file {name}: {exc}") from exc
        except ValueError as exc:
            raise TxTestError(f"test file {name} is not JSON: {exc}") from exc

    def variables(self) -> dict[str, str]:
        """``vars()``."""
        return {"version": self.client.actual_version}

    def run_test(self, suite: Mapping[str, Any], test: Mapping[str, Any], setup: list[JsonObject]) -> TxTestResult:
        """``runTest``: one test, counted; exceptions fail it with their message."""
        suite_name, name = str(suite.get("name")), str(test.get("name"))
        operation = test.get("operation")
        result = TxTestResult(suite_name, name, operation, passed=False)
        client = self.client
        client.request_id = f"txTests:{suite_name}/{name}"
        client.accept_language = test.get("Accept-Language")
        header = test.get("header")
        client.extra_headers = [(str(header["name"]), str(header["value"]))] \
            if isinstance(header, dict) and _passes_modes(header, self.modes) else []
        try:
            profile = self.load(str(test.get("profile") or DEFAULT_PROFILE))
            response_file = _choose(test, "response", self.modes)
            if response_file is None:
                raise TxTestError("the test has no response file")
            result.expected_file = response_file
            expected = self.load(response_file)
            alternative = self.load(str(test["response2"])) if test.get("response2") else None
            ext = self.externals.get(response_file) if self.externals is not None else None
            request_file = _choose(test, "request", self.modes)
            request = self.load(request_file) if request_file else None
            result.reason = self._run_operation(str(operation), test, setup, request, profile, expected,
                                                alternative, ext, result)
        except (TxTestError, ClientError, UnhandledTemplateError) as exc:
            result.reason = str(exc)
        except OSError as exc:
            result.reason = f"Exception: {exc}"
        finally:
            client.request_id, client.accept_language, client.extra_headers = None, None, []
        result.passed = result.reason is None
        if not result.passed and self.output is not None:
            self._write(result, suite_name, name)
        return result

    def _run_operation(self, operation: str, test: Mapping[str, Any], setup: list[JsonObject],
                       request: Any, profile: Any, expected: Any, alternative: Any, ext: Any,
                       result: TxTestResult) -> str | None:
        name = str(test.get("name"))
        if operation in ("metadata", "term-caps"):
            actual = copy.deepcopy(self.capability_statement if operation == "metadata"
                                   else self.terminology_capabilities)
            normalize(actual, self.tight)
            result.actual = actual
            comparer = JsonComparer(self.modes, ext, self.variables(), pattern_mode=True)
            diff = comparer.compare(name, expected, actual)
            result.warnings = comparer.warnings
            return diff
        if operation not in _OPERATIONS:
            raise TxTestError(f"Unknown Operation {operation}")
        if not isinstance(request, dict):
            raise TxTestError(f"the test has no request for operation {operation}")
        code, actual = _OPERATIONS[operation](self, copy.deepcopy(request), setup, profile, test)
        result.status, result.actual = code, actual
        comparer = JsonComparer(self.modes, ext, self.variables())
        diff = comparer.compare(name, expected, actual)
        matched_alternative = False
        if diff is not None and isinstance(alternative, dict):
            comparer = JsonComparer(self.modes, ext, self.variables())
            matched_alternative = comparer.compare(name, alternative, actual) is None
            diff = None if matched_alternative else diff
        result.warnings = comparer.warnings
        expected_code = test.get("http-code")
        if expected_code is None and matched_alternative:
            return diff  # response2 is an alternative outcome, error or not: no default 2xx check
        expected_code = "2xx" if expected_code is None else str(expected_code)
        if not _http_code_ok(expected_code, code):
            return f"Response Code fail: should be '{expected_code}' but is '{code}'"
        return diff

    def _write(self, result: TxTestResult, suite_name: str, name: str) -> None:
        assert self.output is not None
        folder = self.output / _safe(suite_name)
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / _safe(name)
        actual_text = dump_json(result.actual) if result.actual is not None else "null"
        stem.with_name(stem.name + ".json").write_text(actual_text + "\n", encoding="utf-8")
        lines = [f"test: {suite_name}/{name} ({result.operation})", f"expected: {result.expected_file}",
                 f"HTTP status: {result.status}", "", "reason:", result.reason or ""]
        if result.warnings:
            lines += ["", "warnings:"] + result.warnings
        if result.expected_file and result.actual is not None:
            try:
                expected_text = dump_json(load_json(self.tests_dir / result.expected_file), sort_keys=True)
            except (OSError, ValueError):
                expected_text = ""
            actual_text = dump_json(result.actual, sort_keys=True)
            lines += ["", "diff (expected file -> actual after conversion to R5, scrubbing and sorting; keys sorted):"]
            lines += difflib.unified_diff(expected_text.splitlines(), actual_text.splitlines(),
                                          result.expected_file, "actual", lineterm="")
        stem.with_name(stem.name + ".diff.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name) or "_"


# -- operations: TxTester.expand, validate, validateCS, lookup, translate, batchValidate, related, batch -------

def _with_setup_and_profile(request: JsonObject, setup: list[JsonObject], profile: Any) -> JsonObject:
    """The request's parameters, then the suite's setup as ``tx-resource``, then the profile's parameters."""
    params = request.setdefault("parameter", [])
    params.extend({"name": "tx-resource", "resource": copy.deepcopy(r)} for r in setup)
    if isinstance(profile, dict):
        params.extend(copy.deepcopy(profile.get("parameter", []) or []))
    return request


def _lenient_display(request: JsonObject, test: Mapping[str, Any]) -> None:
    """``lenient-display`` (testcases.md): sets the ``lenient-display-validation`` parameter."""
    if test.get("lenient-display"):
        request["parameter"].append({"name": "lenient-display-validation", "valueBoolean": True})


def _error_outcome(exc: ClientError, scrub: str, tight: bool) -> JsonObject:
    """The error branch: the server's OperationOutcome, scrubbed as the operation's Java method does."""
    if exc.outcome is None:
        raise TxTestError(str(exc))
    outcome = exc.outcome
    if scrub in ("outcome", "outcome-no-text"):
        scrub_operation_outcome(outcome, tight)
    if scrub in ("outcome-no-text", "no-text"):
        outcome.pop("text", None)
    return outcome


def _parameters_operation(path: str, scrub: str, via_operate_type: bool = False, lenient: bool = False
                          ) -> Callable[[_Run, JsonObject, list[JsonObject], Any, Mapping[str, Any]],
                                        tuple[int, JsonObject]]:
    """An operation answering Parameters: lookup, translate, (cs-)validate-code, batch-validate, compare."""
    def run(run: _Run, request: JsonObject, setup: list[JsonObject], profile: Any,
            test: Mapping[str, Any]) -> tuple[int, JsonObject]:
        request = _with_setup_and_profile(request, setup, profile)
        if lenient:
            _lenient_display(request, test)
        try:
            if via_operate_type:
                resource_type, name = path.split("/$")
                status, answer = run.client.operate_type(resource_type, name, request)
            else:
                status, answer = run.client.post(path, request)
        except ClientError as exc:
            return exc.code, _error_outcome(exc, scrub, run.tight)
        if answer.get("resourceType") != "Parameters":
            raise TxTestError(f"{path} returned a {answer.get('resourceType')}, not a Parameters (HTTP {status})")
        scrub_parameters(answer, run.tight)
        sort_parameters(answer)
        return status, answer
    return run


_URI_TYPES = ("valueUri", "valueUrl", "valueCanonical", "valueOid", "valueUuid")


def _expand(run: _Run, request: JsonObject, setup: list[JsonObject], profile: Any,
            test: Mapping[str, Any]) -> tuple[int, JsonObject]:
    """``TxTester.expand``."""
    params = request.setdefault("parameter", [])
    params.extend({"name": "tx-resource", "resource": copy.deepcopy(r)} for r in setup)
    for param in params:
        # hasValueUriType(): url, canonical, oid and uuid are UriType subclasses in the Java model
        if param.get("name") == "url" and not any(k in param for k in _URI_TYPES):
            raise TxTestError("Wrong param type")
    if isinstance(profile, dict):
        params.extend(copy.deepcopy(profile.get("parameter", []) or []))
    try:
        status, answer = run.client.post("ValueSet/$expand", request)
    except ClientError as exc:
        return exc.code, _error_outcome(exc, "outcome", run.tight)
    if answer.get("resourceType") != "ValueSet":
        raise TxTestError(f"ValueSet/$expand returned a {answer.get('resourceType')}, not a ValueSet (HTTP {status})")
    scrub_domain_resource(answer, run.tight)
    sort_value_set(answer)
    return status, answer


def _batch(run: _Run, request: JsonObject, setup: list[JsonObject], profile: Any,
           test: Mapping[str, Any]) -> tuple[int, JsonObject]:
    """``TxTester.batch``: a Bundle of Parameters; setup goes into the first entry, the profile into each."""
    entries = request.get("entry", []) or []
    if entries and isinstance(entries[0].get("resource"), dict):
        first = entries[0]["resource"].setdefault("parameter", [])
        first.extend({"name": "tx-resource", "resource": copy.deepcopy(r)} for r in setup)
    for entry in entries:
        if isinstance(entry.get("resource"), dict) and isinstance(profile, dict):
            entry["resource"].setdefault("parameter", []).extend(copy.deepcopy(profile.get("parameter", []) or []))
    try:
        status, answer = run.client.post("", request)
    except ClientError as exc:
        return exc.code, _error_outcome(exc, "outcome", run.tight)
    for entry in answer.get("entry", []) or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Parameters":
            scrub_parameters(resource, run.tight)
            sort_parameters(resource)
        elif isinstance(resource, dict) and resource.get("resourceType") == "OperationOutcome":
            scrub_operation_outcome(resource, run.tight)
    return status, answer


_Operation = Callable[[_Run, JsonObject, list[JsonObject], Any, Mapping[str, Any]], tuple[int, JsonObject]]

#: every ``operation`` of test-cases.json, with the endpoint and the error-outcome scrubbing of its Java method
_OPERATIONS: dict[str, _Operation] = {
    "expand": _expand,
    "validate-code": _parameters_operation("ValueSet/$validate-code", "outcome-no-text", via_operate_type=True,
                                           lenient=True),
    "cs-validate-code": _parameters_operation("CodeSystem/$validate-code", "no-text", via_operate_type=True,
                                              lenient=True),
    "lookup": _parameters_operation("CodeSystem/$lookup", "outcome"),
    "translate": _parameters_operation("ConceptMap/$translate", "outcome"),
    "batch-validate": _parameters_operation("ValueSet/$batch-validate-code", "outcome-no-text"),
    "related": _parameters_operation("ValueSet/$related", "outcome-no-text"),
    "compare": _parameters_operation("ValueSet/$compare", "outcome-no-text"),
    "batch": _batch,
}


def _connect(base_url: str, timeout: float) -> tuple[TerminologyClient, str, JsonObject, JsonObject]:
    """``connectToServer`` + ``checkClient``: the client, the FHIR version and the two capability resources.

    :raises RunnerError: when the server cannot be reached or does not answer /metadata.
    """
    fhir_version = detect_fhir_version(base_url, timeout)
    if not fhir_version.startswith(("4", "5", "6")):
        raise RunnerError(f"unsupported FHIR Version for terminology tests: {fhir_version}")
    client = TerminologyClient(base_url, fhir_version, timeout)
    try:
        statement = client.read_metadata("")
        capabilities = client.read_metadata("mode=terminology")
    except OSError as exc:
        raise RunnerError(f"cannot reach {base_url}: {exc}") from exc
    except ClientError as exc:
        raise RunnerError(f"Error fetching the server's capabilities from {base_url}: {exc}") from exc
    return client, fhir_version, statement, capabilities


def _software(statement: JsonObject, base_url: str) -> str:
    software = statement.get("software")
    if isinstance(software, dict) and software.get("name"):
        return f"{software.get('name')} v{software.get('version')}"
    return base_url


def load_manifest(tests_dir: Path) -> JsonObject:
    """``test-cases.json`` of ``tests_dir``.

    :raises RunnerError: when it is missing or not JSON.
    """
    try:
        manifest = load_json(tests_dir / MANIFEST)
    except (OSError, ValueError) as exc:
        raise RunnerError(f"cannot read {tests_dir / MANIFEST}: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("suites"), list):
        raise RunnerError(f"{tests_dir / MANIFEST} has no 'suites'")
    return manifest


def run_tests(base_url: str, tests_dir: Path | str = DEFAULT_TESTS_DIR, suites: Iterable[str] | None = None,
              modes: Iterable[str] = ("general",), output: Path | str | None = None, filter: str | None = None,
              *, externals: Path | str | None = None, tight: bool = True, timeout: float = TIMEOUT_SECONDS,
              progress: Callable[[TxTestResult], None] | None = None) -> Report:
    """Run the tests of ``tests_dir`` against the FHIR base ``base_url`` and return every test's result.

    ``suites`` limits the run to those suites, ``modes`` are the runner's modes (a suite or test with another
    mode is skipped), ``filter`` keeps the tests whose name contains it, ``output`` receives
    ``<suite>/<test>.json`` and ``.diff.txt`` for each failure, ``externals`` is a messages file
    (``$external:N$``). ``tight`` keeps every extension (the scrubber's tight mode).

    :raises RunnerError: on bad arguments, unreadable test files or a server that cannot be reached.
    """
    tests_dir = Path(tests_dir)
    manifest = load_manifest(tests_dir)
    all_suites = [s for s in manifest["suites"] if isinstance(s, dict)]
    wanted = None if suites is None else list(suites)
    if wanted:
        unknown = sorted(set(wanted) - {str(s.get("name")) for s in all_suites})
        if unknown:
            raise RunnerError(f"unknown suite(s): {', '.join(unknown)}")
    externals_json = None
    if externals is not None:
        try:
            externals_json = load_json(Path(externals))
        except (OSError, ValueError) as exc:
            raise RunnerError(f"cannot read externals file {externals}: {exc}") from exc
    modes_tuple = tuple(modes)
    client, fhir_version, statement, capabilities = _connect(base_url, timeout)
    out_dir = Path(output) if output is not None else None
    run = _Run(tests_dir, client, modes_tuple, fhir_version, externals_json, tight, statement, capabilities, out_dir)
    report = Report(base_url, _software(statement, base_url), fhir_version, modes_tuple)
    for suite in all_suites:
        suite_name = str(suite.get("name"))
        if wanted and suite_name not in wanted:
            continue
        tests = [t for t in suite.get("tests", []) or [] if isinstance(t, dict)]
        suite_skip = _skip_reason(suite, modes_tuple, fhir_version, "suite")
        setup: list[JsonObject] | str | None = None
        for test in tests:
            reason = suite_skip or _skip_reason(test, modes_tuple, fhir_version, "test")
            if reason is None and filter and filter != "*" and filter not in str(test.get("name")):
                reason = f"name does not contain '{filter}'"
            if reason is not None:
                result = TxTestResult(suite_name, str(test.get("name")), test.get("operation"), passed=False,
                                    skipped=True, reason=reason)
            else:
                if setup is None:
                    setup = _load_setup(run, suite)
                if isinstance(setup, str):
                    result = TxTestResult(suite_name, str(test.get("name")), test.get("operation"), passed=False,
                                        reason=setup)
                else:
                    result = run.run_test(suite, test, setup)
            report.results.append(result)
            if progress is not None:
                progress(result)
    return report


def _load_setup(run: _Run, suite: Mapping[str, Any]) -> list[JsonObject] | str:
    """The suite's setup resources, or why they cannot be loaded (the Java aborts the whole run there; this
    fails the suite's tests instead)."""
    try:
        return [run.load(str(f)) for f in suite.get("setup", []) or []]
    except TxTestError as exc:
        return f"suite setup: {exc}"


def _skip_reason(item: Mapping[str, Any], modes: Sequence[str], fhir_version: str, what: str) -> str | None:
    if not _passes_modes(item, modes):
        mode = item.get("mode") or item.get("modes")
        return f"{what} mode {mode} is not on (modes: {', '.join(modes)})"
    if not _passes_version(item, fhir_version):
        return f"{what} is for FHIR version {item.get('version')}, the server is {fhir_version}"
    if item.get("disabled") is True:
        return f"{what} is disabled"
    return None
