"""The example create_agent + HumanInTheLoopMiddleware agent runs as its own worker process on the app's database
(SQLite file, then PostgreSQL); a reviewer decides its items in the console in a real browser: approve, edit,
reject, respond. The tool runs exactly once when it should run, never when it should not. A team's own create_agent
agent (tests/foreign_graphs.py, tool wire_funds) is registered beside it: the same nodes and channels, told apart
by the tool its pending call names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ROOT, keys_live, sign_in, start_streamlit, stop, wait_ready
from playwright.sync_api import Page, expect

from approvals.store.schema import open_store

pytestmark = pytest.mark.browser
TEAM_AGENT = {"APPROVAL_GRAPHS": "treasury=foreign_graphs:make_treasury_agent", "PYTHONPATH": str(ROOT / "tests")}
"""The team's agent, registered for the app and its workers (foreign_graphs lives in tests/)."""
WIRE = "wire_funds: amount $900.00, recipient ACME-1"
"""What the team agent's call asks for, as the console words it (the open item's heading, the toast)."""
DECIDED = {"approve": "Approved", "edit": "Approved with edits", "reject": "Rejected", "respond": "Answered"}
"""Each decision as the toast over the next item says it."""


def shipment(order: str) -> str:
    """What a shipping worker's call asks for, as the console words it."""
    return f"ship_order: recipient 1 Main St, order {order}"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(database url, base URL of a fresh app on it)."""
    url = str(tmp_path / "app.db") if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    open_store(url).close()  # the app's schema and change log exist before the first worker writes
    process, base = start_streamlit({"DATABASE_URL": url, **TEAM_AGENT}, tmp_path / "streamlit.log")
    yield url, base
    stop(process)


def start_worker(url: str, text: str, graph_id: bool = True, graph: str = "shipping") -> str:
    """`python -m examples.worker` as its own process; returns the thread it stopped in. Without `graph_id` the
    run's metadata names no graph, as a plain invoke from LangGraph's docs: the app must identify it."""
    flags = [] if graph_id else ["--no-graph-id"]
    done = subprocess.run([sys.executable, "-m", "examples.worker", text, "--requester", "dave", "--graph", graph,
                           *flags], cwd=ROOT, env={**os.environ, "DATABASE_URL": url, **TEAM_AGENT},
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)["thread_id"]


def open_item(page: Page, base: str, thread_id: str, asks: str, graph: str = "shipping") -> None:
    """The item's deep link; a worker's thread is known once discovery has indexed it (reload until then). Its
    heading names the tool, the requester, what the call asks for and the graph it was identified as."""
    title = f"{asks.split(':')[0]} for dave: {asks} · {graph}"
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"{base}/console?thread={thread_id}")
        wait_ready(page)
        if page.get_by_text(title).count():
            return
        assert time.monotonic() < deadline, "the worker's item never reached the console"
        time.sleep(0.5)


def decided(page: Page, kind: str, asks: str) -> None:
    """The console says so: on the item itself, or in the toast over the next item it moved on to."""
    expect(page.get_by_text(f"You decided this: {kind}").or_(page.get_by_text(f"{DECIDED[kind]}: {asks} (dave)."))
           ).to_be_visible()


def applied(url: str, thread_id: str) -> dict:
    """The thread's one decision once applied (waits for the background resume), and the shipments it made."""
    store = open_store(url)
    try:
        deadline = time.monotonic() + 30
        while not (rows := store.db.query(
                "SELECT decision, decided_by FROM decisions WHERE thread_id = ? AND applied_at IS NOT NULL",
                (thread_id,))):
            assert time.monotonic() < deadline, "the decision was never applied"
            time.sleep(0.2)
        [decision] = rows
        shipped = (store.db.query("SELECT order_id, address FROM shipments")
                   if decision["decision"] in ("approve", "edit") else [])
        return {**decision, "shipped": shipped}
    finally:
        store.close()


def shipments_of(url: str, order_id: str) -> list[dict]:
    store = open_store(url)
    try:
        return store.db.query("SELECT order_id, address FROM shipments WHERE order_id = ?", (order_id,))
    except Exception:  # no shipment at all yet: the table is the tool's, created when it first runs
        return []
    finally:
        store.close()


def wires_of(url: str) -> list[dict]:
    """What the team agent's tool did: one row per wire it sent."""
    store = open_store(url)
    try:
        return store.db.query("SELECT amount, to_account FROM wires")
    finally:
        store.close()


def test_the_example_agents_worker_items_are_decided_in_the_console(backend, new_page):
    url, base = backend
    # approve and edit: workers that name no graph (identified from the checkpoint); reject and respond name it
    threads = {kind: start_worker(url, f"Ship order {order} to 1 Main St", graph_id=kind in ("reject", "respond"))
               for kind, order in (("approve", "41"), ("edit", "42"), ("reject", "43"), ("respond", "44"))}
    wire = start_worker(url, "Wire 900 to ACME-1", graph_id=False, graph="treasury")
    alice = new_page()
    sign_in(alice, f"{base}/console", "alice")
    open_item(alice, base, wire, WIRE, "treasury")  # identified by its tool, not "graph unknown"
    keys_live(alice)
    alice.locator(".st-key-console_approve button").click()
    decided(alice, "approve", WIRE)
    open_item(alice, base, threads["approve"], shipment("41"))
    keys_live(alice)
    alice.locator(".st-key-console_approve button").click()  # "Approve" + its key A
    decided(alice, "approve", shipment("41"))

    open_item(alice, base, threads["edit"], shipment("42"))
    keys_live(alice)
    alice.locator(".st-key-console_edit button").click()
    alice.get_by_role("textbox", name="address").fill("9 Elm St")
    alice.get_by_role("button", name="Approve with edits").click()
    keys_live(alice)  # the confirmation is a step of its own, read before it acts
    alice.get_by_role("button", name="Confirm edit").click()
    decided(alice, "edit", shipment("42"))  # the toast names what was proposed

    open_item(alice, base, threads["reject"], shipment("43"))
    keys_live(alice)
    alice.locator(".st-key-console_reject button").click()
    alice.get_by_role("textbox", name="Why reject?").fill("That address is a PO box")
    alice.get_by_test_id("stForm").get_by_role("button", name="Reject").click()
    decided(alice, "reject", shipment("43"))

    open_item(alice, base, threads["respond"], shipment("44"))
    keys_live(alice)
    alice.locator(".st-key-console_respond button").click()
    alice.get_by_role("textbox", name="Answer for the tool").fill("Order 44 left yesterday with the 9:00 truck.")
    alice.get_by_role("button", name="Send response").click()
    decided(alice, "respond", shipment("44"))

    for kind in threads:
        assert applied(url, threads[kind])["decided_by"] == "alice"
    assert applied(url, wire)["decided_by"] == "alice" and wires_of(url) == [{"amount": 900.0, "to_account": "ACME-1"}]
    assert shipments_of(url, "41") == [{"order_id": "41", "address": "1 Main St"}]
    assert shipments_of(url, "42") == [{"order_id": "42", "address": "9 Elm St"}]
    assert shipments_of(url, "43") == shipments_of(url, "44") == []

    alice.goto(f"{base}/console?thread={threads['respond']}")  # the agent got the answer as the tool's result
    wait_ready(alice)
    expect(alice.get_by_text("Order 44 left yesterday with the 9:00 truck.").first).to_be_visible()
