"""The web pages: Danish code search (``/``), one code (``/code/<key>/<code>``) and the bundle check (``/check``).

Server-rendered HTML that works without JavaScript; ``static/web/picker.js`` turns the search box into a live
ARIA combobox over ``ValueSet/$expand``. Errors a person can act on are shown on the page with their 4xx status
(an HTML page for a browser, not an OperationOutcome); the FHIR API under ``/fhir`` is unchanged.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from termserver.app import context
from termserver.errors import InvalidRequest, TermserverError
from termserver.services import browse, resource_check
from termserver.systems import known_system

bp = Blueprint("web", __name__)
RESULTS_SHOWN = 20
SEVERITY_LABELS = {"fatal": "Fejl", "error": "Fejl", "warning": "Advarsel", "information": "Information"}


@bp.get("/")
def search_page() -> Any:
    key = request.args.get("system") or browse.browse_systems()[0].key
    query = request.args.get("q", "").strip()
    try:
        system = browse.require_system(key, InvalidRequest)  # a bad choice in the form, not a missing page
        hits = browse.search(context(), system, query, RESULTS_SHOWN) if query else None
    except TermserverError as exc:
        return _page("search.html", exc.status, error=exc.message, key=key, query=query, hits=None)
    return _page("search.html", 200, key=system.key, query=query, hits=hits)


@bp.get("/code/<key>/<path:code>")
def code_page(key: str, code: str) -> Any:
    try:
        page = browse.code_page(context(), key, code)
    except TermserverError as exc:
        return _page("error.html", exc.status, error=exc.message, key=key, code=code)
    return _page("code.html", 200, page=page, key=key)


@bp.route("/check", methods=["GET", "POST"])
def check_page() -> Any:
    if request.method == "GET":
        return _page("check.html", 200, text="")
    text = request.form.get("bundle", "")
    upload = request.files.get("file")
    try:
        if upload is not None and upload.filename:
            text = _uploaded_text(upload.read(), upload.filename)
        result = resource_check.check_resource(context(), resource_check.parse_resource(text, _what(upload)))
    except TermserverError as exc:
        return _page("check.html", exc.status, text=text, error=exc.message)
    return _page("check.html", 200, text=text, result=result)


def _what(upload: Any) -> str:
    return f"The file '{upload.filename}'" if upload is not None and upload.filename else "The pasted text"


def _uploaded_text(data: bytes, filename: str) -> str:
    """The uploaded file as text (JSON is UTF-8; a byte-order mark is dropped).

    :raises InvalidRequest: when the file is not UTF-8.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The file '{filename}' is not UTF-8 text (byte {exc.start}); save the Bundle as "
                             f"UTF-8 JSON and upload it again") from None


def _page(template: str, status: int, **values: Any) -> Any:
    return render_template(f"web/{template}", systems=browse.searchable_systems(context()),
                           fhir_base=request.script_root + "/fhir",
                           severity_labels=SEVERITY_LABELS, system_key=_system_key, label=browse.label,
                           **values), status


def _system_key(uri: str | None) -> str:
    """The web-page key of a code system URI (or alias), empty when the pages do not show that system."""
    system = known_system(context().aliases.canonical(uri or ""))
    return system.key if system else ""
