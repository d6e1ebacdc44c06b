"""Who you are survives a reload, and nobody else's browser sees your conversations (real browser, real cookies)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import CAROL
from harness import sign_in, start_streamlit, stop, visit, wait_ready
from playwright.sync_api import BrowserContext, Page, expect

from approvals.identity.sessions import COOKIE
from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

pytestmark = pytest.mark.browser

REFUND = "Refund order 1234 for $25"
RESULT = "Refunded $25.00 on order 1234"


def reload(page: Page) -> Page:
    page.reload()
    wait_ready(page)
    return page


def session_cookie(context: BrowserContext) -> dict:
    [cookie] = [c for c in context.cookies() if c["name"] == COOKIE]
    return cookie


def test_carol_stays_carol_after_a_reload_mid_approval_and_her_approve_applies_once(
    app_server: str, app_db: str, new_page: Callable[[], Page], tmp_path: Path
):
    page = sign_in(new_page(), f"{app_server}/console", "carol")
    cookie = session_cookie(page.context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.get_by_role("link", name="Conversation").click()
    wait_ready(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(REFUND)
    box.press("Enter")
    card = page.locator(".st-key-conversation_card")
    expect(card.get_by_role("button", name="Approve")).to_be_visible()

    reload(page)
    expect(page.get_by_text("Chatting as carol.")).to_be_visible()
    card.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(f"issue_refund: {RESULT}")).to_be_visible()

    thread_id = parse_qs(urlsplit(page.url).query)["thread"][0]
    store = open_store(app_db)
    try:
        [entry] = store.ledger.entries(thread_id)
        assert entry["tool"] == "issue_refund"
        assert ApprovalService(store).decisions(viewer=CAROL)[0].decided_by == "carol"
    finally:
        store.close()
    # the token is never on the page, in the URL, or in the server's log; neither is the password
    assert cookie["value"] not in page.content() and cookie["value"] not in page.url
    log = (tmp_path / "streamlit.log").read_text()
    assert cookie["value"] not in log and "carol-demo" not in log


def test_alice_reloads_with_an_item_open_and_stays_signed_in_on_it(app_server: str, app_db: str, new_page):
    store = open_store(app_db)
    try:
        service = ApprovalService(store)
        thread_id = service.new_thread_id()
        service.send_message(thread_id, "Email jo@example.com about the delay", CAROL)
    finally:
        store.close()
    page = sign_in(new_page(), f"{app_server}/console?thread={thread_id}", "alice")
    expect(page.get_by_role("heading", name="send_email for carol")).to_be_visible()

    reload(page)
    expect(page.get_by_text("Signed in as alice")).to_be_visible()
    expect(page.get_by_role("heading", name="send_email for carol")).to_be_visible()
    assert f"thread={thread_id}" in page.url

    other_tab = visit(page.context.new_page(), f"{app_server}/console")  # a new tab of the same browser
    expect(other_tab.get_by_text("Signed in as alice")).to_be_visible()


def test_another_browser_sees_nothing_of_carols(app_server: str, new_page):
    carol = sign_in(new_page(), f"{app_server}/console", "carol")
    carol.get_by_role("link", name="Conversation").click()
    wait_ready(carol)
    box = carol.get_by_test_id("stChatInputTextArea")
    box.fill("Refund order 77 for $5")
    box.press("Enter")
    expect(carol.locator(".st-key-conversation_card").get_by_role("button", name="Approve")).to_be_visible()
    expect(carol.get_by_role("button", name=re.compile("Refund order 77"))).to_be_visible()  # her sidebar
    her_url = carol.url

    stranger = visit(new_page(), app_server)
    expect(stranger.get_by_text(re.compile(r"Chatting as guest-[0-9a-f]+\."))).to_be_visible()
    expect(stranger.get_by_role("button", name=re.compile("Refund order 77"))).to_have_count(0)
    visit(stranger, her_url)
    thread_id = parse_qs(urlsplit(her_url).query)["thread"][0]
    expect(stranger.get_by_text(f"There is no conversation '{thread_id}'.")).to_be_visible()
    expect(stranger.get_by_text("Refund order 77")).to_have_count(0)
    expect(stranger.get_by_role("button", name="Approve")).to_have_count(0)

    unknown = "0" * 32
    visit(stranger, f"{app_server}/?thread={unknown}")
    expect(stranger.get_by_text(f"There is no conversation '{unknown}'.")).to_be_visible()  # the very same words


def test_a_tampered_cookie_is_signed_out_and_decides_nothing(app_server: str, new_page):
    page = sign_in(new_page(), f"{app_server}/console", "alice")
    cookie = session_cookie(page.context)
    page.context.add_cookies([{**cookie, "value": cookie["value"][::-1]}])
    reload(page)
    expect(page.get_by_role("textbox", name="Username")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    assert session_cookie(page.context)["value"] != cookie["value"]  # at most a fresh guest of its own


def test_signing_out_in_one_tab_signs_out_the_others_on_their_next_run(app_server: str, new_page):
    first = sign_in(new_page(), f"{app_server}/console", "alice")
    second = visit(first.context.new_page(), f"{app_server}/console")
    expect(second.get_by_text("Signed in as alice")).to_be_visible()

    first.get_by_role("button", name="Sign out").click()
    expect(first.get_by_text(re.compile(r"Chatting as guest-[0-9a-f]+\."))).to_be_visible()  # back at / as a new guest

    # the second tab's next run: its queue refreshes itself every few seconds
    expect(second.get_by_role("textbox", name="Username")).to_be_visible(timeout=15_000)
    expect(second.get_by_text("Signed in as")).to_have_count(0)


def test_a_session_survives_an_app_restart(tmp_path: Path, app_db: str, new_page):
    """Cookies belong to the host, not the port: the restarted app (new port, same database) gets the same one."""
    first, base = start_streamlit({"DATABASE_URL": app_db}, tmp_path / "first.log")
    try:
        page = sign_in(new_page(), f"{base}/console", "alice")
    finally:
        stop(first)
    second, base = start_streamlit({"DATABASE_URL": app_db}, tmp_path / "second.log")
    try:
        visit(page, f"{base}/console")
        expect(page.get_by_text("Signed in as alice")).to_be_visible()
    finally:
        stop(second)
