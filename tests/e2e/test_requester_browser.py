"""The requester's side of the loop in a real browser: carol's conversation shows who decided, and when, within 5 s
of alice's decision in another browser, without a reload; while she waits it says who can act, and nothing she
cannot do."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from harness import sign_in, visit, wait_ready
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def ask(page: Page, text: str) -> str:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_text("Waiting for a reviewer")).to_be_visible()
    wait_ready(page)
    return parse_qs(urlsplit(page.url).query)["thread"][0]


def test_the_requesters_tab_shows_the_decider_without_a_reload(app_server, new_page):
    carol = sign_in(new_page(), f"{app_server}/console", "carol")
    visit(carol, app_server)
    thread_id = ask(carol, "Refund order 55 for $250")
    expect(carol.get_by_text("Decide the pending action above")).to_have_count(0)  # she cannot
    expect(carol.get_by_text("Any reviewer other than the requester can decide it")).to_be_visible()
    expect(carol.get_by_role("button", name="Approve")).to_have_count(0)
    carol.evaluate("window.reloaded = false")  # a reload would drop this

    alice = sign_in(new_page(), f"{app_server}/console?thread={thread_id}", "alice")  # another person
    alice.locator(".st-key-console_approve button").click()
    wait_ready(alice)

    expect(carol.get_by_text("Approved by alice at")).to_be_visible(timeout=5_000)
    expect(carol.get_by_text("issue_refund: Refunded $250.00 on order 55", exact=False)).to_be_visible()
    assert carol.evaluate("window.reloaded") is False
    expect(carol.get_by_text("Waiting for a reviewer")).to_have_count(0)


def test_a_withdrawn_request_tells_the_agent_and_leaves_the_queue(app_server, new_page):
    carol = sign_in(new_page(), f"{app_server}/console", "carol")
    visit(carol, app_server)
    ask(carol, "Delete customer 77")
    carol.get_by_role("button", name="Withdraw request").click()
    expect(carol.get_by_text("Withdraw this request? Nothing will run")).to_be_visible()  # asked once
    carol.get_by_role("button", name="Confirm withdraw").click()
    expect(carol.get_by_text("Withdrawn by carol at")).to_be_visible()
    expect(carol.get_by_text("⛔ delete_customer", exact=False)).to_be_visible()  # the agent got the reject

    alice = sign_in(new_page(), f"{app_server}/console", "alice")
    expect(alice.get_by_text("0 pending", exact=True)).to_be_visible()
