"""``POST /fhir``: batch Bundles of terminology operations (issue: validators over HTTP)."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("bundle", __name__, url_prefix="/fhir")
