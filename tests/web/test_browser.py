"""The web pages used as a person uses them, in a real browser (Debian's Chromium driven by Playwright): type in
the picker and choose with the keyboard, open a code page by its address, paste and upload a dirty ConditionList."""
from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import example_bundle, screenshot

pytest.importorskip("playwright")  # conftest's browser fixture says why (and fails in CI)
from playwright.sync_api import expect  # noqa: E402

OPTION = "#suggestions [role=option]"


def type_in_picker(page: Any, text: str) -> None:
    box = page.get_by_role("combobox", name="Kode eller tekst")
    box.click()
    box.press_sequentially(text, delay=40)  # one key at a time, as typed: every keystroke asks the server


def test_type_bihulebet_choose_r75_with_the_keyboard_and_read_its_inclusion(page):
    page.goto("/")
    expect(page).to_have_title(re.compile("Søg koder"))
    box = page.get_by_role("combobox", name="Kode eller tekst")
    expect(box).to_have_attribute("aria-expanded", "false")
    type_in_picker(page, "bihulebet")
    listbox = page.get_by_role("listbox")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(box).to_have_attribute("aria-controls", "suggestions")
    first = page.locator(OPTION).first
    expect(first.locator(".code")).to_have_text("R75")
    expect(first.locator(".title")).to_have_text("Akut/kronisk bihulebetændelse")
    expect(page.locator("#search-status")).to_contain_text("forslag")
    screenshot(page, "1-typeahead-bihulebet")

    box.press("ArrowDown")
    expect(first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    screenshot(page, "2-arrow-down-on-r75")
    box.press("Enter")

    expect(page).to_have_url(re.compile(r"/code/icpc2/R75$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("R75 Akut/kronisk bihulebetændelse")
    notes = page.locator("dl.notes")
    expect(notes.locator("dt", has_text="Inklusion")).to_be_visible()
    expect(notes.locator("dd").first).to_have_text("sinusitis affecting any paranasal sinus")
    screenshot(page, "3-code-page-r75")


def test_arrow_keys_wrap_and_escape_closes_then_clears(page):
    page.goto("/")
    type_in_picker(page, "K8")
    box = page.get_by_role("combobox", name="Kode eller tekst")
    options = page.locator(OPTION)
    expect(options).to_have_count(10)
    expect(options.first.locator(".code")).to_have_text("K80")
    box.press("ArrowUp")  # from the box, up goes to the last option
    expect(options.last).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")  # and down from the last wraps to the first
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(page.locator("[role=option][aria-selected=true]")).to_have_count(1)
    box.press("Escape")
    expect(page.get_by_role("listbox")).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(box).to_have_value("K8")
    box.press("Escape")
    expect(box).to_have_value("")


@pytest.mark.parametrize(("system", "typed", "code"), [
    ("icpc2", "hjertebankn", "K04"),  # a typo, as typed before the word is finished
    ("sks", "hjertebankn", "DR002"),
    ("icd10", "bihulebetændelse", "J32.9"),  # WHO ICD-10 found by its Danish title
])
def test_the_system_menu_chooses_what_is_searched(page, system, typed, code):
    page.goto("/")
    page.get_by_label("Kodesystem").select_option(system)
    type_in_picker(page, typed)
    codes = page.locator(f"{OPTION} .code")
    expect(codes.first).to_be_visible()
    assert code in codes.all_inner_texts()[:5]


def test_a_match_on_a_synonym_says_which_term_matched(page):
    page.goto("/")
    type_in_picker(page, "hæmoglobinuri")
    option = page.locator(OPTION).filter(has=page.locator(".code", has_text="U98"))
    expect(option.locator(".matched")).to_have_text("fundet via »Hæmoglobinuri«")
    screenshot(page, "4-typeahead-synonym-match")


def test_clicking_a_suggestion_opens_it(page):
    page.goto("/?system=sks")
    type_in_picker(page, "astma")
    page.locator(OPTION).filter(has=page.locator(".code", has_text=re.compile(r"^DJ45$"))).click()
    expect(page).to_have_url(re.compile(r"/code/sks/DJ45$"))


def test_code_page_by_address_survives_reload_and_links_up_and_across(page):
    page.goto("/code/icpc2/K86")
    expect(page.get_by_role("heading", level=1)).to_contain_text("K86")
    page.reload()  # a deep link is a server-rendered page: reload gives the same page
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("K86")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Hypertension uncomplicated")  # the English rubric
    expect(facts).to_contain_text("aktiv")
    map_table = page.locator("table.map", has=page.locator("caption", has_text="ICPC-2 → WHO ICD-10"))
    expect(map_table.locator("td .code", has_text=re.compile(r"^I10$"))).to_be_visible()
    expect(page.locator("#lookup-json")).to_have_attribute("href", re.compile(r"/fhir/CodeSystem/\$lookup\?system="))
    screenshot(page, "5-code-page-k86")

    page.locator("#parents a").first.click()  # up to the chapter
    expect(page).to_have_url(re.compile(r"/code/icpc2/K$"))
    expect(page.locator("#children")).to_contain_text("K86")
    page.go_back()
    map_table = page.locator("table.map", has=page.locator("caption", has_text="ICPC-2 → SKS-diagnoser"))
    map_table.get_by_role("link", name=re.compile(r"^DI10\b")).click()  # across the map, to SKS
    expect(page).to_have_url(re.compile(r"/code/sks/DI10$"))
    back = page.locator("table.map", has=page.locator("caption", has_text="SKS-diagnoser → ICPC-2"))
    expect(back.locator("td .code", has_text="K86")).to_be_visible()
    screenshot(page, "6-code-page-di10-map-back")


def test_lookup_link_gives_the_fhir_json(page):
    page.goto("/code/icpc2/R75")
    with page.expect_response(re.compile(r"\$lookup")) as answer:
        page.locator("#lookup-json").click()
    assert answer.value.status == 200
    assert answer.value.json()["resourceType"] == "Parameters"


def test_paste_a_dirty_condition_list_and_see_its_issues(page):
    page.goto("/check")
    page.get_by_label("FHIR JSON").fill(example_bundle("TestExample_MissingContent.json").read_text(encoding="utf-8"))
    page.get_by_role("button", name="Tjek koder").click()
    result = page.locator("#check-result")
    expect(result).to_be_visible()
    expect(result.locator(".summary")).to_contain_text("26 problemer")  # as POST /fhir/$validate-codes
    row = result.locator("tr", has=page.locator("code", has_text="Bundle.entry[5].resource.code.coding[0]"))
    expect(row).to_contain_text("Fejl")
    expect(row).to_contain_text("Unknown code 'm431'")
    expect(row.get_by_role("link", name=re.compile("DM431"))).to_have_attribute("href", "/code/sks/DM431")
    expect(page.get_by_label("FHIR JSON")).not_to_be_empty()  # what was pasted is still there to mend
    screenshot(page, "7-check-pasted-bundle")


def test_upload_a_bundle_file(page):
    page.goto("/check")
    page.get_by_label("… eller vælg en fil").set_input_files(str(example_bundle("TestExample_R1(2).json")))
    expect(page.get_by_label("FHIR JSON")).to_have_value(re.compile(r'"resourceType"\s*:\s*"Bundle"'))
    page.get_by_role("button", name="Tjek koder").click()
    row = page.locator("#check-result tr", has=page.locator("code", has_text="Bundle.entry[4].resource.code.coding[0]"))
    expect(row).to_contain_text("Unknown code 'DE119a'")
    screenshot(page, "8-check-uploaded-bundle")


def test_broken_json_is_explained_and_kept(page):
    page.goto("/check")
    page.get_by_label("FHIR JSON").fill('{"resourceType": "Bundle", "entry": [')
    page.get_by_role("button", name="Tjek koder").click()
    expect(page.get_by_role("alert")).to_contain_text("Malformed JSON in the pasted text")
    expect(page.get_by_label("FHIR JSON")).to_have_value('{"resourceType": "Bundle", "entry": [')


def test_without_javascript_the_form_still_searches(browser, base_url):
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto("/")
        tab.get_by_role("searchbox", name="Kode eller tekst").fill("bihulebet")
        tab.get_by_role("button", name="Søg").click()
        expect(tab).to_have_url(re.compile(r"\?system=icpc2&q=bihulebet$"))
        expect(tab.locator("ol.hits li").first).to_contain_text("R75")
        screenshot(tab, "9-no-javascript-results")
    finally:
        context.close()
