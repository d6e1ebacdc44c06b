"""Two app replicas (two `streamlit run` processes) on one PostgreSQL database, each driven by a real browser.

A request made through one replica is in the other's queue; a decision made in that one is decided everywhere.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import keys_live, sign_in, start_streamlit, stop, wait_ready
from playwright.sync_api import Locator, Page, expect
from test_conversation_browser import card, open_conversation, send, thread_in

from approvals.store.schema import open_store

pytestmark = pytest.mark.browser

EMAIL = "Email jo@example.com about the delay"


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Base URLs of two app processes sharing one fresh PostgreSQL database."""
    started = []
    try:
        for name in ("first", "second"):
            started.append(start_streamlit({"DATABASE_URL": postgres_url}, tmp_path / f"{name}.log"))
        yield started[0][1], started[1][1]
    finally:
        for process, _ in started:
            stop(process)


def visible_after_reloads(page: Page, locator: Callable[[], Locator], timeout_s: float = 30) -> None:
    """Reload until `locator` shows: this page's replica learns of the other's work only from the database."""
    deadline = time.monotonic() + timeout_s
    while not locator().count():
        assert time.monotonic() < deadline, f"never appeared on {page.url}"
        time.sleep(0.5)
        page.reload()
        wait_ready(page)
    expect(locator()).to_be_visible()


def test_a_request_on_one_replica_is_decided_on_the_other_and_seen_decided_on_both(replicas, postgres_url, new_page):
    first, second = replicas
    chat = open_conversation(new_page(), first)
    send(chat, EMAIL)
    expect(card(chat).get_by_text("Waiting for a reviewer")).to_be_visible()
    thread_id = thread_in(chat)

    alice = new_page()
    sign_in(alice, f"{second}/console?thread={thread_id}", "alice")
    expect(alice.get_by_text("1 pending", exact=True)).to_be_visible()
    expect(alice.get_by_text("send_email for guest")).to_be_visible()
    keys_live(alice)
    alice.locator(".st-key-console_approve button").click()  # "Approve" and its key, A
    expect(alice.get_by_text("You decided this: approve")).to_be_visible()
    interrupt_id = parse_qs(urlsplit(alice.url).query)["interrupt"][0]

    bob = new_page()
    sign_in(bob, f"{first}/console?thread={thread_id}&interrupt={interrupt_id}", "bob")
    # the pane says it is decided (in the reader's time); the conversation beside it says so too
    expect(bob.get_by_text(re.compile(r"^Approved by alice at .* · nothing left to decide here\.$"))).to_be_visible()
    expect(bob.get_by_text(re.compile(r"^✅ Approved by alice at "))).to_be_visible()
    expect(bob.locator(".st-key-console_approve button")).to_have_count(0)

    visible_after_reloads(chat, lambda: chat.get_by_text("Done: Email sent to jo@example.com"))
    expect(card(chat)).to_have_count(0)

    store = open_store(postgres_url)
    try:
        assert [(d["decided_by"], d["decision"]) for d in store.db.query("SELECT * FROM decisions")] == [
            ("alice", "approve")]
        assert [e["tool"] for e in store.ledger.entries(thread_id)] == ["send_email"]
    finally:
        store.close()
