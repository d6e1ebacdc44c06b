"""The link in a notification opens the console on that item, after signing in (real browser, real webhook)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from conftest import CAROL
from harness import wait_ready
from playwright.sync_api import Page, expect
from webhook_receiver import SECRET, Receiver

from approvals.notify import webhooks
from approvals.notify.outbox import Delivery
from approvals.service.facade import ApprovalService
from approvals.service.scheduler import Scheduler, outbox_job
from approvals.store.schema import open_store

pytestmark = pytest.mark.browser


def test_the_notifications_link_opens_the_item_after_sign_in(app_server: str, app_db: str,
                                                             new_page: Callable[[], Page], monkeypatch):
    receiver = Receiver()
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("APPROVAL_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("APPROVAL_BASE_URL", app_server)
    store = open_store(app_db)
    webhook = webhooks.sender(store.db, Delivery(poll_s=0.05))
    assert webhook is not None
    sender = Scheduler(store.db, [outbox_job(webhook)], "sender").start()
    try:
        service = ApprovalService(store)
        thread_id = service.new_thread_id()
        service.send_message(thread_id, "Email jo@example.com about the delay", CAROL)
        deadline = time.monotonic() + 30
        while not receiver.events() and time.monotonic() < deadline:
            time.sleep(0.05)
        [event] = receiver.events().values()
    finally:
        sender.stop()
        store.close()
        receiver.close()
    assert event["thread_id"] == thread_id and event["url"].startswith(f"{app_server}/console?thread={thread_id}")

    page = new_page()
    page.goto(event["url"])
    wait_ready(page)
    page.get_by_role("textbox", name="Username").fill("alice")
    page.get_by_role("textbox", name="Password").fill("alice-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Signed in as alice")).to_be_visible()
    wait_ready(page)
    expect(page.get_by_text("send_email for carol")).to_be_visible()
    expect(page.get_by_text("Claimed by you until")).to_be_visible()
    assert f"thread={thread_id}" in page.url
