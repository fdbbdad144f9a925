"""Bad input: every file in bad_inputs/ (and a few generated ones too big to commit) POSTed to every operation
route, and bad query strings sent with GET, over real HTTP.

Each is answered by a 4xx OperationOutcome, or by a 200 where the input is odd but legal (an unknown or SQL-looking
code is just a code that is not there: ``$validate-code`` says result=false, ``$lookup`` 404); the table says which.
Never a 5xx, never a stack trace or SQL in the answer, and the server still answers rightly afterwards.
"""
from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.conftest import ICPC_OID, LiveServer

pytestmark = pytest.mark.reliability

BAD_INPUTS = Path(__file__).resolve().parent / "bad_inputs"
ROUTES = {
    "lookup": "/fhir/CodeSystem/$lookup",
    "cs-validate": "/fhir/CodeSystem/$validate-code",
    "subsumes": "/fhir/CodeSystem/$subsumes",
    "expand": "/fhir/ValueSet/$expand",
    "vs-validate": "/fhir/ValueSet/$validate-code",
    "translate": "/fhir/ConceptMap/$translate",
    "batch": "/fhir",
    "vs-batch-validate": "/fhir/ValueSet/$batch-validate-code",
    "cs-batch-validate": "/fhir/CodeSystem/$batch-validate-code",
    "validate-codes": "/fhir/$validate-codes",
    "versions": "/fhir/$versions",
}
# 200 True / 200 False: a Parameters ($validate-code, $translate) with that result; 200: any 200 FHIR resource
OK_TRUE, OK_FALSE, OK = "200 result=true", "200 result=false", "200"
# an unknown code, however odd, is legal input: $validate-code says false, $lookup and $translate 404 (not found);
# $expand ignores a 'code'; $versions reads no parameters, so it ignores whatever else is sent
UNKNOWN_CODE = {"lookup": 404, "cs-validate": OK_FALSE, "translate": 404, "versions": OK}
# what each input gets on each route; a route not named answers 400 (invalid)
EXPECTED: dict[str, dict[str, Any]] = {
    "bare-string.json": {},
    "coding-without-value.json": {"versions": OK},
    "invalid-utf8.json": {},
    "lone-surrogate.json": {"versions": OK},
    "malformed-single-quotes.json": {},
    "malformed-trailing-garbage.json": {},
    "malformed-truncated.json": {},
    "no-resource-type.json": {},
    "not-an-object.json": {},
    "nul-escaped.json": {"versions": OK},
    "nul-raw.json": {},
    "sql-looking-code-known-system.json": UNKNOWN_CODE,
    "sql-looking-strings.json": UNKNOWN_CODE,
    # unknown parameters are ignored, as FHIR servers do: the known ones are answered (the value set routes lack
    # their 'url'; the GET cases below send unknown parameters to them with one)
    "unknown-parameters.json": {"lookup": OK, "cs-validate": OK_TRUE, "translate": OK_FALSE, "versions": OK},
    "wrong-resource-type.json": {"validate-codes": OK},  # it checks the codings of any resource: a Patient has none
    "wrong-types-parameter-entries.json": {},
    "wrong-types-parameter-not-list.json": {},
    "wrong-types-values.json": {},
}
LEAKS = ("Traceback", "File \"", "sqlalchemy", "psycopg", "sqlite3", "SELECT ", "INSERT ", "site-packages")


