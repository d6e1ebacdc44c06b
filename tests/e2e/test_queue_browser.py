"""The queue in a real browser: a filter that hides everything says how many it hides (and Clear brings them back),
and a claim lets go within 30 s of its tab closing, so another reviewer gets the item's buttons."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

import pytest
from harness import requested, sign_in, wait_ready
from playwright.sync_api import expect

from approvals.store.database import iso

pytestmark = pytest.mark.browser


def live_claims(app_db: str) -> list[str]:
    with sqlite3.connect(app_db) as conn:
        rows = conn.execute("SELECT claimed_by FROM claims WHERE expires_at > ?", (iso(datetime.now(UTC)),))
        return [row[0] for row in rows]


def test_a_filter_that_hides_everything_says_how_many_it_hides(app_server, app_db, new_page):
    requested(app_db, "Email jo@example.com about the delay", "Delete customer 77", "Refund order 55 for $250")
    page = sign_in(new_page(), f"{app_server}/console?requester=nobody", "alice")
    expect(page.get_by_text("0 of 3 pending match these filters")).to_be_visible()
    expect(page.get_by_text("Nothing is waiting for a decision")).to_have_count(0)  # that would be false
    expect(page.get_by_role("button", name="requester: nobody")).to_be_visible()  # the chip saying why
    page.locator(".st-key-console_clear_empty button").click()
    expect(page.get_by_text("3 pending", exact=True)).to_be_visible()
    wait_ready(page)
    assert "requester" not in page.url


def test_a_closed_tabs_claim_is_gone_within_30_seconds(app_server, app_db, new_page):
    (thread_id,) = requested(app_db, "Email jo@example.com about the delay")
    alice = sign_in(new_page(), f"{app_server}/console?thread={thread_id}", "alice")
    expect(alice.get_by_text("Claimed by you until")).to_be_visible()
    assert live_claims(app_db) == ["alice"]
    alice.context.close()  # the tab (and its browser) goes away without closing the item
    closed = time.monotonic()
    while live_claims(app_db):
        assert time.monotonic() - closed < 30, "the closed tab's claim outlived it by 30 s"
        time.sleep(0.5)
    bob = sign_in(new_page(), f"{app_server}/console?thread={thread_id}", "bob")
    expect(bob.get_by_text("Claimed by you until")).to_be_visible()
    expect(bob.locator(".st-key-console_approve button")).to_be_visible()
