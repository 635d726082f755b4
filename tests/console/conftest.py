"""Fixtures for the console tests: a console server per test (fresh SQLite database)
and, for the browser tests, one Chromium for the whole session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.console.helpers import ConsoleServer, console_settings

CHROMIUM = os.environ.get("CIVICBOT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def server(tmp_path):
    console = ConsoleServer(console_settings(tmp_path))
    yield console
    console.close()


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module (a launch takes about a second). Not for the whole
    session: while it is open, Playwright's sync API keeps an event loop running in this
    thread, which the async tests elsewhere (pytest-asyncio) cannot run beside."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run scripts/setup test (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser profile (no cookies) per test, phone-sized unless the test resizes it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    return take
