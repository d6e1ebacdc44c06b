"""Work in progress survives a browser reload (issue 26, item 7), in a real browser on one served app: an open edit
form keeps its values (even one still being typed) and its confirmation step, and the decision records the edited
value only once alice presses the button; Cancel drops it; ticked rows and an open bulk confirmation come back, a
tick whose item was decided meanwhile is dropped with a note; bob (another browser context) never sees alice's
draft, and a decided item's draft is gone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from conftest import BOB
from harness import db_value, keys_live, requested, served_app, sign_in, until, wait_ready
from playwright.sync_api import Page, expect

from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

pytestmark = pytest.mark.browser

ROW_HEIGHT = 35  # st.dataframe's row (and header) height in pixels
DRAFTS = "SELECT COUNT(*) FROM drafts WHERE thread_id = ?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    yield from served_app(tmp_path_factory.mktemp("drafts"))


def decided_by_bob(app_db: str, thread_id: str) -> None:
    """Bob takes the thread's item over and approves it elsewhere (another replica: the one decision command)."""
    store = open_store(app_db)
    try:
        service = ApprovalService(store)
        pending = service.pending_approval(thread_id, viewer=BOB)
        service.claim(thread_id, pending.interrupt_id, BOB, take_over=True)  # alice may still have it open
        service.record_decision(thread_id, pending.interrupt_id, {"decisions": [{"type": "approve"}]}, BOB)
    finally:
        store.close()


def reload(page: Page) -> None:
    page.reload()
    wait_ready(page)


def amount(page: Page):
    return page.get_by_role("spinbutton", name="Amount")


def settle(page: Page, app_db: str, thread_id: str, typed: str) -> None:
    """The change typed into a field reaches the server when it loses focus (as a click elsewhere does), and is
    kept as the draft."""
    page.keyboard.press("Tab")
    kept = "SELECT COUNT(*) FROM drafts WHERE thread_id = ? AND kind = 'edit' AND value LIKE '%" + typed + "%'"
    until(lambda: db_value(app_db, kept, thread_id) == 1, f"{typed} was never kept")
    wait_ready(page)


def test_an_edit_survives_reloads_and_is_recorded_only_when_alice_presses_confirm(served, new_page):
    base, app_db = served
    (thread_id,) = requested(app_db, "Refund order 101 for $150")
    alice = sign_in(new_page(), f"{base}/console?thread={thread_id}", "alice")
    expect(alice.get_by_text("Claimed by you until")).to_be_visible()
    alice.get_by_role("button", name=re.compile("^Edit")).click()
    amount(alice).fill("120")
    settle(alice, app_db, thread_id, "120")

    reload(alice)
    expect(amount(alice)).to_have_value(re.compile(r"^120(\.0+)?$"))
    expect(alice.get_by_text("Your edit of this request was kept from before the reload")).to_be_visible()
    assert db_value(app_db, "SELECT COUNT(*) FROM decisions WHERE thread_id = ?", thread_id) == 0
    assert "120" not in alice.url  # the edited value is not in the URL (history, logs)

    alice.get_by_role("button", name=re.compile("^Approve with edits")).click()
    wait_ready(alice)
    expect(alice.get_by_role("button", name=re.compile("^Confirm edit"))).to_be_visible()
    reload(alice)  # the confirmation step comes back too, still deciding nothing
    expect(alice.get_by_role("button", name=re.compile("^Confirm edit"))).to_be_visible()
    assert db_value(app_db, "SELECT COUNT(*) FROM decisions WHERE thread_id = ?", thread_id) == 0

    keys_live(alice)
    alice.get_by_role("button", name=re.compile("^Confirm edit")).click()
    until(lambda: db_value(app_db, "SELECT COUNT(*) FROM ledger WHERE thread_id = ?", thread_id) == 1,
          "the edited refund never ran")
    assert db_value(app_db, "SELECT decision FROM decisions WHERE thread_id = ?", thread_id) == "edit"
    diff = json.loads(db_value(app_db, "SELECT edit_diff FROM decisions WHERE thread_id = ?", thread_id))
    assert diff == [{"tool": "issue_refund", "changes": {"amount": [150.0, 120.0]}}]
    assert json.loads(db_value(app_db, "SELECT args FROM ledger WHERE thread_id = ?", thread_id))["amount"] == 120.0
    assert db_value(app_db, DRAFTS, thread_id) == 0  # submitted: the draft is gone


def test_a_value_still_being_typed_when_the_page_reloads_is_kept(served, new_page):
    base, app_db = served
    (thread_id,) = requested(app_db, "Refund order 103 for $150")
    alice = sign_in(new_page(), f"{base}/console?thread={thread_id}", "alice")
    expect(alice.get_by_text("Claimed by you until")).to_be_visible()
    alice.get_by_role("button", name=re.compile("^Edit")).click()
    wait_ready(alice)
    amount(alice).fill("130")  # the cursor still in the field: the page hands the value in as it unloads
    reload(alice)
    expect(amount(alice)).to_have_value(re.compile(r"^130(\.0+)?$"))
    alice.get_by_role("button", name="Cancel").click()  # closing the form drops the draft
    until(lambda: db_value(app_db, DRAFTS, thread_id) == 0, "Cancel left the draft")
    reload(alice)
    expect(amount(alice)).to_have_count(0)
    decided_by_bob(app_db, thread_id)  # nothing of this test left in the queue the bulk test ticks


