"""What reviewers and requesters see, in a real browser, on one served app for the module: a key decides only the
item drawn when it was pressed, once it could be read (a double A approves one item; a destructive one needs its
own key); the next item's heading says what differs; an edit never rewrites what the agent proposed; a withdrawal
asks once and the reviewer's open pane follows it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from harness import keys_live, requested, served_app, sign_in, until, visit, wait_ready
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    yield from served_app(tmp_path_factory.mktemp("screens"))


def decided(app_db: str, thread_ids: list[str]) -> list[str]:
    marks = ", ".join("?" * len(thread_ids))
    with sqlite3.connect(app_db) as conn:
        return [row[0] for row in conn.execute(
            f"SELECT thread_id FROM decisions WHERE thread_id IN ({marks}) ORDER BY decided_at", thread_ids)]


def open_thread(page: Page) -> str | None:
    return page.evaluate("new URLSearchParams(location.search).get('thread')")


def double_press(page: Page, key: str, gap_ms: int) -> None:
    page.keyboard.press(key)
    page.wait_for_timeout(gap_ms)
    page.keyboard.press(key)


@pytest.mark.parametrize("gap_ms", [150, 400])
def test_a_double_a_approves_only_the_item_that_was_on_screen(served, new_page, gap_ms):
    base, app_db = served
    thread_ids = requested(app_db, *(f"Email jo{n}@example.com about the {gap_ms} ms gap" for n in range(3)))
    page = sign_in(new_page(), f"{base}/console?thread={thread_ids[0]}", "alice")
    keys_live(page)
    double_press(page, "a", gap_ms)
    expect(page).to_have_url(re.compile(f"thread={thread_ids[1]}"))  # the next item opened…
    keys_live(page)
    assert decided(app_db, thread_ids) == [thread_ids[0]]  # …and the second press did not approve it
    assert open_thread(page) == thread_ids[1]
    expect(page.locator(".st-key-console_approve button")).to_be_enabled()
    expect(page.get_by_role("heading", name=re.compile("an email to jo1@example.com"))).to_be_visible()


def test_a_double_a_on_a_destructive_item_only_asks_for_the_confirmation(served, new_page):
    base, app_db = served
    (thread_id,) = requested(app_db, "Delete customer 78")
    page = sign_in(new_page(), f"{base}/console?thread={thread_id}", "alice")
    keys_live(page)
    double_press(page, "a", 150)
    expect(page.get_by_role("button", name="Confirm: run delete_customer")).to_be_visible()
    keys_live(page)
    wait_ready(page)
    assert decided(app_db, [thread_id]) == []  # asked, ran nothing
    page.keyboard.press("y")  # the confirmation's own key
    until(lambda: decided(app_db, [thread_id]) == [thread_id], "Y never ran the confirmed request")


def test_an_edit_keeps_the_proposal_and_says_what_the_reviewer_made_of_it(served, new_page):
    base, app_db = served
    (thread_id,) = requested(app_db, "Refund order 101 for $150")
    carol = sign_in(new_page(), f"{base}/console", "carol")
    visit(carol, f"{base}/?thread={thread_id}")
    alice = sign_in(new_page(), f"{base}/console?thread={thread_id}", "alice")
    expect(alice.get_by_role("heading", name=re.compile("a refund of \\$150.00 for order 101"))).to_be_visible()
    keys_live(alice)
    alice.keyboard.press("e")
    amount = alice.get_by_label("Amount", exact=True)
    amount.fill("120")
    amount.press("Tab")
    alice.get_by_role("button", name="Approve with edits").click()
    expect(alice.get_by_text("Your edit")).to_be_visible()  # its diff, in money (tests/pages/test_console_page.py)
    alice.locator(".st-key-console_confirm_edit button").click()

    expect(carol.get_by_text("Approved with edits by alice at")).to_be_visible()
    expect(carol.get_by_text("edited to amount $120.00 (proposed $150.00)", exact=False)).to_be_visible()
    expect(carol.get_by_text("Proposed a refund of $150.00 for order 101")).to_be_visible()  # never rewritten
    expect(carol.get_by_text("Proposed a refund of $120.00")).to_have_count(0)


def test_an_agents_address_and_url_are_shown_as_text_never_as_links(served, new_page):
    """Markdown turns a bare URL or e-mail address into a link by itself, after any escaping: an agent that writes
    one into its arguments must not hand the reviewer (or the requester) something to click."""
    base, app_db = served
    (thread_id,) = requested(app_db, "Email jo@example.com about the refund https://evil.example/pay www.evil.example")
    alice = sign_in(new_page(), f"{base}/console?thread={thread_id}", "alice")
    heading = alice.get_by_role("heading", name=re.compile("jo@example.com"))
    expect(heading).to_be_visible()
    carol = sign_in(new_page(), f"{base}/console", "carol")
    visit(carol, f"{base}/?thread={thread_id}")
    expect(carol.get_by_text("jo@example.com").first).to_be_visible()
    for page in (alice, carol):
        expect(page.get_by_text("https://evil.example/pay").first).to_be_visible()
        outside = page.locator("[data-testid=stMain] a[href]:not([href^='#']):not([href^='/']):not([href^='?'])"
                               f":not([href^='{base}'])")
        expect(outside).to_have_count(0)


def test_a_withdrawal_asks_once_and_the_reviewers_open_pane_follows_it(served, new_page):
    base, app_db = served
    (thread_id,) = requested(app_db, "Delete customer 79")
    alice = sign_in(new_page(), f"{base}/console?thread={thread_id}", "alice")
    expect(alice.get_by_text("Claimed by you until")).to_be_visible()
    carol = sign_in(new_page(), f"{base}/console", "carol")
    visit(carol, f"{base}/?thread={thread_id}")
    carol.get_by_role("button", name="Withdraw request").click()
    expect(carol.get_by_text("Withdraw this request? Nothing will run")).to_be_visible()
    carol.get_by_role("button", name="Keep it").click()
    expect(carol.get_by_role("button", name="Withdraw request")).to_be_visible()  # kept: nothing happened
    assert decided(app_db, [thread_id]) == []
    carol.get_by_role("button", name="Withdraw request").click()
    carol.get_by_role("button", name="Confirm withdraw").click()
    expect(carol.get_by_text("Withdrawn by carol at")).to_be_visible()
    until(lambda: decided(app_db, [thread_id]) == [thread_id], "the withdrawal was never recorded")
    expect(alice.get_by_text("Withdrawn by carol at").first).to_be_visible(timeout=5_000)  # no reload
    expect(alice.locator(".st-key-console_approve button")).to_have_count(0)


def test_with_no_item_open_the_queue_takes_the_whole_width(served, new_page):
    base, app_db = served
    (thread_id,) = requested(app_db, "Email jo@example.com about the width")
    bob = new_page()
    bob.set_viewport_size({"width": 1400, "height": 900})
    sign_in(bob, f"{base}/console?thread={thread_id}", "bob")
    expect(bob.get_by_text("Claimed by you until")).to_be_visible()
    table = bob.locator(".st-key-console_queue")
    beside = table.bounding_box()
    bob.locator(".st-key-console_close button").click()
    expect(bob.get_by_text("Claimed by you until")).to_have_count(0)
    wait_ready(bob)
    alone = table.bounding_box()
    assert beside and alone and alone["width"] > beside["width"] * 1.5
