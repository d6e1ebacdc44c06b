"""A LangGraph Agent Server deployment in the console, in a real browser: `langgraph dev` serves an agent that knows
nothing of the app (tests/fixtures/deployed_agent.py); the app polls it (APPROVAL_DEPLOYMENTS) and a reviewer
approves, edits, rejects and responds through /console?thread=<id>. The server's tool runs exactly once when it
should. A second deployment that is down is named on the console with the reason."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ROOT, keys_live, sign_in, start_streamlit, stop, wait_ready
from playwright.sync_api import Page, expect

sys.path.insert(0, str(ROOT / "tests"))
from deployment_server import free_port, langgraph_dev

from approvals.sources.deployments import Deployment, Remote

pytestmark = pytest.mark.browser


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Remote, Path, str]]:
    """(the deployment's client, its tool's side-effect file, base URL of an app polling it and a dead one)."""
    effects = tmp_path / "effects.txt"
    with langgraph_dev(tmp_path / "server", effects) as server:
        env = {"DATABASE_URL": str(tmp_path / "app.db"),
               "APPROVAL_DEPLOYMENTS": f"prod={server},staging=http://127.0.0.1:{free_port()}"}
        process, base = start_streamlit(env, tmp_path / "streamlit.log")
        try:
            yield Remote(Deployment("prod", server)), effects, base
        finally:
            stop(process)


def pause(remote: Remote, order: str) -> str:
    thread_id, run_id = remote.start_run("shipper", {"messages": [{"role": "user", "content":
                                                                   f"Ship order {order} to 1 Main St"}]},
                                         {"requester": "dave"})
    remote.wait(thread_id, run_id)
    return thread_id


def asked(order: str) -> str:
    """What the console says the deployment's request asks for (the heading and the toasts name it)."""
    return f"ship_order: recipient 1 Main St, order {order}"


def open_item(page: Page, base: str, thread_id: str, order: str) -> None:
    """The deep link; the item is there once the app's polling has found it (reload until then). Its heading names
    the tool, the requester and what it asks for; its keys act once it has been on screen long enough to read."""
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"{base}/console?thread={thread_id}")
        wait_ready(page)
        if page.get_by_text(f"ship_order for dave: {asked(order)} · shipper").count():
            keys_live(page)
            return
        assert time.monotonic() < deadline, "the deployment's item never reached the console"
        time.sleep(0.5)


def decided(page: Page, kind: str, order: str) -> None:
    """Either the pane says so, or it moved on to the next item and a toast names the one just decided."""
    said = {"approve": "Approved", "edit": "Approved with edits", "reject": "Rejected", "respond": "Answered"}[kind]
    expect(page.get_by_text(f"You decided this: {kind}").or_(page.get_by_text(f"{said}: {asked(order)} (dave)."))
           ).to_be_visible()


def named_as_down(page: Page) -> None:
    """The dead deployment is named once the app has polled it; the page says so on its next run (reload until then:
    the poller reaches 'staging' just after 'prod', whose item may already be on the page)."""
    deadline = time.monotonic() + 30
    while not page.get_by_text("Deployment 'staging'").count():
        assert time.monotonic() < deadline, "the down deployment was never named"
        time.sleep(0.5)
        page.reload()
        wait_ready(page)
    expect(page.get_by_text("Deployment 'staging'").first).to_be_visible()


def resolved_on_the_server(remote: Remote, thread_id: str) -> None:
    deadline = time.monotonic() + 30
    while remote.state(thread_id).get("next"):
        assert time.monotonic() < deadline, "the server never got the decision"
        time.sleep(0.2)


def test_a_deployments_items_are_decided_in_the_console_and_a_down_one_is_named(deployed, new_page):
    remote, effects, base = deployed
    threads = {kind: pause(remote, order) for kind, order in (("approve", "41"), ("edit", "42"), ("reject", "43"),
                                                              ("respond", "44"))}
    alice = new_page()
    sign_in(alice, f"{base}/console", "alice")
    open_item(alice, base, threads["approve"], "41")
    named_as_down(alice)
    keys_live(alice)
    alice.locator(".st-key-console_approve button").click()
    decided(alice, "approve", "41")

    open_item(alice, base, threads["edit"], "42")
    alice.locator(".st-key-console_edit button").click()
    alice.get_by_role("textbox", name="address").fill("9 Elm St")
    alice.get_by_role("button", name="Approve with edits").click()
    expect(alice.get_by_role("button", name="Confirm edit")).to_be_visible()
    keys_live(alice)
    alice.get_by_role("button", name="Confirm edit").click()
    decided(alice, "edit", "42")

    open_item(alice, base, threads["reject"], "43")
    alice.locator(".st-key-console_reject button").click()
    alice.get_by_role("textbox", name="Why reject?").fill("That address is a PO box")
    alice.get_by_test_id("stForm").get_by_role("button", name="Reject").click()
    decided(alice, "reject", "43")

    open_item(alice, base, threads["respond"], "44")
    alice.locator(".st-key-console_respond button").click()
    alice.get_by_role("textbox", name="Answer for the tool").fill("Order 44 left yesterday.")
    alice.get_by_role("button", name="Send response").click()
    decided(alice, "respond", "44")

    for thread_id in threads.values():
        resolved_on_the_server(remote, thread_id)
    assert sorted(effects.read_text().splitlines()) == ["41|1 Main St", "42|9 Elm St"]
