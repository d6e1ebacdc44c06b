"""Decide what you saw, in a real browser at 1400×900: while an edit is open A confirms the edit (never the request
as proposed), a destructive request names what will run before it runs, and the open item's Approve stays inside
the window, in the same place, with a queue of ten items."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from harness import keys_live, requested, sign_in, wait_ready
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1400, "height": 900}


def rows(app_db: str, sql: str) -> list[tuple]:
    with sqlite3.connect(app_db) as conn:
        return conn.execute(sql).fetchall()


def applied(app_db: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while rows(app_db, "SELECT COUNT(*) FROM decisions WHERE applied_at IS NOT NULL")[0][0] < count:
        assert time.monotonic() < deadline, "the decision was never applied"
        time.sleep(0.2)


def reviewer(new_page, url: str) -> Page:
    page = new_page()
    page.set_viewport_size(VIEWPORT)
    return sign_in(page, url, "alice")


def press(page: Page, key: str) -> None:
    page.keyboard.press(key)
    wait_ready(page)


def approve_button(page: Page):
    return page.locator(".st-key-console_approve button")


def test_a_after_an_edit_confirms_the_edit_and_never_runs_the_original(app_server, app_db, new_page):
    (thread_id,) = requested(app_db, "Refund order 55 for $250")
    page = reviewer(new_page, f"{app_server}/console?thread={thread_id}")
    expect(page.get_by_text("Claimed by you until")).to_be_visible()
    press(page, "e")
    amount = page.get_by_label("Amount", exact=True)
    amount.fill("200")
    amount.press("Tab")
    page.get_by_role("button", name="Approve with edits").click()
    wait_ready(page)
    expect(page.get_by_role("button", name="Confirm edit")).to_be_visible()
    expect(approve_button(page)).to_be_disabled()  # the request as proposed cannot be approved meanwhile
    page.evaluate("document.activeElement.blur()")  # nothing focused but the page, as after a click on it
    keys_live(page)
    press(page, "a")
    applied(app_db, 1)
    assert rows(app_db, "SELECT decision, decided_by FROM decisions") == [("edit", "alice")]
    ((args,),) = rows(app_db, "SELECT args FROM ledger")
    assert json.loads(args) == {"order_id": "55", "amount": 200.0}
    ((diff,),) = rows(app_db, "SELECT edit_diff FROM decisions")  # what the History tab shows
    assert json.loads(diff) == [{"tool": "issue_refund", "changes": {"amount": [250.0, 200.0]}}]


def test_a_destructive_request_names_what_will_run_before_it_runs(app_server, app_db, new_page):
    (thread_id,) = requested(app_db, "Delete customer 77")
    page = reviewer(new_page, f"{app_server}/console?thread={thread_id}")
    expect(page.get_by_text("Claimed by you until")).to_be_visible()
    keys_live(page)
    press(page, "a")
    expect(page.get_by_text("This cannot be undone. Approving runs:")).to_be_visible()
    expect(page.get_by_text("delete_customer(customer_id=77)", exact=True)).to_be_visible()
    assert rows(app_db, "SELECT COUNT(*) FROM decisions") == [(0,)]  # A asked; it did not run anything
    keys_live(page)
    press(page, "a")  # the confirmation has a key of its own: A again runs nothing
    assert rows(app_db, "SELECT COUNT(*) FROM decisions") == [(0,)]
    press(page, "y")
    applied(app_db, 1)
    ((tool, args),) = rows(app_db, "SELECT tool, args FROM ledger")
    assert (tool, json.loads(args)) == ("delete_customer", {"customer_id": "77"})


def test_the_open_items_approve_stays_in_view_and_in_place_across_decisions(app_server, app_db, new_page):
    thread_ids = requested(app_db, *(f"Email jo{n}@example.com about the delay" for n in range(10)))
    page = reviewer(new_page, f"{app_server}/console")
    press(page, "j")
    places = []
    for n in range(3):
        expect(page.get_by_text("Claimed by you until")).to_be_visible()
        box = approve_button(page).bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], f"Approve at y={box['y']}"
        assert box["x"] + box["width"] <= VIEWPORT["width"]
        places.append((round(box["y"]), page.evaluate("window.scrollY")))
        keys_live(page)
        press(page, "a")
        expect(page.get_by_text(f"{10 - n - 1} pending", exact=True)).to_be_visible()
        wait_ready(page)
    assert len(set(places)) == 1, f"the Approve button moved: {places}"
    assert rows(app_db, "SELECT COUNT(*) FROM decisions")[0][0] == 3
    assert page.evaluate("new URLSearchParams(location.search).get('thread')") == thread_ids[3]
