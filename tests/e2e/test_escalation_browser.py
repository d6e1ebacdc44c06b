"""Escalation runs on the server's clock, not in a browser: against a real `streamlit run` (SQLite and PostgreSQL),
a rule's reminder and expiry reach the webhook receiver with no browser open, and with three console tabs open
each reminder still goes out once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from conftest import CAROL
from harness import sign_in, start_streamlit, stop, visit
from playwright.sync_api import Page, expect
from webhook_receiver import SECRET, Receiver

from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

pytestmark = pytest.mark.browser

REMIND_S, EXPIRE_S = 3, 12
POLICY = f"""
[[rules]]
name = "refunds"
tool = "issue_refund"
remind_after_minutes = {REMIND_S / 60}
expire_after_minutes = {EXPIRE_S / 60}
expire_message = "Nobody decided in time."
"""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Receiver]]:
    """One app per backend for the module: (base URL, its database, the webhook receiver it posts to)."""
    folder = tmp_path_factory.mktemp(f"escalation-{request.param}")
    databases = request.getfixturevalue("postgres_databases") if request.param == "postgres" else None
    url = databases.create() if databases is not None else str(folder / "app.db")
    policy = folder / "approvals.toml"
    policy.write_text(POLICY)
    receiver = Receiver()
    settings = {"APPROVALS_CONFIG": str(policy), "APPROVAL_WEBHOOK_URL": receiver.url,
                "APPROVAL_WEBHOOK_SECRET": SECRET}
    process, base = start_streamlit({"DATABASE_URL": url, **settings}, folder / "streamlit.log")
    try:
        with pytest.MonkeyPatch.context() as env:  # the process that asks (a worker, a replica) shares the settings
            for name, value in settings.items():
                env.setenv(name, value)
            yield base, url, receiver
    finally:
        stop(process)
        receiver.close()
        if databases is not None:
            databases.drop(url)


def request_refund(database: str) -> str:
    """carol asks for a $250 refund (another process: a worker or another replica); returns the thread id."""
    service = ApprovalService(open_store(database))
    try:
        thread_id = service.new_thread_id()
        service.send_message(thread_id, "Refund order 55 for $250", CAROL)
        return thread_id
    finally:
        service.store.close()


def posted(receiver: Receiver, thread_id: str) -> list[dict]:
    """Every event the receiver accepted for the thread, duplicates included (a receiver dedupes; we count)."""
    return [e for e in receiver.all_events() if e.get("thread_id") == thread_id]


def wait_for(condition: Callable[[], bool], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def reminded_then_expired(receiver: Receiver, thread_id: str) -> None:
    """The reminder once, after REMIND_S and before the expiry; the expiry once, after EXPIRE_S, by the rule."""
    wait_for(lambda: "approval.decided" in [e["event"] for e in posted(receiver, thread_id)])
    events = posted(receiver, thread_id)
    [pending] = [e for e in events if e["event"] == "approval.pending"]
    [reminder] = [e for e in events if e["event"] == "approval.reminder"]
    [decided] = [e for e in events if e["event"] == "approval.decided"]
    asked = datetime.fromisoformat(pending["requested_at"])
    assert asked + timedelta(seconds=REMIND_S) <= datetime.fromisoformat(reminder["created_at"])
    assert datetime.fromisoformat(reminder["created_at"]) < datetime.fromisoformat(decided["decided_at"])
    assert asked + timedelta(seconds=EXPIRE_S) <= datetime.fromisoformat(decided["decided_at"])
    assert (decided["decided_by"], decided["decision"], decided["message"]) == (
        "policy:refunds", "reject", "Nobody decided in time.")


def test_with_no_browser_open_the_reminder_and_the_expiry_happen_on_time(served):
    _, database, receiver = served
    thread_id = request_refund(database)
    reminded_then_expired(receiver, thread_id)


def test_with_three_console_tabs_open_each_reminder_goes_out_once(served, new_page: Callable[[], Page]):
    base, database, receiver = served
    first = sign_in(new_page(), f"{base}/console", "alice")
    tabs = [first] + [visit(first.context.new_page(), f"{base}/console") for _ in range(2)]
    thread_id = request_refund(database)
    for tab in tabs:
        expect(tab.get_by_text("1 pending", exact=True)).to_be_visible()
    reminded_then_expired(receiver, thread_id)
    for tab in tabs:
        expect(tab.get_by_text("Nothing is waiting for a decision.")).to_be_visible()
