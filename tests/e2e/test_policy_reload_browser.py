"""Hot reload in a running app: a rewritten approvals.toml decides the next request within 5 s and, on the
server's clock, the requests already waiting; a broken one keeps the last good policy while reviewers see its
`FILE:LINE: reason` on the console."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import sign_in, start_streamlit, stop, visit, wait_ready
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

REVIEWED = '[[rules]]\nname = "emails-reviewed"\ntool = "send_email"\n'
FROZEN = ('[[rules]]\nname = "email-freeze"\ntool = "send_email"\ndecide = "deny"\n'
          'message = "No customer emails during the freeze."\n')
BROKEN = '[[rules]]\nname = "email-freeze"\ntool = "send_email"\ndecide = "maybe"\n'


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "approvals.toml"
    path.write_text(REVIEWED)
    return path


@pytest.fixture
def policy_app(tmp_path: Path, app_db: str, policy_file: Path) -> Iterator[str]:
    """The app on its own SQLite file, its policy read from `policy_file` (APPROVALS_CONFIG)."""
    process, base = start_streamlit({"DATABASE_URL": app_db, "APPROVALS_CONFIG": str(policy_file)},
                                    tmp_path / "streamlit.log")
    yield base
    stop(process)


def ask(page: Page, base: str, text: str) -> str:
    """A new conversation in carol's browser asking `text`; its thread id once the agent has stopped."""
    visit(page, base)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(text)
    box.press("Enter")
    page.wait_for_url("**thread=*")
    wait_ready(page)
    return parse_qs(urlsplit(page.url).query)["thread"][0]


def decided_by(app_db: str, thread_id: str) -> list[str]:
    with sqlite3.connect(app_db) as conn:
        return [row[0] for row in conn.execute("SELECT decided_by FROM decisions WHERE thread_id = ?", (thread_id,))]


def test_a_rewritten_policy_decides_the_next_request_and_a_broken_one_keeps_the_last_good(
        policy_app, app_db, policy_file, new_page):
    carol = sign_in(new_page(), f"{policy_app}/console", "carol")
    first = ask(carol, policy_app, "Email jo@example.com about the delay")
    expect(carol.get_by_text("Waiting for a reviewer")).to_be_visible()
    assert decided_by(app_db, first) == []

    policy_file.write_text(FROZEN)
    changed = time.monotonic()
    frozen = ask(carol, policy_app, "Email jo@example.com about the delay")
    while decided_by(app_db, frozen) != ["policy:email-freeze"]:  # a request before the next look waits for review
        assert time.monotonic() - changed < 5, "the rewritten policy was not used within 5 s"
        time.sleep(1.2)
        frozen = ask(carol, policy_app, "Email jo@example.com about the delay")
    expect(carol.get_by_text("No customer emails during the freeze.", exact=False).first).to_be_visible()
    expect(carol.get_by_text("Waiting for a reviewer")).to_have_count(0)
    assert frozen != first
    visit(carol, f"{policy_app}/?thread={first}")  # the request asked before the freeze is decided by it too
    expect(carol.get_by_text("No customer emails during the freeze.", exact=False).first).to_be_visible()
    expect(carol.get_by_text("Waiting for a reviewer")).to_have_count(0)
    assert decided_by(app_db, first) == ["policy:email-freeze"]

    policy_file.write_text(BROKEN)
    time.sleep(1.2)  # past the policy's stat interval
    alice = sign_in(new_page(), f"{policy_app}/console", "alice")
    expect(alice.get_by_text("The approval policy file was refused", exact=False)).to_be_visible()
    expect(alice.get_by_text(f"{policy_file}:4:", exact=False)).to_be_visible()
    still = ask(carol, policy_app, "Email jo@example.com about the delay")
    assert decided_by(app_db, still) == ["policy:email-freeze"]  # the last good policy stays in force
    visit(carol, f"{policy_app}/console")  # a requester's console: no policy errors, they are for reviewers
    expect(carol.get_by_text("Signed in as carol")).to_be_visible()
    expect(carol.get_by_text("The approval policy file was refused", exact=False)).to_have_count(0)
