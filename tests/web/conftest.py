"""Web page fixtures: the loaded app served over real HTTP, and Debian's Chromium driven by Playwright.

Screenshots of every step go to tests/web/screenshots/ (gitignored), to be looked at by a person.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import REPO, served

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
EXAMPLES = REPO.parent / "shared" / "fhir-examples" / "dk-medcom-conditionlist" / "docs" / "assets" / "TestExamples"
# what a headless Chromium needs on a machine without a network or a screen: no sandbox (CI runs as root), no
# background calls home (refused here, and slow to fail), a fresh profile
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}: CI must have it (.ci/run installs it)")
    pytest.skip(f"{what} (bash scripts/test.sh installs it)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed")
    executable = os.environ.get("TERMSERVER_CHROMIUM") or shutil.which("chromium")
    if not executable:
        _missing("Chromium is not installed (Debian package chromium, or set TERMSERVER_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def base_url(app: Any) -> Iterator[str]:
    with served(app) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture()
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A fresh browser tab (Danish locale, laptop-sized). A JavaScript error, or a failed request for anything
    but the page itself (a script, a stylesheet, a search the picker sent), fails the test; a page answered with
    its own 4xx is what some tests expect."""
    context = browser.new_context(base_url=base_url, locale="da-DK", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error"
           and not message.text.startswith("Failed to load resource") else None)  # such are reported below
    tab.on("response", lambda response: errors.append(f"{response.status} {response.url}")
           if response.status >= 400 and response.request.resource_type != "document" else None)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def screenshot(tab: Any, name: str) -> None:
    """Keep what the person would have seen at this step."""
    SCREENSHOTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def example_bundle(name: str) -> Path:
    """A MedCom ConditionList test Bundle from ../shared/fhir-examples."""
    path = EXAMPLES / "Receive" / "Selftest" / name
    if not path.is_file():
        _missing(f"the MedCom test example {path}")
    return path
