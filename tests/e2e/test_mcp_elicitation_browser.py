"""The MCP warehouse agent (examples/mcp_agent.py) runs as a worker process on the app's database; its tools ask
through MCP elicitation. A reviewer answers the purge's confirmation form in the console, the requester answers a
stock move's two questions in her own card; each tool gets exactly what was filled in, once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ROOT, sign_in, start_streamlit, stop, wait_ready
from playwright.sync_api import Page, expect

from approvals.store.schema import open_store
from examples.mcp_server import recorded_actions

pytestmark = pytest.mark.browser


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """(database url, base URL of a fresh app on it); the MCP tools' record is read from the same file."""
    url = str(tmp_path / "app.db")
    open_store(url).close()
    monkeypatch.setenv("DATABASE_URL", url)
    process, base = start_streamlit({"DATABASE_URL": url}, tmp_path / "streamlit.log")
    yield url, base
    stop(process)


def start_worker(url: str, text: str) -> str:
    done = subprocess.run([sys.executable, "-m", "examples.worker", text, "--graph", "warehouse", "--requester",
                           "carol"], cwd=ROOT, env={**os.environ, "DATABASE_URL": url}, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout)["thread_id"]


def open_until(page: Page, url: str, text: str) -> None:
    """A worker's thread is known once discovery has indexed it: reload until the page shows `text`."""
    deadline = time.monotonic() + 60
    while True:
        page.goto(url)
        wait_ready(page)
        if page.get_by_text(text).count():
            return
        assert time.monotonic() < deadline, f"{text!r} never appeared at {url}"
        time.sleep(0.5)


def wait_for(condition_text: str, check) -> list:
    """The decision's run is carried out in the background (by the page's runner, or the delivery loop)."""
    deadline = time.monotonic() + 90
    while not (found := check()):
        assert time.monotonic() < deadline, condition_text
        time.sleep(0.2)
    return found


def test_the_form_is_filled_and_accepted_in_the_console_and_in_the_requesters_card(app, new_page):
    url, base = app
    purge = start_worker(url, "Purge the archived orders in eu")
    move = start_worker(url, "Move 20 units of SKU-7 to Lyon")

    # the requester first: a reviewer's console opens (and claims) the next item after each decision
    carol = new_page()
    sign_in(carol, f"{base}/console", "carol")
    open_until(carol, f"{base}/?thread={move}", "Input needed")
    card = carol.locator(".st-key-conversation_card")
    expect(card.get_by_text("Which carrier takes the stock to Lyon?")).to_be_visible()
    card.get_by_text("Approved by the stock manager").click()
    card.get_by_role("spinbutton", name="Most units to move").fill("50")
    card.get_by_role("combobox", name="Carrier").click()
    carol.get_by_role("option", name="Rail (3 days)").click()
    card.get_by_role("button", name="Accept").click()
    moved = wait_for("the stock never moved", recorded_actions)
    assert moved == [("transfer_stock", {"sku": "SKU-7", "units": 20, "destination": "Lyon", "approved": True,
                                         "max_units": 50, "carrier": "rail"})]
    expect(carol.get_by_text("Moving 20 units of SKU-7 to Lyon by rail.").first).to_be_visible()

    alice = new_page()
    sign_in(alice, f"{base}/console", "alice")
    open_until(alice, f"{base}/console?thread={purge}", "purge_orders for carol")
    form = alice.get_by_test_id("stForm")
    expect(form.get_by_text("Delete every archived order in eu? This cannot be undone.")).to_be_visible()
    form.get_by_text("Confirm the purge").click()
    form.get_by_role("spinbutton", name="Keep the last N days").fill("90")
    form.get_by_role("textbox", name="Notify").fill("ops@example.com")
    form.get_by_role("button", name="Accept").click()  # the reason is required: refused, nothing saved
    expect(alice.get_by_text("'reason' is a required property")).to_be_visible()
    assert len(recorded_actions()) == 1  # the stock move only
    alice.get_by_test_id("stForm").get_by_role("textbox", name="Reason").fill("older than the retention")
    alice.get_by_test_id("stForm").get_by_role("button", name="Accept").click()
    expected = {"region": "eu", "confirm": True, "reason": "older than the retention", "keep_days": 90,
                "notify": "ops@example.com"}
    assert wait_for("the purge never ran", lambda: recorded_actions()[1:]) == [("purge_orders", expected)]
