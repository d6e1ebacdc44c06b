"""Two reviewers in two real browsers approve the same item at nearly the same time: one decision lands, the tool
runs once, and the slower reviewer is told who was first."""

from __future__ import annotations

import sqlite3
import time

import pytest
from conftest import CAROL
from harness import sign_in, wait_ready
from playwright.sync_api import expect

from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

pytestmark = pytest.mark.browser


def email_pending(app_db: str) -> str:
    """Carol asks for an email (reviewer-only); returns the thread id."""
    store = open_store(app_db)
    try:
        service = ApprovalService(store)
        thread_id = service.new_thread_id()
        service.send_message(thread_id, "Email jo@example.com about the delay", CAROL)
        return thread_id
    finally:
        store.close()


def value(app_db: str, sql: str, thread_id: str) -> object:
    """The first column of the first row, read straight from the app's database file."""
    with sqlite3.connect(app_db) as conn:
        return conn.execute(sql, (thread_id,)).fetchone()[0]


def test_two_reviewers_approve_at_once_and_exactly_one_decision_applies(app_server, app_db, new_page):
    thread_id = email_pending(app_db)
    item_url = f"{app_server}/console?thread={thread_id}"
    alice, bob = new_page(), new_page()

    sign_in(alice, item_url, "alice")
    expect(alice.get_by_text("Claimed by you until")).to_be_visible()
    sign_in(bob, item_url, "bob")
    expect(bob.get_by_text("Claimed by alice until")).to_be_visible()
    expect(bob.locator(".st-key-console_approve button")).to_have_count(0)
    bob.get_by_role("button", name="Take over").click()
    bob.get_by_role("button", name="Confirm take over").click()
    wait_ready(bob)

    approve = [page.locator(".st-key-console_approve button") for page in (alice, bob)]  # "Approve" + its key A
    for button in approve:
        expect(button).to_be_enabled()
    for button in approve:  # both clicks are in flight before either page has rerun
        button.click(no_wait_after=True)

    decided = {name: page.get_by_text("You decided this: approve") for name, page in (("alice", alice), ("bob", bob))}
    for page, other in ((alice, "bob"), (bob, "alice")):
        expect(page.get_by_text("You decided this: approve").or_(page.get_by_text(f"Already decided by {other} at"))
               ).to_be_visible()
    winners = [name for name, banner in decided.items() if banner.count()]
    assert len(winners) == 1
    loser = bob if winners == ["alice"] else alice
    expect(loser.get_by_text(f"Already decided by {winners[0]} at")).to_be_visible()

    deadline = time.monotonic() + 30
    applied = "SELECT COUNT(*) FROM decisions WHERE thread_id = ? AND applied_at IS NOT NULL"
    while value(app_db, applied, thread_id) == 0:
        assert time.monotonic() < deadline, "the winning decision was never applied"
        time.sleep(0.1)
    assert value(app_db, "SELECT COUNT(*) FROM decisions WHERE thread_id = ?", thread_id) == 1
    assert value(app_db, "SELECT decided_by FROM decisions WHERE thread_id = ?", thread_id) == winners[0]
    assert value(app_db, "SELECT COUNT(*) FROM ledger WHERE thread_id = ?", thread_id) == 1
