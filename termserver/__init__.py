"""termserver: FHIR R4 terminology server for Danish general practice."""
from __future__ import annotations

from typing import Any, Mapping

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None):  # -> Flask
    """Build the Flask application: settings (defaults → environment → ``config``), database, blueprints, errors."""
    from termserver.app import build_app

    return build_app(config)
