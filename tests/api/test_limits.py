"""Request limits (body size, JSON depth, query time), bad bytes, request ids, access logs, CORS, and a store that
fails under a request: each a 4xx or 503 OperationOutcome, never a 500."""
from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from termserver.api import json_nesting_exceeds
from termserver.db import is_query_timeout, make_engine
from termserver.observability import JsonLogFormatter
from tests.api.fhir_check import check_outcome, check_resource, check_response
from tests.api.test_error_shape import ROUTES, concrete_paths
from tests.conftest import make_test_database_url

ICPC2 = "http://hl7.org/fhir/sid/icpc-2"
POST_PATHS = [path for rule, methods in ROUTES.items() if "POST" in methods for path in concrete_paths(rule)]


def check_unavailable(response: Any, status: int, issue_code: str, mentions: list[str]) -> dict[str, Any]:
    """A 5xx answer: still FHIR JSON, an OperationOutcome whose first issue has ``issue_code`` and names
    ``mentions``, and nothing of a traceback."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/fhir+json"
    issue = check_resource(response.get_json(), "OperationOutcome")["issue"][0]
    assert (issue["severity"], issue["code"]) == ("error", issue_code), issue
    for fragment in mentions:
        assert fragment in issue["details"]["text"], issue
    assert "Traceback" not in response.get_data(as_text=True)
    return issue


def lookup_body(code: str = "K86") -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "system", "valueUri": ICPC2},
                                                        {"name": "code", "valueCode": code}]}


@pytest.fixture(scope="module")
def make_app(tmp_path_factory):
    """Build an app with extra settings on a fresh, empty store (of the kind the suite runs on)."""
    from termserver import create_app

    built = []

    def make(**settings: Any):
        url = make_test_database_url(tmp_path_factory, "limits")
        application = create_app({"DATABASE_URL": url, "LOG_LEVEL": "WARNING", **settings})
        built.append(application)
        return application

    yield make
    for application in built:
        application.extensions["termserver.engine"].dispose()


# --- body size --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/fhir/CodeSystem/$lookup", "/fhir", "/fhir/$validate-codes"])
def test_a_20_mb_body_is_413(client, path):
    response = client.post(path, data=b" " * (20 * 1024 * 1024), content_type="application/fhir+json")
    check_outcome(response, 413, "too-costly", ["10,485,760", "TERMSERVER_MAX_BODY_BYTES"])


def test_the_body_limit_is_a_setting(make_app):
    client = make_app(MAX_BODY_BYTES=1000).test_client()
    check_outcome(client.post("/fhir/$versions", data=b" " * 1001, content_type="application/fhir+json"), 413,
                  "too-costly", ["1,000"])
    assert client.post("/fhir/$versions", data=b" " * 1000, content_type="application/fhir+json").status_code == 200


# --- JSON depth -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("shape", ["array", "object"])
def test_10000_deep_json_is_400_on_every_post_route(client, path, shape):
    body = "[" * 10_000 + "]" * 10_000 if shape == "array" else '{"a":' * 10_000 + "1" + "}" * 10_000
    response = client.post(path, data=body, content_type="application/fhir+json")
    check_outcome(response, 400, "invalid", ["deeper than 100", "TERMSERVER_JSON_MAX_DEPTH"])


def test_deep_nesting_inside_a_parameter_is_400(client):
    body = lookup_body()
    body["parameter"].append({"name": "tx-resource", "resource": json.loads('{"a":' * 150 + "1" + "}" * 150)})
    check_outcome(client.post("/fhir/CodeSystem/$lookup", json=body), 400, "invalid", ["deeper than 100"])


def test_brackets_inside_strings_do_not_count(client):
    response = client.post("/fhir/CodeSystem/$lookup", json=lookup_body("[{" * 500))
    assert response.status_code == 404  # an unknown code, not a nesting error
    assert "deeper" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("data", "limit", "exceeds"), [
    (b"[]", 1, False),
    (b"[[]]", 1, True),
    (b'{"a": [1, {"b": [2]}]}', 4, False),
    (b'{"a": [1, {"b": [2]}]}', 3, True),
    (b'["[[[[[[", "{{{{{{{"]', 1, False),  # inside strings
    (b'["\\"[[[[[["]', 1, False),  # an escaped quote does not end the string
    (b"[" * 100_000, 100, True),
    (b"[" * 100 + b"]" * 100, 100, False),
    ("[\"æøå\u0000\", [\"[\"]]".encode(), 2, False),
    (b"\xff\xfe[[[", 2, True),  # not UTF-8: scanned all the same
])
def test_json_nesting_exceeds(data, limit, exceeds):
    assert json_nesting_exceeds(data, limit) is exceeds


# --- bad bytes --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "method", "path", "kwargs", "status"), [
    ("nul-byte-in-json", "POST", "/fhir/CodeSystem/$lookup",
     {"data": b'{"resourceType": "Parameters", "parameter": [{"name": "code", "valueCode": "K8\x006"}]}'}, 400),
    ("escaped-nul-in-json", "POST", "/fhir/CodeSystem/$lookup",
     {"data": json.dumps(lookup_body("K8\u00006")).encode()}, 400),
    ("invalid-utf8", "POST", "/fhir/CodeSystem/$lookup", {"data": b'{"resourceType": "Param\xff\xfeters"}'}, 400),
    ("invalid-utf8-batch", "POST", "/fhir", {"data": b'{"resourceType": "Bundle\xc3"}'}, 400),
    ("nul-in-query", "GET", "/fhir/CodeSystem/$lookup", {"query_string": f"system={ICPC2}&code=K8%006"}, 400),
    ("nul-in-path", "GET", "/fhir/CodeSystem/icpc%00-2-7.0", {}, 404),
    ("nul-in-instance-path", "GET", "/fhir/ValueSet/a%00b/$expand", {}, 404),
])
def test_nul_bytes_and_invalid_utf8_are_4xx(client, name, method, path, kwargs, status):
    kwargs.setdefault("content_type", "application/fhir+json") if method == "POST" else None
    check_outcome(client.open(path, method=method, **kwargs), status)


# --- request ids ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/fhir/metadata", 200),
    ("GET", "/fhir/nothing-here", 404),
    ("DELETE", "/fhir/metadata", 405),
    ("GET", "/fhir/CodeSystem/$lookup", 400),
])
def test_a_well_formed_request_id_is_echoed(client, method, path, status):
    response = client.open(path, method=method, headers={"X-Request-Id": "kiap-42.a:b/c"})
    assert response.status_code == status
    assert response.headers["X-Request-Id"] == "kiap-42.a:b/c"


@pytest.mark.parametrize("given", [None, "", "x" * 129, "has space", "quote\"d", "æøå", "a\tb"])
def test_a_missing_or_unsafe_request_id_is_replaced(client, given):
    headers = {} if given is None else {"X-Request-Id": given}
    response = client.get("/fhir/metadata", headers=headers)
    made = response.headers["X-Request-Id"]
    assert made and made != given and len(made) == 32 and made.isalnum()
    assert response.headers.getlist("X-Request-Id") == [made]


def test_error_responses_carry_the_request_id(client, monkeypatch):
    from termserver.services import codesystems

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(codesystems, "lookup_code", broken)
    response = client.get("/fhir/CodeSystem/$lookup", query_string={"system": ICPC2, "code": "K86"},
                          headers={"X-Request-Id": "failing-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-Id"] == "failing-1"
    response = client.post("/fhir/CodeSystem/$lookup", data=b" " * (11 * 1024 * 1024),
                           content_type="application/fhir+json", headers={"X-Request-Id": "big-1"})
    assert (response.status_code, response.headers["X-Request-Id"]) == (413, "big-1")


# --- access log -------------------------------------------------------------------------------------------------

def test_one_access_line_per_request_with_its_fields(client, caplog):
    with caplog.at_level(logging.INFO, logger="termserver.access"):
        response = client.get("/fhir/CodeSystem/$lookup", query_string={"system": ICPC2, "code": "K86"},
                              headers={"X-Request-Id": "log-1"})
    [record] = [r for r in caplog.records if r.name == "termserver.access"]
    fields = record.access
    assert fields["request_id"] == "log-1"
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/fhir/CodeSystem/$lookup", 200)
    assert fields["operation"] == "codesystem.lookup"
    assert fields["bytes"] == len(response.get_data()) > 0
    assert fields["duration_ms"] > 0
    line = json.loads(JsonLogFormatter().format(record))
    assert {"time", "request_id", "method", "path", "status", "duration_ms", "operation", "bytes"} <= line.keys()
    assert line["request_id"] == "log-1"


def test_a_batch_is_one_access_line(client, caplog):
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"CodeSystem/$lookup?system={ICPC2}&code={code}"}}
        for code in ("K86", "K87", "K88")]}
    with caplog.at_level(logging.INFO, logger="termserver.access"):
        assert client.post("/fhir", json=bundle).status_code == 200
    assert [r.access["operation"] for r in caplog.records if r.name == "termserver.access"] == ["bundle.batch_bundle"]


def test_json_log_lines_carry_the_request_id_of_the_request(app):
    with app.test_request_context("/fhir/metadata", environ_base={"termserver.request_id": "ctx-7"}):
        record = logging.LogRecord("termserver", logging.WARNING, __file__, 1, "something %s", ("odd",), None)
        line = json.loads(JsonLogFormatter().format(record))
    assert (line["message"], line["request_id"], line["level"]) == ("something odd", "ctx-7", "WARNING")


def test_log_format_is_checked():
    from termserver.config import load_settings

    assert load_settings(environ={"TERMSERVER_LOG_FORMAT": "JSON"})["LOG_FORMAT"] == "json"
    with pytest.raises(ValueError, match="TERMSERVER_LOG_FORMAT"):
        load_settings(environ={"TERMSERVER_LOG_FORMAT": "xml"})


# --- CORS -------------------------------------------------------------------------------------------------------

def test_no_cors_headers_by_default(client):
    response = client.get("/fhir/metadata", headers={"Origin": "https://elaering.kiap.dk"})
    assert not [h for h in response.headers.keys() if h.lower().startswith("access-control-")]


@pytest.fixture(scope="module")
def cors_client(make_app):
    return make_app(CORS_ORIGINS="https://elaering.kiap.dk, https://test.kiap.dk").test_client()


def test_cors_for_a_listed_origin(cors_client):
    response = cors_client.get("/fhir/metadata", headers={"Origin": "https://elaering.kiap.dk"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://elaering.kiap.dk"
    assert "Origin" in response.headers["Vary"]
    assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]


def test_no_cors_for_another_origin(cors_client):
    response = cors_client.get("/fhir/metadata", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("path", ["/fhir/ValueSet/$expand", "/fhir/CodeSystem/$lookup", "/fhir",
                                  "/fhir/ValueSet/some-id/$validate-code", "/api/search"])
def test_preflight_on_fhir_routes(cors_client, path):
    response = cors_client.options(path, headers={"Origin": "https://test.kiap.dk",
                                                  "Access-Control-Request-Method": "POST",
                                                  "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://test.kiap.dk"
    methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    rule = "/fhir/ValueSet/<resource_id>/$validate-code" if "some-id" in path else path
    assert methods >= ROUTES[rule]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_cors_on_errors_too(cors_client):
    response = cors_client.get("/fhir/CodeSystem/$lookup", headers={"Origin": "https://test.kiap.dk"})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "https://test.kiap.dk"


def test_cors_any_origin(make_app):
    response = make_app(CORS_ORIGINS="*").test_client().get("/healthz", headers={"Origin": "https://x.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# --- the store failing under a request --------------------------------------------------------------------------

def _raising(error: BaseException):
    def fail(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("SELECT ...", {}, error)
    return fail


def test_an_unreachable_store_is_503_transient_with_retry_after(client, monkeypatch):
    from termserver.services import codesystems

    monkeypatch.setattr(codesystems, "lookup_code", _raising(ConnectionRefusedError("secret-host:5432 refused")))
    response = client.get("/fhir/CodeSystem/$lookup", query_string={"system": ICPC2, "code": "K86"})
    issue = check_unavailable(response, 503, "transient",
                              ["The terminology store is not reachable; try again shortly"])
    assert int(response.headers["Retry-After"]) > 0
    assert "secret" not in json.dumps(issue)
    monkeypatch.undo()
    assert client.get("/fhir/CodeSystem/$lookup", query_string={"system": ICPC2, "code": "K86"}).status_code == 200


def test_a_stopped_query_is_503_too_costly(client, monkeypatch):
    from termserver.services import codesystems

    monkeypatch.setattr(codesystems, "lookup_code", _raising(sqlite3.OperationalError("interrupted")))
    response = client.get("/fhir/CodeSystem/$lookup", query_string={"system": ICPC2, "code": "K86"})
    check_unavailable(response, 503, "too-costly", ["10 s", "TERMSERVER_QUERY_TIMEOUT_SECONDS"])


def _slow_statement(dialect: str) -> str:
    if dialect == "postgresql":
        return "SELECT pg_sleep(5)"
    return "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"


def test_the_engine_stops_a_long_query(tmp_path_factory):
    engine = make_engine(make_test_database_url(tmp_path_factory, "timeout"), query_timeout=0.2)
    try:
        with engine.connect() as connection:
            with pytest.raises(OperationalError) as caught:
                connection.execute(text(_slow_statement(engine.dialect.name)))
            assert is_query_timeout(caught.value)
        with engine.connect() as connection:  # the connection is still good
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_a_long_query_in_a_request_is_503(make_app, monkeypatch):
    from termserver.services import codesystems

    application = make_app(QUERY_TIMEOUT_SECONDS=0.2)
    dialect = application.extensions["termserver.engine"].dialect.name

    def slow_lookup(ctx: Any, *_args: Any) -> None:
        ctx.session.execute(text(_slow_statement(dialect)))

    monkeypatch.setattr(codesystems, "lookup_code", slow_lookup)
    client = application.test_client()
    response = client.get("/fhir/CodeSystem/$lookup", query_string={"system": ICPC2, "code": "K86"})
    check_unavailable(response, 503, "too-costly", ["0.2 s"])
    monkeypatch.undo()
    check_response(client.get("/fhir/metadata"), 200, "CapabilityStatement")  # the app goes on
