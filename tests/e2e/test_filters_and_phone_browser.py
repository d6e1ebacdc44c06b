"""The queue's Filters and sort, and a 420 px phone, in a real browser on one served app for the module.

At 1400x900 the filters sit above the queue (every field in view, no row covered), Escape closes what it opened
and nothing more, and their header stays put as filters are set. On a phone (touch, 420x900) a conversation tapped
in the sidebar closes the sidebar (on a desktop it stays), a tapped queue row brings its item into view, and no
key hints show; on a desktop they do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import page_factory
from harness import carols_email, keys_live, sign_in, start_streamlit, stop, visit, wait_ready
from playwright.sync_api import Browser, Locator, Page, TimeoutError, expect

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1400, 900
ROW_HEIGHT = 35  # st.dataframe's row (and header) height in pixels
FIELDS = ["Sort", "Tool", "Policy", "Requester", "Min age (minutes)", "Mine"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One app for the module's tests: (base URL, its SQLite file), with ten of Carol's emails pending."""
    folder = tmp_path_factory.mktemp("filters")
    app_db = str(folder / "app.db")
    for _ in range(10):
        carols_email(app_db)
    process, base = start_streamlit({"DATABASE_URL": app_db}, Path(folder / "streamlit.log"))
    yield base, app_db
    stop(process)


@pytest.fixture
def phone(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Factory for pages on a 420 px touch screen, each its own person."""
    yield from page_factory(browser, viewport={"width": 420, "height": HEIGHT}, is_mobile=True, has_touch=True)


def in_view(locator: Locator) -> bool:
    """Wholly inside the window, as drawn now (no scrolling)."""
    box = locator.bounding_box()
    size = locator.page.viewport_size
    return bool(box and size and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]
                and box["x"] >= 0 and box["x"] + box["width"] <= size["width"])


def uncovered(locator: Locator) -> bool:
    """What the user sees in the middle of `locator` is `locator` itself, not something drawn over it (waiting up to
    5 s for whatever moves away to finish moving)."""
    try:
        locator.page.wait_for_function("""e => { const r = e.getBoundingClientRect();
            return e.contains(document.elementFromPoint(r.x + r.width / 2, r.y + Math.min(r.height / 2, 50))); }""",
                                       arg=locator.element_handle(), timeout=5_000)
    except TimeoutError:
        return False
    return True


def field(page: Page, name: str) -> Locator:
    return page.get_by_label(name, exact=True).first


def filters_header(page: Page) -> Locator:
    return page.locator("summary", has_text="Filters and sort")


def open_first_item(page: Page) -> None:
    """Click the queue's first row (its Tool cell) and wait for the item's keys."""
    table = page.locator(".st-key-console_queue").bounding_box()
    assert table
    page.mouse.click(table["x"] + 100, table["y"] + ROW_HEIGHT * 1.5)
    keys_live(page)


def test_filters_sit_above_the_queue_with_every_field_in_view(served, new_page):
    base, _ = served
    page = new_page()
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    sign_in(page, f"{base}/console", "alice")
    open_first_item(page)  # the queue is at its narrowest, beside the open item
    expect(page.locator(".st-key-console_approve kbd")).to_have_text("A")  # a keyboard: the key hints show
    filters_header(page).click()
    wait_ready(page)
    for name in FIELDS:
        expect(field(page, name)).to_be_visible()
        assert in_view(field(page, name)), f"{name} is outside the 1400x900 window"
    table = page.locator(".st-key-console_queue")
    filters = page.locator("[data-testid='stExpander']", has=filters_header(page))
    filters_box, table_box = filters.bounding_box(), table.bounding_box()
    assert filters_box and table_box and filters_box["y"] + filters_box["height"] <= table_box["y"]
    assert uncovered(table), "something is drawn over the queue"


def test_escape_closes_only_the_dropdown_and_the_header_stays_put(served, new_page):
    base, _ = served
    page = new_page()
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    sign_in(page, f"{base}/console", "alice")
    header = filters_header(page)
    before = header.bounding_box()
    header.click()
    wait_ready(page)
    assert header.bounding_box() == before  # opening it grows it downwards only

    page.get_by_role("combobox", name="Tool").click()
    options = page.get_by_role("option", name="send_email")
    expect(options).to_be_visible()
    page.keyboard.press("Escape")
    expect(options).to_have_count(0)  # the dropdown closed…
    for name in FIELDS:  # …and the filters it was in did not
        expect(field(page, name)).to_be_visible()
    assert uncovered(page.locator(".st-key-console_queue"))

    page.get_by_role("combobox", name="Tool").click()
    page.get_by_role("option", name="send_email").click()
    page.keyboard.press("Escape")
    wait_ready(page)
    expect(page.get_by_role("button", name="tool: send_email")).to_be_visible()  # what is set, said below it
    assert header.bounding_box() == before, "the Filters header moved when a filter was set"
    header.click()  # closed, the filter still holds, and the header is still where it was
    wait_ready(page)
    expect(field(page, "Tool")).to_have_count(0)
    expect(page.get_by_role("button", name="tool: send_email")).to_be_visible()
    assert header.bounding_box() == before
    assert "tool=send_email" in page.url
    page.reload()
    wait_ready(page)
    expect(page.get_by_role("button", name="tool: send_email")).to_be_visible()  # a reload keeps it


def test_on_a_phone_a_tapped_conversation_closes_the_sidebar(served, phone):
    base, _ = served
    page = sign_in(phone(), f"{base}/console", "carol")
    visit(page, f"{base}/")
    sidebar = page.locator("[data-testid='stSidebar']")
    expect(sidebar).to_have_attribute("data-collapsed", "true")  # a phone starts with it closed
    page.get_by_test_id("stExpandSidebarButton").tap()
    expect(sidebar).to_have_attribute("data-collapsed", "false")
    page.locator("[class*='st-key-conversation_open_'] button").first.tap()
    wait_ready(page)
    expect(sidebar).to_have_attribute("data-collapsed", "true")
    assert re.search(r"thread=", page.url)
    message = page.locator("[data-testid='stChatMessage']").first
    expect(message).to_be_visible()
    assert uncovered(message), "the sidebar still lies over the conversation"


def test_on_a_desktop_the_sidebar_stays_open_after_a_pick(served, new_page):
    base, _ = served
    page = new_page()
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    sign_in(page, f"{base}/console", "carol")
    visit(page, f"{base}/")
    sidebar = page.locator("[data-testid='stSidebar']")
    page.locator("[class*='st-key-conversation_open_'] button").first.click()
    wait_ready(page)
    expect(page.locator("[data-testid='stChatMessage']").first).to_be_visible()
    expect(sidebar).to_have_attribute("data-collapsed", "false")  # beside the page, it hides nothing


def test_on_a_phone_a_tapped_row_brings_its_item_into_view_without_key_hints(served, phone):
    base, _ = served
    page = sign_in(phone(), f"{base}/console", "bob")
    table = page.locator(".st-key-console_queue").bounding_box()
    assert table
    page.touchscreen.tap(table["x"] + 100, table["y"] + ROW_HEIGHT * 2.5)  # the second row
    heading = page.get_by_role("heading", name=re.compile("^send_email for carol"))
    expect(heading).to_be_visible()
    keys_live(page)
    assert "thread=" in page.url
    assert in_view(heading), "the opened item is off screen"
    approve = page.locator(".st-key-console_approve button")
    expect(approve).to_have_accessible_name("Approve")  # what a screen reader says too
    expect(approve.locator("kbd")).to_be_hidden()  # a touch screen: no A to press
    expect(page.locator("[data-testid^='stBaseButton'] kbd:visible")).to_have_count(0)
