"""Whole-resource code checks: every Coding and CodeableConcept of a FHIR resource or Bundle, with repair hints."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("validation", __name__, url_prefix="/fhir")