def test_bob_never_sees_alices_draft_and_a_decided_items_draft_is_gone(served, new_page):
    base, app_db = served
    (thread_id,) = requested(app_db, "Refund order 102 for $150")
    item_url = f"{base}/console?thread={thread_id}"
    alice = sign_in(new_page(), item_url, "alice")
    expect(alice.get_by_text("Claimed by you until")).to_be_visible()
    alice.get_by_role("button", name=re.compile("^Edit")).click()
    amount(alice).fill("120")
    settle(alice, app_db, thread_id, "120")
    alice.get_by_role("button", name="Close").click()  # lets go of the item; the draft stays hers
    wait_ready(alice)

    bob = sign_in(new_page(), item_url, "bob")
    expect(bob.get_by_text("Claimed by you until")).to_be_visible()
    expect(bob.locator(".st-key-console_approve button")).to_be_enabled()
    expect(amount(bob)).to_have_count(0)
    expect(bob.get_by_text("kept from before the reload")).to_have_count(0)
    bob.get_by_role("button", name=re.compile("^Edit")).click()  # his own form starts from what was asked
    expect(amount(bob)).to_have_value(re.compile(r"^150(\.0+)?$"))
    bob.get_by_role("button", name="Cancel").click()
    until(lambda: db_value(app_db, "SELECT COUNT(*) FROM drafts WHERE thread_id = ? AND username = 'bob'",
                           thread_id) == 0, "bob's Cancel left his draft")
    assert db_value(app_db, "SELECT COUNT(*) FROM drafts WHERE thread_id = ? AND username = 'alice'", thread_id) == 1

    keys_live(bob)
    bob.locator(".st-key-console_approve button").click()
    until(lambda: db_value(app_db, "SELECT COUNT(*) FROM decisions WHERE thread_id = ?", thread_id) == 1,
          "bob's approval was never recorded")
    assert db_value(app_db, DRAFTS, thread_id) == 0  # decided: alice's draft went with it

    alice.goto(item_url)
    wait_ready(alice)
    expect(alice.get_by_text(re.compile("Approved by bob at"))).to_be_visible()
    expect(amount(alice)).to_have_count(0)


def tick(page: Page, row: int) -> None:
    """Tick a queue row's checkbox (the row marker at the table's left edge)."""
    table = page.locator(".st-key-console_queue").bounding_box()
    assert table is not None
    page.mouse.click(table["x"] + 18, table["y"] + ROW_HEIGHT * (row + 1.5))
    wait_ready(page)


def test_ticked_rows_and_an_open_bulk_confirmation_survive_a_reload(served, new_page):
    base, app_db = served
    first, second, third = requested(app_db, *(f"Email jo{n}@example.com about the delay" for n in range(3)))
    alice = sign_in(new_page(), f"{base}/console", "alice")
    expect(alice.get_by_text("3 pending", exact=True)).to_be_visible()  # only this test's: rows 0 and 1 are its own
    tick(alice, 0)
    tick(alice, 1)
    expect(alice.get_by_role("button", name="Approve selected (2)")).to_be_visible()

    reload(alice)
    expect(alice.get_by_role("button", name="Approve selected (2)")).to_be_visible()
    alice.get_by_role("button", name="Approve selected (2)").click()
    expect(alice.get_by_text("Approve 2 requests? This runs:")).to_be_visible()

    reload(alice)
    expect(alice.get_by_text("Approve 2 requests? This runs:")).to_be_visible()
    expect(alice.get_by_role("button", name="Confirm: approve 2")).to_be_visible()
    assert db_value(app_db, "SELECT COUNT(*) FROM decisions WHERE thread_id = ?", second) == 0  # shown, not run

    decided_by_bob(app_db, first)  # meanwhile, elsewhere
    reload(alice)
    expect(alice.get_by_text(re.compile(r"1 ticked item is no longer pending .* so no longer ticked: send_email"
                                        r" for carol \(to=jo0@example\.com"))).to_be_visible()
    alice.get_by_role("button", name="Confirm: approve 1").click()
    expect(alice.get_by_text("1 approved.")).to_be_visible()
    assert db_value(app_db, "SELECT decided_by FROM decisions WHERE thread_id = ?", second) == "alice"
    assert db_value(app_db, "SELECT COUNT(*) FROM decisions WHERE thread_id = ?", third) == 0
    assert db_value(app_db, DRAFTS, second) == db_value(app_db, DRAFTS, first) == 0
