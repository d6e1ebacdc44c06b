"""Two reviewers in two real browsers: an open pane follows what the other does to its item (taken over, decided),
within 5 s and in the reader's time; one decision lands and the tool runs once."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from harness import carols_email, db_value, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_an_open_pane_follows_the_item_taken_over_and_decided_elsewhere(app_server, app_db, new_page, browser):
    """Alice's pane, in New York time, learns within 5 s (no reload) that bob took the item over (her buttons go)
    and then that he approved it, with who and when; one decision lands and the tool runs once."""
    thread_id = carols_email(app_db)
    item_url = f"{app_server}/console?thread={thread_id}"
    alice_context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="America/New_York")
    alice, bob = alice_context.new_page(), new_page()

    sign_in(alice, item_url, "alice")
    expect(alice.get_by_text("Claimed by you until")).to_be_visible()
    sign_in(bob, item_url, "bob")
    expect(bob.get_by_text("Claimed by alice since")).to_be_visible()
    expect(bob.locator(".st-key-console_approve button")).to_have_count(0)
    bob.get_by_role("button", name="Take over").click()
    bob.get_by_role("button", name="Confirm take over").click()
    expect(bob.get_by_text("Claimed by you until")).to_be_visible()

    expect(alice.get_by_text("Claimed by bob since")).to_be_visible(timeout=5_000)
    expect(alice.locator(".st-key-console_approve button")).to_have_count(0)
    bob.locator(".st-key-console_approve button").click()  # waits until its keys are live
    deadline = time.monotonic() + 30
    while not db_value(app_db, "SELECT COUNT(*) FROM decisions WHERE thread_id = ?", thread_id):
        assert time.monotonic() < deadline, "bob's approval was never recorded"
        time.sleep(0.1)
    decided_at = db_value(app_db, "SELECT decided_at FROM decisions WHERE thread_id = ?", thread_id)
    local = datetime.fromisoformat(str(decided_at)).astimezone(ZoneInfo("America/New_York")).strftime("%H:%M:%S")
    expect(alice.get_by_text(f"Approved by bob at {local}")).to_be_visible(timeout=5_000)
    expect(alice.get_by_role("button", name="Take over")).to_have_count(0)

    applied = "SELECT COUNT(*) FROM decisions WHERE thread_id = ? AND applied_at IS NOT NULL"
    while db_value(app_db, applied, thread_id) == 0:
        assert time.monotonic() < deadline, "the decision was never applied"
        time.sleep(0.1)
    assert db_value(app_db, "SELECT decided_by FROM decisions WHERE thread_id = ?", thread_id) == "bob"
    assert db_value(app_db, "SELECT COUNT(*) FROM ledger WHERE thread_id = ?", thread_id) == 1
    alice_context.close()
