"""``GET /api/search``: plain JSON typeahead for pickers that do not speak FHIR."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from termserver.app import context
from termserver.errors import InvalidRequest
from termserver.services.search import search_codes

bp = Blueprint("search", __name__, url_prefix="/api")
MAX_LIMIT = 200


def _int_arg(name: str, default: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"Parameter '{name}' must be a whole number, not '{raw}'") from None
    if value < 0 or (maximum is not None and value > maximum):
        raise InvalidRequest(f"Parameter '{name}' must be between 0 and {maximum if maximum is not None else 'any'}")
    return value


@bp.get("/search")
def search() -> Any:
    ctx = context()
    query = request.args.get("q")
    if query is None or not query.strip():
        raise InvalidRequest("Parameter 'q' (the text or code typed so far) is required")
    systems = request.args.getlist("system")
    canonical = list(dict.fromkeys(ctx.aliases.canonical(s) for s in systems))  # one system sent twice: once
    hits = search_codes(ctx.search, query, canonical or None,
                        limit=_int_arg("limit", 20, MAX_LIMIT), offset=_int_arg("offset", 0),
                        active_only=request.args.get("activeOnly", "false").lower() == "true",
                        )
    shown = {ctx.aliases.canonical(s): s for s in systems}
    return jsonify([{"system": shown.get(h.system, h.system), "code": h.code, "display": h.display,
                     "matched_term": h.matched_term, "match_kind": h.match_kind, "score": h.score}
                    for h in hits])
