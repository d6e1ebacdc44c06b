"""Email in a real browser on a served app (`streamlit run app.py`, its own sender in the lifespan) with a real SMTP
server: the Approve link, opened and confirmed, runs the tool once, and says who decided when opened again; the
console's tab counts what waits for the reviewer and a desktop notification announces a new item."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest
from conftest import CAROL
from harness import free_port, sign_in, start_streamlit, stop
from playwright.sync_api import Page, expect
from smtp_server import Mail, MailServer

from approvals.identity import accounts
from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

pytestmark = pytest.mark.browser
RECORD_NOTIFICATIONS = """
window.__notifications = [];
const RealNotification = window.Notification;
window.Notification = new Proxy(RealNotification, {
  construct(target, args) { window.__notifications.push(args[0]); return new target(...args); },
});
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, MailServer]]:
    """(base URL, database path, mail server): one app for the module, mailing through the loopback server."""
    folder = tmp_path_factory.mktemp("email_app")
    database = str(folder / "app.db")
    store = open_store(database)
    accounts.seed_demo_accounts(store.db)
    accounts.set_account(store.db, "alice", email="alice@example.com")
    accounts.set_account(store.db, "bob", email="bob@example.com")
    store.close()
    mail = MailServer()
    port = free_port()
    settings = {"APPROVAL_SMTP_URL": f"smtp://127.0.0.1:{mail.port}", "APPROVAL_MAIL_FROM": "approvals@example.com",
                "APPROVAL_BASE_URL": f"http://127.0.0.1:{port}", "APPROVAL_LINK_KEY": str(folder / "link-key")}
    process, base = start_streamlit({"DATABASE_URL": database, **settings}, folder / "streamlit.log", port=port)
    with pytest.MonkeyPatch.context() as env:  # this process asks too: its requests are queued for email as well
        for name, value in settings.items():
            env.setenv(name, value)
        yield base, database, mail
    stop(process)
    mail.close()


def ask(database: str, text: str) -> str:
    store = open_store(database)
    try:
        service = ApprovalService(store)
        thread_id = service.new_thread_id()
        service.send_message(thread_id, text, CAROL)
        return thread_id
    finally:
        store.close()


def mail_to(server: MailServer, address: str, thread_id: str) -> Mail:
    deadline = time.monotonic() + 60
    while True:
        found = [m for m in server.to(address) if thread_id in m.part("plain")]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no mail to {address} about {thread_id}"
        time.sleep(0.1)


def link(mail: Mail, text: str) -> str:
    return {t: u for u, t in re.findall(r'<a href="([^"]+)">([^<]+)</a>', mail.part("html"))}[text]


def ledger_rows(database: str, thread_id: str) -> int:
    store = open_store(database)
    try:
        return len(store.ledger.entries(thread_id))
    finally:
        store.close()


def test_the_approve_link_confirmed_in_a_browser_runs_the_tool_once_and_then_says_who_decided(
        served, new_page: Callable[[], Page]):
    base, database, mail = served
    console = new_page()
    console.context.grant_permissions(["notifications"], origin=base)
    console.add_init_script(RECORD_NOTIFICATIONS)
    sign_in(console, f"{base}/console", "alice")
    expect(console).to_have_title("Console")

    thread_id = ask(database, "Refund order 55 for $250")
    approve = link(mail_to(mail, "alice@example.com", thread_id), "Approve")
    assert not mail.to("carol@example.com")
    expect(console).to_have_title("(1) Console", timeout=30_000)
    assert console.evaluate("window.__notifications") == ["An approval is waiting for you"]

    page = new_page()
    page.goto(approve)
    expect(page.get_by_role("heading", name="Approve this request?")).to_be_visible()
    expect(page.get_by_text("Amount: $250.00")).to_be_visible()
    assert ledger_rows(database, thread_id) == 0, "opening the link decided nothing"
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text(re.compile("Approved by alice at"))).to_be_visible()
    assert ledger_rows(database, thread_id) == 1

    page.goto(approve)
    expect(page.get_by_text(re.compile("Approved by alice at .* Nothing was changed"))).to_be_visible()
    page.goto(link(mail_to(mail, "bob@example.com", thread_id), "Reject"))
    expect(page.get_by_text(re.compile("Approved by alice at"))).to_be_visible()
    assert ledger_rows(database, thread_id) == 1
    expect(console).to_have_title("Console", timeout=30_000)