def parameters(*items: tuple[str, str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": n, k: v} for n, k, v in items]}


def generated_inputs() -> dict[str, tuple[bytes, dict[str, Any]]]:
    """Inputs too big to commit, built here: (body, expected per route as in EXPECTED)."""
    code_100k = parameters(("url", "valueUri", f"{ICPC_OID}?fhir_vs"), ("system", "valueUri", ICPC_OID),
                           ("code", "valueCode", "K" * 100_000))
    deep_object = ('{"resourceType": "Parameters", "parameter": [{"name": "x", "resource": '
                   + '{"a": ' * 10_000 + "1" + "}" * 10_000 + "}]}")
    deep_list = '{"resourceType": "Parameters", "parameter": ' + "[" * 10_000 + "]" * 10_000 + "}"
    return {
        "code-100kB": (json.dumps(code_100k).encode(), {**UNKNOWN_CODE, "expand": OK, "vs-validate": OK_FALSE}),
        "nesting-10000-object": (deep_object.encode(), {}),
        "nesting-10000-list": (deep_list.encode(), {}),
    }


def send(server: LiveServer, method: str, path: str, body: bytes | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body); a server that answers before reading a big body may close the connection on
    the rest of it, which is fine as long as it answered."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=120)
    try:
        try:
            connection.request(method, path, body=body,
                               headers={"Content-Type": "application/fhir+json"} if body is not None else {})
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def check_answer(label: str, status: int, content_type: str, raw: bytes, expected: Any) -> None:
    assert status < 500, f"{label}: {status} {raw[:500]!r}"
    assert content_type.startswith("application/fhir+json"), f"{label}: {content_type}"
    text = raw.decode("utf-8")
    for leak in LEAKS:
        assert leak not in text, f"{label}: the answer shows {leak!r}: {text[:500]}"
    body = json.loads(text)
    if isinstance(expected, int):
        assert status == expected, f"{label}: expected {expected}, got {status}: {text[:500]}"
        assert 400 <= status < 500
        assert body["resourceType"] == "OperationOutcome", f"{label}: {text[:300]}"
        assert any(i["severity"] in ("error", "fatal") for i in body["issue"]), f"{label}: {text[:300]}"
        return
    assert status == 200, f"{label}: expected {expected}, got {status}: {text[:500]}"
    if expected in (OK_TRUE, OK_FALSE):
        assert body["resourceType"] == "Parameters"
        result = next(p["valueBoolean"] for p in body["parameter"] if p["name"] == "result")
        assert result is (expected == OK_TRUE), f"{label}: {text[:500]}"


def assert_healthy(server: LiveServer) -> None:
    """Metadata answers, and a known-good $validate-code is still right."""
    status, _, _ = send(server, "GET", "/fhir/metadata")
    assert status == 200
    status, body = server.json("GET", f"/fhir/CodeSystem/$validate-code?system={ICPC_OID}&code=K31")
    assert status == 200
    assert next(p["valueBoolean"] for p in body["parameter"] if p["name"] == "result") is True
    status, body = server.json("GET", f"/fhir/CodeSystem/$validate-code?system={ICPC_OID}&code=K31"
                                      f"&display=Blodtryksm%C3%A5ling%20og%20hjerteunders%C3%B8gelse")
    assert next(p["valueBoolean"] for p in body["parameter"] if p["name"] == "result") is True


def test_the_corpus_has_an_expectation_for_every_file() -> None:
    assert sorted(p.name for p in BAD_INPUTS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_file_on_every_route(live_server: LiveServer, name: str) -> None:
    body = (BAD_INPUTS / name).read_bytes()
    for route, path in ROUTES.items():
        status, content_type, raw = send(live_server, "POST", path, body)
        check_answer(f"{name} → POST {path}", status, content_type, raw, EXPECTED[name].get(route, 400))
    assert_healthy(live_server)


@pytest.mark.parametrize("name", sorted(generated_inputs()))
def test_generated_input_on_every_route(live_server: LiveServer, name: str) -> None:
    body, expected = generated_inputs()[name]
    for route, path in ROUTES.items():
        status, content_type, raw = send(live_server, "POST", path, body)
        check_answer(f"{name} → POST {path}", status, content_type, raw, expected.get(route, 400))
    assert_healthy(live_server)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_20_MB_body_is_refused_as_too_costly(live_server: LiveServer, route: str) -> None:
    """Over the 10 MB default of TERMSERVER_MAX_BODY_BYTES: 413 with issue code too-costly, before it is parsed."""
    filler = "x" * (20 * 1024 * 1024)
    body = json.dumps(parameters(("system", "valueUri", ICPC_OID), ("code", "valueCode", "K31"),
                                 ("display", "valueString", filler))).encode()
    status, content_type, raw = send(live_server, "POST", ROUTES[route], body)
    check_answer(f"20 MB → POST {ROUTES[route]}", status, content_type, raw, 413)
    assert json.loads(raw)["issue"][0]["code"] == "too-costly"
    assert_healthy(live_server)


GET_ROUTES = {"lookup": "/fhir/CodeSystem/$lookup", "cs-validate": "/fhir/CodeSystem/$validate-code",
              "vs-validate": "/fhir/ValueSet/$validate-code", "translate": "/fhir/ConceptMap/$translate",
              "expand": "/fhir/ValueSet/$expand", "subsumes": "/fhir/CodeSystem/$subsumes"}
# what each GET route is sent before the case's own parameters: the value set routes name the implicit value set
GET_PREFIX = {"lookup": f"system={ICPC_OID}", "cs-validate": f"system={ICPC_OID}", "translate": f"system={ICPC_OID}",
              "subsumes": f"system={ICPC_OID}", "vs-validate": f"url={ICPC_OID}?fhir_vs&system={ICPC_OID}",
              "expand": f"url={ICPC_OID}?fhir_vs"}
# $expand does not read 'code'; $subsumes needs codeA/codeB, so a lone 'code' is a 400 there
UNKNOWN_CODE_GET = {"lookup": 404, "cs-validate": OK_FALSE, "vs-validate": OK_FALSE, "translate": 404,
                    "expand": OK, "subsumes": 400}
# a known code with no map loaded: $translate says result=false
KNOWN_CODE_GET = {"lookup": OK, "cs-validate": OK_TRUE, "vs-validate": OK_TRUE, "translate": OK_FALSE, "expand": OK,
                  "subsumes": 400}
# query string → expected per GET route
GET_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "NUL byte": ("code=K%0031", {**{r: 400 for r in GET_ROUTES}, "expand": OK}),
    # only $expand reads 'filter'; the others ignore it, NUL and all
    "NUL in filter": ("code=K31&filter=blod%00tryk", {**KNOWN_CODE_GET, "expand": 400}),
    # werkzeug decodes a query string leniently (invalid UTF-8 becomes U+FFFD): an unknown code, not an error
    "invalid UTF-8": ("code=%FF%FE31", UNKNOWN_CODE_GET),
    "encoded surrogate": ("code=%ED%A0%80", UNKNOWN_CODE_GET),
    "SQL-looking code": ("code=%27%20OR%201%3D1%20--", UNKNOWN_CODE_GET),
    "SQL-looking display": ("code=K31&display=x%27)%3B%20DROP%20TABLE%20concept%3B%20--",
                            {**KNOWN_CODE_GET, "cs-validate": OK_FALSE, "vs-validate": OK_FALSE}),
    "SQL-looking filter": ("code=K31&filter=%27%3B%20DROP%20TABLE%20concept%3B%20--", KNOWN_CODE_GET),
    "8 kB code": ("code=" + "K" * 8_000, UNKNOWN_CODE_GET),
    "unknown parameters": ("code=K31&frobnicate=1&x-unknown=%27", KNOWN_CODE_GET),
}


@pytest.mark.parametrize("case", sorted(GET_CASES))
def test_bad_query_string_on_every_get_route(live_server: LiveServer, case: str) -> None:
    query, expected = GET_CASES[case]
    for route, path in GET_ROUTES.items():
        status, content_type, raw = send(live_server, "GET", f"{path}?{GET_PREFIX[route]}&{query}")
        check_answer(f"{case} → GET {path}", status, content_type, raw, expected[route])
    assert_healthy(live_server)


def test_a_100_kB_code_in_a_url_is_refused_by_the_http_server(live_server: LiveServer) -> None:
    """No HTTP server takes a 100 kB request line (werkzeug: 414; gunicorn's limit is 4,094 bytes: 400): that
    refusal comes from the HTTP layer, before the app, so it is not an OperationOutcome. POST carries big codes."""
    for path in GET_ROUTES.values():
        status, _, _ = send(live_server, "GET", f"{path}?system={ICPC_OID}&code=" + "K" * 100_000)
        assert status in (400, 414)
    assert_healthy(live_server)


def test_the_database_still_holds_every_concept_after_the_sql_looking_input(live_server: LiveServer) -> None:
    """'; DROP TABLE concept' went in as a parameter everywhere above: the concepts are still all there."""
    for name in ("sql-looking-strings.json", "sql-looking-code-known-system.json"):
        for path in ROUTES.values():
            send(live_server, "POST", path, (BAD_INPUTS / name).read_bytes())
    status, body = live_server.json("GET", f"/fhir/ValueSet/$expand?url={ICPC_OID}?fhir_vs")
    assert status == 200
    assert body["expansion"]["total"] == 11
    assert_healthy(live_server)
