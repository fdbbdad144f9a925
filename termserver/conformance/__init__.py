"""Runner for the HL7 FHIR terminology-ecosystem conformance tests (a port of the Java ``TxTester``)."""
from __future__ import annotations

from termserver.conformance.runner import Report, RunnerError, TxTestResult, run_tests

__all__ = ["Report", "RunnerError", "TxTestResult", "run_tests"]
