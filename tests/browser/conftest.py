"""Real-browser fixtures: a fresh app server per test and Debian's chromium driven by Playwright."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import CHROMIUM, CHROMIUM_ARGS, start_streamlit, stop
from playwright.sync_api import Browser, Page, sync_playwright

if not Path(CHROMIUM).exists():
    pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)", pytrace=False)


@pytest.fixture
def app_db(tmp_path: Path) -> str:
    return str(tmp_path / "app.db")


@pytest.fixture
def app_server(tmp_path: Path, app_db: str) -> Iterator[str]:
    """Base URL of a fresh app on its own SQLite file (DATABASE_URL), stopped after the test."""
    process, base = start_streamlit({"DATABASE_URL": app_db}, tmp_path / "streamlit.log")
    yield base
    stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Factory for pages in fresh browser contexts (each is a separate user: own cookies, own session)."""
    contexts = []

    def make() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield make
    for context in contexts:
        context.close()
