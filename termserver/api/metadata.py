"""``GET /fhir/metadata``: the CapabilityStatement, or TerminologyCapabilities with ``?mode=terminology``."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from termserver import __version__
from termserver.api import operation_params
from termserver.app import context, fhir_response
from termserver.errors import InvalidRequest
from termserver.services import resources
from termserver.services.valuesets import now_iso

bp = Blueprint("metadata", __name__, url_prefix="/fhir")

FEATURE = "http://hl7.org/fhir/uv/application-feature/StructureDefinition/feature"
# the HL7 terminology-ecosystem test release this server is checked against (termserver tx-tests)
TX_TESTS_VERSION = "1.9.0"
RELEASE_DATE = "2026-11-22"
# the expansion parameters $expand understands (TerminologyCapabilities.expansion.parameter)
EXPANSION_PARAMETERS = ("activeOnly", "check-system-version", "count", "default-valueset-version",
                        "designation", "displayLanguage", "excludeNested", "excludeNotForUI", "filter",
                        "force-system-version", "includeDefinition", "includeDesignations", "offset", "property",
                        "system-version", "tx-resource")

OPERATIONS = {
    "CodeSystem": [("lookup", "CodeSystem-lookup"), ("validate-code", "CodeSystem-validate-code"),
                   ("subsumes", "CodeSystem-subsumes"),
                   # no HL7 OperationDefinition exists; tx.fhir.org's is the de-facto one
                   ("batch-validate-code", "Resource-batch-validate-code")],
    "ValueSet": [("expand", "ValueSet-expand"), ("validate-code", "ValueSet-validate-code"),
                 ("batch-validate-code", "Resource-batch-validate-code")],
    "ConceptMap": [("translate", "ConceptMap-translate")],
}


@bp.get("/metadata")
def metadata() -> Any:
    mode = request.args.get("mode", "full")
    if mode == "terminology":
        return fhir_response(_terminology_capabilities())
    if mode not in ("full", "normative"):
        raise InvalidRequest(f"mode '{mode}' is not supported; use 'full' or 'terminology'")
    base = request.url_root.rstrip("/") + "/fhir"
    rest_resources = []
    for kind, operations in OPERATIONS.items():
        rest_resources.append({
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": n, "type": t} for n, t in
                            (("url", "uri"), ("version", "token"), ("name", "string"), ("title", "string"))],
            "operation": [{"name": name, "definition": f"http://hl7.org/fhir/OperationDefinition/{definition}"}
                          for name, definition in operations],
        })
    statement = {
        "resourceType": "CapabilityStatement",
        "id": "termserver",
        "extension": [_feature("http://hl7.org/fhir/uv/tx-tests/FeatureDefinition/test-version",
                               {"valueCode": TX_TESTS_VERSION}),
                      # code systems and value sets sent as tx-resource are used for that request
                      _feature("http://hl7.org/fhir/uv/tx-ecosystem/FeatureDefinition/CodeSystemAsParameter",
                               {"valueBoolean": True})],
        "url": f"{base}/metadata",
        "version": __version__,
        "name": "TermserverCapabilityStatement",
        "title": "termserver: terminology server for Danish general practice",
        "status": "active",
        "date": now_iso(),
        "publisher": "termserver",
        "kind": "instance",
        "software": {"name": "termserver", "version": __version__, "releaseDate": RELEASE_DATE},
        "implementation": {"description": "FHIR R4 terminology server (ICPC-2, SKS, ICD-10, NPU, MCS)",
                           "url": base},
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/terminology-server"],
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{"mode": "server", "resource": rest_resources, "interaction": [{"code": "batch"}],
                  "operation": [{"name": "versions", "definition":
                                 "http://hl7.org/fhir/OperationDefinition/Resource-versions"}]}],
    }
    return fhir_response(statement)


def _feature(definition: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"url": FEATURE, "extension": [{"url": "definition", "valueCanonical": definition},
                                          {"url": "value", **value}]}


@bp.route("/$versions", methods=["GET", "POST"])
def versions() -> Any:
    """The FHIR versions this endpoint speaks (the ``$versions`` operation): R4 only."""
    operation_params()  # a POSTed body must still be a well-formed Parameters (it has no inputs)
    return fhir_response({"resourceType": "Parameters", "parameter": [
        {"name": "version", "valueCode": "4.0"}, {"name": "default", "valueCode": "4.0"}]})


def _terminology_capabilities() -> dict[str, Any]:
    ctx = context()
    systems: dict[str, list[dict[str, Any]]] = {}
    for row in resources.all_rows(ctx, "CodeSystem"):
        entry: dict[str, Any] = {"code": row.version} if row.version else {}
        entry["isDefault"] = False
        entry["language"] = [row.language] if row.language else []
        systems.setdefault(row.url, []).append(entry)
    from termserver.services.catalog import versions_of

    code_systems = []
    for url, versions in systems.items():
        newest = versions_of(ctx, url, supplements=True)
        newest_version = newest[0].version if newest else None
        for entry in versions:
            entry["isDefault"] = entry.get("code") == newest_version
            if not entry["language"]:
                entry.pop("language")
        code_systems.append({"uri": url, "version": versions})
        for alias in ctx.aliases.aliases_of(url):
            code_systems.append({"uri": alias, "version": [{k: v for k, v in e.items()} for e in versions]})
    return {
        "resourceType": "TerminologyCapabilities",
        "id": "termserver",
        "url": request.url_root.rstrip("/") + "/fhir/metadata?mode=terminology",
        "version": __version__,
        "name": "TermserverTerminologyCapabilities",
        "title": "termserver: terminology capabilities",
        "status": "active",
        "date": now_iso(),
        "kind": "instance",
        "software": {"name": "termserver", "version": __version__},
        "codeSystem": code_systems,
        "expansion": {"hierarchical": False, "paging": True, "incomplete": False,
                      "parameter": [{"name": n} for n in EXPANSION_PARAMETERS],
                      "textFilter": "Words in any order, each matching the start of a word in the display or a "
                                    "designation; case-insensitive."},
        "codeSearch": "all",
        "validateCode": {"translations": True},
        "translation": {"needsMap": False},
        "closure": {"translation": False},
    }
