"""Fuzz: schemathesis generates requests for every operation in openapi.yaml and sends them to a live server.

Every response must be a non-5xx, with a status code, content type and body the document declares for that
operation. At least 2,000 requests are sent in all (``TERMSERVER_FUZZ_EXAMPLES`` per operation, default 60; the
generation is derandomized so a CI failure reproduces). Failures are collected per operation, not stopped at, so
one run names every broken operation, each with a curl command that reproduces it.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from schemathesis import GenerationMode
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from tests.conftest import REPO
from tests.reliability.conftest import LiveServer

pytestmark = pytest.mark.reliability

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = int(os.environ.get("TERMSERVER_FUZZ_EXAMPLES", "60"))
MINIMUM_REQUESTS = 2000
# two thirds valid inputs (they reach the services), one third inputs that break the schema (they must be 4xx)
MODES = [(GenerationMode.POSITIVE, 2 / 3), (GenerationMode.NEGATIVE, 1 / 3)]


@dataclass
class Failure:
    operation: str
    status: int
    message: str
    curl: str


def fuzz_operation(operation: schemathesis.APIOperation, mode: GenerationMode, examples: int, base_url: str,
                   session: requests.Session, sent: Counter[str], failures: list[Failure]) -> None:
    label = f"{operation.label} ({mode.value})"

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: schemathesis.Case) -> None:
        response = case.call(base_url=base_url, session=session, timeout=60)
        sent[label] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:  # a check failed (schemathesis' FailureGroup): note it
            # and keep fuzzing (no shrinking: one run names every failing operation)
            failures.append(Failure(label, response.status_code, str(exc).strip()[:1500],
                                    case.as_curl_command(headers=None)))

    try:
        send()
    except Unsatisfiable:  # nothing in the operation can be made invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, label


def test_fuzz_every_operation(live_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_path(str(REPO / "openapi.yaml"))
    sent: Counter[str] = Counter()
    failures: list[Failure] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            for mode, share in MODES:
                fuzz_operation(result.ok(), mode, max(1, round(EXAMPLES_PER_OPERATION * share)),
                               live_server.base_url, session, sent, failures)
    total = sum(sent.values())
    by_operation: dict[str, list[Failure]] = {}
    for failure in failures:
        by_operation.setdefault(failure.operation, []).append(failure)
    report = [f"{len(failures)} failing responses in {total} requests, {len(by_operation)} operations:"]
    for label, items in by_operation.items():
        first = items[0]
        report.append(f"\n== {label}: {len(items)} failing, e.g. status {first.status}\n{first.message}\n"
                      f"{first.curl}")
    print("\n".join(report), dict(sent))
    assert not failures, "\n".join(report)
    assert total >= MINIMUM_REQUESTS, f"only {total} requests generated: {dict(sent)}"
    # the server is still healthy after the fuzz
    status, _, _ = live_server.request("GET", "/fhir/metadata")
    assert status == 200
