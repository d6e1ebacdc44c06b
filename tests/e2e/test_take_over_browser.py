"""A take-over binds the previous holder, in a real browser with two contexts: alice's pane has not refreshed
since bob took her item over (its fragment reruns held back, as on a slow link), so its Approve is still there;
her click reaches the decision command, which refuses it naming bob. Nothing of hers is recorded; bob decides."""

from __future__ import annotations

import re
import time

import pytest
from harness import carols_email, db_value, sign_in, wait_ready
from playwright.sync_api import Page, WebSocketRoute, expect
from streamlit.proto.BackMsg_pb2 import BackMsg

pytestmark = pytest.mark.browser


def hold_pane_refreshes(page: Page) -> dict[str, bool]:
    """While `held["on"]`, the page's fragment reruns (the pane's follow-up every few seconds) never reach the
    server, so the pane stays as it was drawn; clicks still go through. Returns the switch."""
    held = {"on": False}

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_server(message: str | bytes) -> None:
            if held["on"] and isinstance(message, bytes):
                back = BackMsg()
                back.ParseFromString(message)
                if back.WhichOneof("type") == "rerun_script" and back.rerun_script.fragment_id:
                    return
            server.send(message)

        ws.on_message(to_server)  # the server's messages still reach the page untouched

    page.route_web_socket(re.compile(r".*/_stcore/stream.*"), route)
    return held


def test_the_previous_holders_click_after_a_take_over_is_refused_naming_bob(app_server, app_db, new_page):
    thread_id = carols_email(app_db)
    item_url = f"{app_server}/console?thread={thread_id}"
    alice, bob = new_page(), new_page()
    held = hold_pane_refreshes(alice)

    sign_in(alice, item_url, "alice")
    expect(alice.get_by_text("Claimed by you until")).to_be_visible()
    approve = alice.locator(".st-key-console_approve button")
    expect(approve).to_be_enabled()
    held["on"] = True

    sign_in(bob, item_url, "bob")
    bob.get_by_role("button", name="Take over").click()
    bob.get_by_role("button", name="Confirm take over").click()
    wait_ready(bob)
    expect(bob.get_by_text("Claimed by you until")).to_be_visible()
    assert db_value(app_db, "SELECT claimed_by FROM claims WHERE thread_id = ?", thread_id) == "bob"

    approve.click()  # alice's pane still shows the item as hers
    expect(alice.get_by_text("bob took this item over from you at")).to_be_visible()
    assert db_value(app_db, "SELECT COUNT(*) FROM decisions WHERE thread_id = ?", thread_id) == 0
    held["on"] = False

    bob.locator(".st-key-console_approve button").click()
    deadline = time.monotonic() + 30
    applied = "SELECT COUNT(*) FROM decisions WHERE thread_id = ? AND applied_at IS NOT NULL"
    while db_value(app_db, applied, thread_id) == 0:
        assert time.monotonic() < deadline, "bob's decision was never applied"
        time.sleep(0.1)
    assert db_value(app_db, "SELECT decided_by FROM decisions WHERE thread_id = ?", thread_id) == "bob"
    assert db_value(app_db, "SELECT COUNT(*) FROM ledger WHERE thread_id = ?", thread_id) == 1
    assert db_value(app_db, "SELECT COUNT(*) FROM runs WHERE thread_id = ? AND kind = 'decision'", thread_id) == 1
