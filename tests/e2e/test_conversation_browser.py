"""The conversation page in a real browser: the card survives reloads, and two tabs cannot refund twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import wait_ready
from playwright.sync_api import Locator, Page, expect

from approvals.store.schema import open_store

pytestmark = pytest.mark.browser

REFUND = "Refund order 1234 for $25"
RESULT = "Refunded $25.00 on order 1234"


def open_conversation(page: Page, url: str) -> Page:
    page.goto(url)
    wait_ready(page)
    return page


def send(page: Page, text: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")


def card(page: Page) -> Locator:
    return page.locator(".st-key-conversation_card")


def card_args(page: Page) -> str:
    expect(card(page).get_by_role("button", name="Approve")).to_be_visible()
    return "\n".join(args_text(page).all_inner_texts())


def args_text(page: Page) -> Locator:
    """The proposed call's args: one plain text per argument, "Label: value"."""
    return card(page).get_by_test_id("stText").filter(has_text=re.compile(r"^[A-Z][A-Za-z ]*:"))


def thread_in(page: Page) -> str:
    return parse_qs(urlsplit(page.url).query)["thread"][0]


def test_card_survives_reload_and_approve_shows_the_refund(app_server: str, new_page: Callable[[], Page]):
    page = open_conversation(new_page(), app_server)
    send(page, REFUND)
    args = card_args(page)
    thread_id = thread_in(page)
    assert args == "Order Id: 1234\nAmount: $25.00"

    page.reload()
    wait_ready(page)
    assert thread_in(page) == thread_id
    assert card_args(page) == args
    expect(page.get_by_text(REFUND, exact=True).first).to_be_visible()

    card(page).get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"issue_refund: {RESULT}", exact=False)).to_be_visible()

    page.reload()
    wait_ready(page)
    expect(page.get_by_text(f"Done: {RESULT}", exact=False)).to_be_visible()
    expect(page.get_by_text("Proposed a refund of $25.00 for order 1234")).to_be_visible()
    expect(card(page)).to_have_count(0)


def test_second_tab_gets_already_decided_and_no_second_refund(
    app_server: str, app_db: str, new_page: Callable[[], Page]
):
    first = open_conversation(new_page(), app_server)
    send(first, REFUND)
    card_args(first)
    second = open_conversation(first.context.new_page(), first.url)  # a second tab of the same browser
    card_args(second)

    card(first).get_by_role("button", name="Approve").click()
    expect(first.get_by_text(f"issue_refund: {RESULT}", exact=False)).to_be_visible()
    card(second).get_by_role("button", name="Approve").click()
    expect(second.get_by_text(re.compile(r"Already decided by guest-[0-9a-f]+ at"))).to_be_visible()
    expect(second.get_by_text(f"issue_refund: {RESULT}", exact=False)).to_be_visible()
    expect(card(second)).to_have_count(0)

    store = open_store(app_db)
    try:
        assert [entry["tool"] for entry in store.ledger.entries(thread_in(first))] == ["issue_refund"]
    finally:
        store.close()


def test_an_email_body_shows_its_real_line_breaks(app_server: str, new_page: Callable[[], Page]):
    page = open_conversation(new_page(), app_server)
    page.set_viewport_size({"width": 420, "height": 900})  # a phone: what is approved is still there to read
    send(page, "Email jo@example.com about the delay")
    waiting = card(page).get_by_text("Waiting for a reviewer")
    expect(card(page).get_by_role("button", name="Approve").or_(waiting)).to_be_visible()
    body = card(page).get_by_test_id("stText").filter(has_text="Hello,")
    expect(body).to_have_count(1)
    assert body.inner_text() == "Body:\nHello,\n\nWe are writing about the delay.\n\nBest regards,\nSupport"
    assert "\\n" not in card(page).inner_text()  # no escaped JSON anywhere on the card
    box = body.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 420


def test_html_and_markdown_in_args_are_drawn_as_text(app_server: str, new_page: Callable[[], Page]):
    page = open_conversation(new_page(), app_server)
    send(page, "Email jo@example.com about <b>late</b> **order** <img src=x onerror=alert(1)>")
    subject = args_text(page).filter(has_text="Subject:")
    expect(subject).to_contain_text("<b>late</b> **order** <img src=x onerror=alert(1)>")
    for tag in ("b", "img"):
        expect(card(page).locator(tag)).to_have_count(0)
    expect(card(page).locator("strong", has_text="order")).to_have_count(0)  # only the tool name is bold
