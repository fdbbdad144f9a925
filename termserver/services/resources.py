"""Read and search of the stored CodeSystem, ValueSet and ConceptMap resources (FHIR JSON, summarised).

Large code systems and maps are returned without their concepts/elements unless asked (``_summary=false``), and
then marked so; 25,000 concepts are never sent unasked.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from sqlalchemy import select

from termserver.errors import NotFound
from termserver.models import CodeSystemVersion, Concept, ConceptMapVersion, MapElement, ValueSetVersion
from termserver.services.catalog import Context

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "As requested, resource is not fully detailed."}
INLINE_LIMIT = 1000


def resource_id(row: CodeSystemVersion | ValueSetVersion | ConceptMapVersion) -> str:
    """A stable FHIR id: the id the release gave the resource, else one made from name and version."""
    given = (row.extra or {}).get("id")
    if isinstance(given, str) and re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", given):
        base = given
    else:
        base = re.sub(r"[^A-Za-z0-9\-.]+", "-", (row.name or row.url.rsplit("/", 1)[-1])).strip("-").lower()
    if row.version and row.version not in base:
        base = f"{base}-{re.sub(r'[^A-Za-z0-9.]+', '-', row.version)}"
    return base[:64]


_MODELS = {"CodeSystem": CodeSystemVersion, "ValueSet": ValueSetVersion, "ConceptMap": ConceptMapVersion}


def all_rows(ctx: Context, kind: str) -> list[Any]:
    return list(ctx.session.scalars(select(_MODELS[kind]).order_by(_MODELS[kind].url, _MODELS[kind].id)))


def find_by_id(ctx: Context, kind: str, resource_id_: str) -> Any:
    """The stored resource with this id.

    :raises NotFound: when there is none.
    """
    for row in all_rows(ctx, kind):
        if resource_id(row) == resource_id_:
            return row
    raise NotFound(f"{kind}/{resource_id_} is not known to this server")


def search(ctx: Context, kind: str, url: str | None = None, version: str | None = None,
           name: str | None = None, title: str | None = None) -> list[Any]:
    """Stored resources matching the search parameters (url resolves aliases of code systems and former URLs of
    value sets)."""
    rows = all_rows(ctx, kind)
    if url:
        url, _, pipe_version = url.partition("|")
        version = version or pipe_version or None
        wanted = ctx.aliases.canonical(url) if kind == "CodeSystem" else url
        exact = [r for r in rows if r.url == wanted]
        # a value set is also found under a former URL of its (ValueSetVersion.aliases)
        rows = exact if exact or kind != "ValueSet" else [r for r in rows if url in (r.aliases or [])]
    if version:
        rows = [r for r in rows if r.version == version]
    if name:
        rows = [r for r in rows if r.name and r.name.lower().startswith(name.lower())]
    if title:
        rows = [r for r in rows if r.title and title.lower() in r.title.lower()]
    return rows


def _common(row: Any, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": kind, "id": resource_id(row), "url": row.url}
    extra = {k: v for k, v in (row.extra or {}).items() if k not in ("id", "meta")}
    out.update({k: v for k, v in extra.items() if k in ("identifier",)})
    for key, value in (("version", row.version), ("name", row.name), ("title", row.title), ("status", row.status),
                       ("publisher", row.publisher), ("date", row.date), ("description", row.description)):
        if value is not None:
            out[key] = value
    return out


def code_system_json(ctx: Context, row: CodeSystemVersion, full: bool | None = None) -> dict[str, Any]:
    """CodeSystem JSON; concepts included when small or when ``full`` is True."""
    out = _common(row, "CodeSystem")
    if row.language:
        out["language"] = row.language
    out["caseSensitive"] = row.case_sensitive
    if row.hierarchy_meaning:
        out["hierarchyMeaning"] = row.hierarchy_meaning
    out["content"] = row.content
    if row.supplements:
        out["supplements"] = row.supplements + (f"|{row.supplements_version}" if row.supplements_version else "")
    out["count"] = row.concept_count
    if row.property_definitions:
        out["property"] = [{k: v for k, v in p.items() if v is not None} for p in row.property_definitions]
    oids = [{"system": "urn:ietf:rfc:3986", "value": a} for a in ctx.aliases.aliases_of(row.url)
            if a.startswith("urn:oid:")]
    if oids:  # FHIR JSON has no empty arrays (NPU's only alias is a URL)
        out["identifier"] = out.get("identifier", []) + oids
    include = full if full is not None else row.concept_count <= INLINE_LIMIT
    if include:
        out["concept"] = _concepts(ctx, row)
    else:
        out["meta"] = {"tag": [SUBSETTED]}
    return out


def _concepts(ctx: Context, row: CodeSystemVersion) -> list[dict[str, Any]]:
    from termserver.services.catalog import hierarchy, own_designations

    concepts = list(ctx.session_of(row).scalars(select(Concept).where(Concept.code_system_id == row.id)
                                        .order_by(Concept.sort_order, Concept.id)))
    designations = own_designations(ctx, row, [c.id for c in concepts])
    parents: dict[str, list[str]] = {}
    for parent, children in hierarchy(ctx, row).items():
        for child in children:
            parents.setdefault(child, []).append(parent)
    out = []
    for concept in concepts:
        item: dict[str, Any] = {"code": concept.code}
        if concept.display:
            item["display"] = concept.display
        if concept.definition:
            item["definition"] = concept.definition
        if designations.get(concept.id):
            from termserver.fhir.render import designation_json

            item["designation"] = [designation_json(d) for d in designations[concept.id]]
        props = [{"code": "parent", "valueCode": p} for p in parents.get(concept.code, [])]
        if not concept.active:
            props.append({"code": "inactive", "valueBoolean": True})
        if concept.not_selectable:
            props.append({"code": "notSelectable", "valueBoolean": True})
        if props:
            item["property"] = props
        out.append(item)
    return out


def value_set_json(row: ValueSetVersion) -> dict[str, Any]:
    out = _common(row, "ValueSet")
    if row.compose:
        out["compose"] = row.compose
    if row.expansion:
        out["expansion"] = row.expansion
    return out


def concept_map_json(ctx: Context, row: ConceptMapVersion, full: bool | None = None) -> dict[str, Any]:
    out = _common(row, "ConceptMap")
    if row.source_scope:
        out["sourceUri"] = row.source_scope
    if row.target_scope:
        out["targetUri"] = row.target_scope
    include = full if full is not None else row.mapping_count <= INLINE_LIMIT
    if not include:
        out["meta"] = {"tag": [SUBSETTED]}
        return out
    groups: dict[tuple[str, str | None], dict[str, dict[str, Any]]] = {}
    for m in ctx.session.scalars(select(MapElement).where(MapElement.concept_map_id == row.id)
                                 .order_by(MapElement.id)):
        elements = groups.setdefault((m.source_system, m.target_system), {})
        element = elements.setdefault(m.source_code, {"code": m.source_code, **(
            {"display": m.source_display} if m.source_display else {}), "target": []})
        target: dict[str, Any] = {"equivalence": m.equivalence}
        if m.target_code:
            target = {"code": m.target_code, **({"display": m.target_display} if m.target_display else {}),
                      "equivalence": m.equivalence}
        if m.comment:
            target["comment"] = m.comment
        element["target"].append(target)
    out["group"] = [{"source": s, **({"target": t} if t else {}), "element": list(e.values())}
                    for (s, t), e in groups.items()]
    return out


def bundle(resources: Iterable[dict[str, Any]], base: str) -> dict[str, Any]:
    """A searchset Bundle."""
    entries = [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
               for r in resources]
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "total": len(entries)}
    if entries:  # FHIR JSON has no empty arrays
        out["entry"] = entries
    return out
