"""Deep links work from the first request: a fresh server must not fall back to the legacy pages/ mode."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from harness import wait_ready
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("path", "title"), [("/console", "Reviewer console"), ("/durability", "Durability lab")])
def test_a_deep_link_as_the_first_request_gets_the_apps_navigation(
    app_server: str, new_page: Callable[[], Page], path: str, title: str
):
    page = new_page()
    page.goto(app_server + path)
    wait_ready(page)

    expect(page.get_by_role("heading", name=title)).to_be_visible()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_contain_text("Conversation")
    expect(nav).to_contain_text("Reviewer console")
    expect(nav).not_to_contain_text("app")
