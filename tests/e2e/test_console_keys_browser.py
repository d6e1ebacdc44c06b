"""A reviewer works the queue in a real browser: a click on a row opens it, and 20 items are cleared with the
keyboard alone (J opens the first, A approves), each decision opening the next item by itself, and the ledger
shows every tool ran exactly once; X rejects with a message typed straight away (Ctrl+Enter sends it)."""

from __future__ import annotations

import sqlite3
import time

import pytest
from conftest import CAROL
from harness import keys_live, sign_in, wait_ready
from playwright.sync_api import Page, expect

from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

pytestmark = pytest.mark.browser

ITEMS = 20
ROW_HEIGHT = 35  # st.dataframe's row (and header) height in pixels


def emails_pending(app_db: str, count: int) -> list[str]:
    """Carol asks for `count` emails (reviewer-only), oldest first; returns their thread ids in queue order."""
    store = open_store(app_db)
    try:
        service = ApprovalService(store)
        thread_ids = [service.new_thread_id() for _ in range(count)]
        for n, thread_id in enumerate(thread_ids):
            service.send_message(thread_id, f"Email jo{n}@example.com about the delay", CAROL)
        return thread_ids
    finally:
        store.close()


def rows(app_db: str, sql: str) -> list[tuple]:
    with sqlite3.connect(app_db) as conn:
        return conn.execute(sql).fetchall()


def open_thread(page: Page) -> str | None:
    return page.evaluate("new URLSearchParams(location.search).get('thread')")


def press(page: Page, key: str, pending_after: int | None = None) -> None:
    """Press a key with nothing focused but the page, then wait for the run it starts to be drawn."""
    page.keyboard.press(key)
    if pending_after is not None:
        expect(page.get_by_text(f"{pending_after} pending", exact=True)).to_be_visible()
    wait_ready(page)


def test_clicking_a_row_opens_that_item(app_server, app_db, new_page):
    thread_ids = emails_pending(app_db, 3)
    page = new_page()
    sign_in(page, f"{app_server}/console", "alice")
    table = page.locator(".st-key-console_queue").bounding_box()
    page.mouse.click(table["x"] + 300, table["y"] + ROW_HEIGHT * 2.5)  # the Tool cell of the second row
    expect(page.get_by_text("Claimed by you until")).to_be_visible()
    wait_ready(page)
    assert open_thread(page) == thread_ids[1]
    expect(page.get_by_text("Email jo1@example.com about the delay")).to_be_visible()


def test_twenty_items_cleared_with_the_keyboard_alone(app_server, app_db, new_page):
    thread_ids = emails_pending(app_db, ITEMS)
    page = new_page()
    sign_in(page, f"{app_server}/console", "alice")
    expect(page.locator(".st-key-console_next_item button")).to_contain_text("J")  # the keys are on the buttons

    press(page, "j")
    expect(page.locator(".st-key-console_approve button")).to_contain_text("A")  # the page's first item is open
    seen = []
    for n in range(ITEMS):
        seen.append(open_thread(page))
        expect(page.get_by_text("Claimed by you until")).to_be_visible()  # auto-advanced items are claimed too
        keys_live(page)
        press(page, "a", ITEMS - n - 1)
    assert seen == thread_ids  # each decision opened the next item in queue order
    expect(page.get_by_text("You decided this: approve")).to_be_visible()

    wait_all_applied(app_db)
    decisions = rows(app_db, "SELECT thread_id, decision, decided_by FROM decisions")
    assert sorted(decisions) == sorted((thread_id, "approve", "alice") for thread_id in thread_ids)
    ledger = rows(app_db, "SELECT thread_id, tool, COUNT(*) FROM ledger GROUP BY thread_id, tool")
    assert sorted(ledger) == sorted((thread_id, "send_email", 1) for thread_id in thread_ids)


def test_x_rejects_with_a_message_typed_straight_away(app_server, app_db, new_page):
    first, second = emails_pending(app_db, 2)
    page = new_page()
    sign_in(page, f"{app_server}/console", "alice")
    press(page, "j")
    expect(page.get_by_text("Claimed by you until")).to_be_visible()
    keys_live(page)
    press(page, "x")
    expect(page.get_by_label("Why reject? The agent sees this message.")).to_be_focused()
    page.keyboard.type("Not during the freeze.")
    press(page, "Control+Enter", 1)
    assert open_thread(page) == second
    expect(page.get_by_text("Rejected: an email to jo0@example.com, subject “About the delay” (carol).")
           ).to_be_visible()
    wait_all_applied(app_db)
    assert rows(app_db, "SELECT thread_id, decision, message FROM decisions") == [
        (first, "reject", "Not during the freeze.")]
    assert rows(app_db, "SELECT COUNT(*) FROM ledger") == [(0,)]


def wait_all_applied(app_db: str) -> None:
    deadline = time.monotonic() + 60
    while rows(app_db, "SELECT COUNT(*) FROM decisions WHERE applied_at IS NULL")[0][0]:
        assert time.monotonic() < deadline, "decisions were never applied"
        time.sleep(0.2)
