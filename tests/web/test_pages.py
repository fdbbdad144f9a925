"""The web pages over the test client: what each page says for real codes, and how bad input is explained (a 4xx
page with the message, never a 500, nothing the person typed lost or run as markup)."""
from __future__ import annotations

import io
import re
from html import unescape

import pytest

from tests.web.conftest import example_bundle


def text_of(response) -> str:
    """The page as a reader sees it: tags dropped, whitespace collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def html(response, status: int = 200) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def test_search_page_offers_every_system_with_icpc2_first(client):
    page = html(client.get("/"))
    assert re.findall(r'<option value="(\w+)"', page) == ["icpc2", "sks", "icd10", "npu", "mcs"]
    assert 'lang="da"' in page and 'id="suggestions" role="listbox"' in page
    assert "picker.js" in page


@pytest.mark.parametrize(("system", "query", "code", "matched"), [
    ("icpc2", "bihulebet", "R75", None),
    ("icpc2", "hæmoglobinuri", "U98", "Hæmoglobinuri"),  # a hit on a term that is not the title says so
    ("sks", "hjertebankn", "DR002", None),
    ("icd10", "bihulebetændelse", "J32.9", None),
])
def test_search_without_javascript_lists_hits(client, system, query, code, matched):
    page = html(client.get("/", query_string={"system": system, "q": query}))
    hits = re.findall(rf'href="/code/{system}/([^"]+)"', page)
    assert code in hits[:5]
    if matched:
        assert f"fundet via »{matched}«" in page


def test_icd10_hits_get_danish_titles(client):
    page = text_of(client.get("/", query_string={"system": "icd10", "q": "J32.9"}))
    assert "J32.9 Kronisk bihulebetændelse UNS" in page


def test_unknown_system_in_the_form_is_a_400_naming_the_choices(client):
    page = text_of(client.get("/", query_string={"system": "snomed", "q": "astma"}))
    assert client.get("/", query_string={"system": "snomed"}).status_code == 400
    assert "Ukendt kodesystem 'snomed'. Brug et af: icpc2, sks, icd10, npu, mcs" in page


def test_what_is_typed_is_shown_as_text_not_markup(client):
    page = html(client.get("/", query_string={"q": "<script>alert(1)</script>"}))
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_icpc2_code_page_has_everything_a_reader_needs(client):
    page = text_of(client.get("/code/icpc2/R75"))
    assert "R75 Akut/kronisk bihulebetændelse" in page
    assert "Engelsk titel Sinusitis acute/chronic" in page
    assert "Inklusion sinusitis affecting any paranasal sinus" in page
    assert "Kriterier purulent nasal/post-nasal discharge" in page
    assert "Overvej headache N01" in page
    assert "Overordnet R Luftveje" in page
    assert "aktiv" in page
    assert "ICPC-2 → WHO ICD-10" in page and "J01.0 Akut kæbehulebetændelse snævrere" in page
    assert "ICPC-2 → SKS-diagnoser" in page and "DJ010 Akut kæbehulebetændelse" in page
    raw = client.get("/code/icpc2/R75").get_data(as_text=True)
    assert 'href="/code/icpc2/R"' in raw and 'href="/code/icd10/J01.0"' in raw and 'href="/code/sks/DJ010"' in raw
    assert re.search(r'href="/fhir/CodeSystem/\$lookup\?system=http%3A//hl7.org/fhir/sid/icpc-2&amp;code=R75"', raw)


def test_a_map_target_this_server_lacks_is_marked_not_linked(client):
    raw = client.get("/code/icpc2/K86").get_data(as_text=True)
    assert 'href="/code/icd10/I10"' in raw and 'href="/code/icd10/I10.9"' not in raw  # the Danish map's I10.9
    assert "I10.9 findes ikke i WHO ICD-10 her" in text_of(client.get("/code/icpc2/K86"))


def test_chapter_page_lists_its_children(client):
    page = text_of(client.get("/code/icpc2/K"))
    assert "Underordnede" in page and "K86 Ukompliceret hypertension" in page


def test_exclusions_are_shown(client):
    assert "Eksklusion" in text_of(client.get("/code/icpc2/K86"))


@pytest.mark.parametrize(("path", "expected"), [
    ("/code/sks/DJ019", ["SKS-diagnoser → ICPC-2", "R75 Akut/kronisk bihulebetændelse bredere",
                         "SKS-diagnoser → WHO ICD-10", "J01.9"]),
    ("/code/icd10/J01.9", ["J01.9 Akut bihulebetændelse UNS", "Engelsk titel Acute sinusitis, unspecified",
                           "WHO ICD-10 → ICPC-2", "R75", "WHO ICD-10 → SKS-diagnoser", "DJ019"]),
])
def test_maps_run_both_ways(client, path, expected):
    page = text_of(client.get(path))
    for fragment in expected:
        assert fragment in page, fragment


@pytest.mark.parametrize(("path", "status", "message"), [
    ("/code/icpc2/R999", 404, "Code 'R999' not found in code system"),
    ("/code/snomed/R75", 404, "Ukendt kodesystem 'snomed'"),
    ("/code/icpc2/%3Cb%3Ebold%3C%2Fb%3E", 404, "Code '<b>bold</b>' not found"),
])
def test_a_code_that_cannot_be_shown_is_explained(client, path, status, message):
    response = client.get(path)
    page = html(response, status)
    assert "<b>bold" not in page
    assert message in text_of(response)
    assert "/?" in page  # a way on: search for what was asked


def test_check_page_finds_the_issues_the_api_finds(client):
    bundle = example_bundle("TestExample_MissingContent.json").read_text(encoding="utf-8")
    page = text_of(client.post("/check", data={"bundle": bundle}))
    api = client.post("/fhir/$validate-codes", data=bundle, content_type="application/fhir+json").get_json()
    for issue in api["issue"]:
        assert " ".join(issue["details"]["text"].split()) in page
        for where in issue.get("expression", []):
            assert where in page
    assert "26 problemer" in page


def test_check_page_reads_an_uploaded_file(client):
    data = example_bundle("TestExample_R1(2).json").read_bytes()
    response = client.post("/check", data={"bundle": "", "file": (io.BytesIO(b"\xef\xbb\xbf" + data), "r1.json")},
                           content_type="multipart/form-data")
    assert "Unknown code 'DE119a'" in text_of(response)


@pytest.mark.parametrize(("form", "message"), [
    ({"bundle": ""}, "The pasted text is empty"),
    ({"bundle": '{"resourceType": "Bundle", "entry": ['}, "Malformed JSON in the pasted text"),
    ({"bundle": "[1, 2]"}, "The pasted text must be a JSON object"),
    ({"bundle": '{"entry": []}'}, "The pasted text has no resourceType"),
    ({"bundle": "", "file": (io.BytesIO(b"\xff\xfe{}"), "latin1.json")}, "The file 'latin1.json' is not UTF-8"),
    ({"bundle": "", "file": (io.BytesIO(b"{"), "cut.json")}, "Malformed JSON in the file 'cut.json'"),
])
def test_bad_input_is_explained_and_the_text_kept(client, form, message):
    response = client.post("/check", data=form, content_type="multipart/form-data")
    page = html(response, 400)
    assert message in text_of(response)
    if form["bundle"]:
        assert form["bundle"].replace('"', "&#34;").replace("<", "&lt;") in page  # still in the box to mend


def test_a_body_over_the_limit_is_refused(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/check", data={"bundle": "x" * (limit + 1)})
    assert response.status_code == 413


def test_on_an_empty_store_the_menu_is_empty_and_a_search_says_why(tmp_path):
    from termserver import create_app

    empty = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}", "LOG_LEVEL": "WARNING"})
    try:
        client = empty.test_client()
        assert "<option" not in html(client.get("/"))
        response = client.get("/", query_string={"system": "icpc2", "q": "astma"})
        html(response, 404)
        assert "Code system 'http://hl7.org/fhir/sid/icpc-2' is not known to this server" in text_of(response)
        assert "is not known to this server" in text_of(client.get("/code/icpc2/K86"))
    finally:
        empty.extensions["termserver.engine"].dispose()


def test_a_retired_npu_code_shows_its_validity_and_its_successor(client):
    retired = text_of(client.get("/code/npu/NPU01360"))
    assert "inaktiv (retired)" in retired
    assert "Gyldig fra 2014-07-16" in retired and "Gyldig til 2021-06-30" in retired
    replaced = client.get("/code/npu/NPU02058").get_data(as_text=True)
    assert re.search(r'<dt>Erstattet af</dt><dd><a href="/code/npu/NPU59058">', replaced)
