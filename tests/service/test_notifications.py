"""Webhook notifications against a real HTTP receiver on loopback, on both backends.

The receiver can refuse (503) its first requests, or not listen at all; events must still all arrive, signed,
each with its own id, and an app killed with SIGKILL after the commit delivers the event after its restart.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event

import pytest
from conftest import ALICE, GUEST
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from webhook_receiver import SECRET, Receiver

from approvals.core.errors import AlreadyDecided, NotPending
from approvals.notify import webhooks
from approvals.notify.outbox import Delivery
from approvals.service.facade import ApprovalService
from approvals.service.scheduler import Scheduler, outbox_job
from approvals.store.schema import Store, open_store

FAST = Delivery(poll_s=0.02, first_retry_s=0.05, max_retry_s=0.2, timeout_s=5)
SPAWN = multiprocessing.get_context("spawn")
APPROVE = {"decisions": [{"type": "approve"}]}


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    receiver = Receiver(refusals=(503, 503, 302, 503))
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("APPROVAL_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("APPROVAL_BASE_URL", "https://approvals.example.com/")
    yield receiver
    receiver.close()


def start_sender(store: Store, pace: Delivery) -> Scheduler:
    """The app's "outbox-webhook" job on a scheduler of its own: what a replica runs to send the events."""
    sender = webhooks.sender(store.db, pace)
    assert sender is not None, "APPROVAL_WEBHOOK_URL is set"
    return Scheduler(store.db, [outbox_job(sender)], "replica").start()


def wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def outbox_size(service: ApprovalService) -> int:
    return service.db.query("SELECT COUNT(*) AS n FROM outbox")[0]["n"]


def request_refund(service: ApprovalService, text: str = "Refund order 1234 for $25") -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, GUEST)
    return thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id


def test_every_event_arrives_signed_after_the_receiver_recovers_from_503s_and_a_redirect(service, receiver):
    small, large = request_refund(service), request_refund(service, "Refund order 55 for $250")
    service.decide(*small, APPROVE, GUEST)
    sender = start_sender(service.store, FAST)
    try:
        wait_for(lambda: len(receiver.events()) == 5 and outbox_size(service) == 0)
    finally:
        sender.stop()
    assert receiver.refusals == [] and receiver.gets == 0, "refused POSTs were retried as POSTs"
    heads = sorted((e for e in receiver.events().values() if e["event"] == "audit.head"), key=lambda e: e["seq"])
    assert [head["seq"] for head in heads] == [1, 2]  # the audit chain's decision and delivery entries, signed
    events = sorted((e for e in receiver.events().values() if e["event"] != "audit.head"),
                    key=lambda e: (e["created_at"], e["event"]))
    assert [(e["event"], e["thread_id"], e["interrupt_id"]) for e in events] == [
        ("approval.pending", *small), ("approval.pending", *large), ("approval.decided", *small)]
    pending, _, decided = events
    assert pending["tool"] == "issue_refund" and pending["args_summary"] == "order_id=1234, amount=25.0"
    assert pending["requester"] == "guest-test" and pending["decided_by"] is None
    assert pending["url"] == f"https://approvals.example.com/console?thread={small[0]}&interrupt={small[1]}"
    assert pending["text"] == ("Approval needed: issue_refund (order_id=1234, amount=25.0) requested by guest-test."
                               f" <{pending['url']}|Open in the console>")
    assert decided["decided_by"] == "guest-test" and decided["decision"] == "approve"
    assert decided["text"].startswith(
        "guest-test approved issue_refund (order_id=1234, amount=25.0) requested by guest-test."
    )


def test_events_are_signed_as_standard_webhooks_so_a_replay_is_refused(service, receiver):
    """Issue 27, finding 7: the signature covered the body alone, so a captured event could be replayed."""
    request_refund(service)
    sender = start_sender(service.store, FAST)
    try:
        wait_for(lambda: len(receiver.all_events()) == 1)
    finally:
        sender.stop()
    headers, body = receiver.requests[0]
    headers = {name.lower(): value for name, value in headers.items()}
    receiver_side = Webhook(SECRET.encode())
    assert receiver_side.verify(body, headers)["id"] == headers["webhook-id"]
    later = {**headers, "webhook-timestamp": str(int(time.time()) + 60)}  # a replayer cannot refresh the time
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        receiver_side.verify(body, later)
    stale = webhooks.signed_headers(SECRET, headers["webhook-id"], body, datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        receiver_side.verify(body, stale)  # the same event captured ten minutes ago
    assert Webhook("whsec_" + base64.b64encode(b"k" * 24).decode()).verify(body, webhooks.signed_headers(
        "whsec_" + base64.b64encode(b"k" * 24).decode(), "evt", body, datetime.now(UTC)))  # a whsec_ secret, as is


def test_one_event_per_new_pending_row_and_per_decision_that_landed(service, receiver):
    thread_id, interrupt_id = request_refund(service)
    service.sync_index(thread_id)
    service.reconcile()
    assert outbox_size(service) == 1, "re-indexing the same interrupt is not a new approval"
    service.decide(thread_id, interrupt_id, APPROVE, ALICE)
    with pytest.raises(AlreadyDecided, match="Already decided by alice"):
        service.decide(thread_id, interrupt_id, {"decisions": [{"type": "reject", "message": "no"}]}, ALICE)
    with pytest.raises(NotPending):
        service.decide(request_refund(service)[0], "wrong", {"decisions": []}, ALICE)
    events = [row["event"] for row in service.db.query("SELECT event FROM outbox WHERE event <> 'audit.head'"
                                                       " ORDER BY created_at")]
    assert events == ["approval.pending", "approval.decided", "approval.pending"]


def test_without_a_webhook_nothing_is_queued_and_no_sender_starts(service, monkeypatch):
    monkeypatch.delenv("APPROVAL_WEBHOOK_URL", raising=False)
    service.decide(*request_refund(service), APPROVE, GUEST)
    assert outbox_size(service) == 0
    assert webhooks.sender(service.db) is None


def test_markup_in_args_stays_plain_text_in_the_slack_line(service, receiver):
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Email jo@example.com about <!channel> & the delay", GUEST)
    body = json.loads(service.db.query("SELECT body FROM outbox")[0]["body"])
    assert "<!channel>" in body["args_summary"]
    assert "<!channel>" not in body["text"] and "&lt;!channel&gt; &amp; the delay" in body["text"]


def test_hidden_characters_are_escaped_in_the_slack_line_and_kept_exact_in_the_fields(service, receiver):
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Email jo@\u202emoc.elpmaxe.ni about the delay", GUEST)
    body = json.loads(service.db.query("SELECT body FROM outbox")[0]["body"])
    assert "jo@\u202emoc.elpmaxe.ni" in body["args_summary"]
    assert "\u202e" not in body["text"] and "jo@\\u202emoc.elpmaxe.ni" in body["text"]


def test_two_replicas_send_each_event_exactly_once(db_url, service, receiver):
    receiver.refusals.clear()
    replicas = [open_store(db_url) for _ in range(2)]
    senders = [start_sender(store, Delivery(poll_s=0.005)) for store in replicas]
    try:
        expected = {request_refund(service)[0] for _ in range(6)}
        wait_for(lambda: {e["thread_id"] for e in receiver.events().values()} == expected)
        wait_for(lambda: outbox_size(service) == 0)
    finally:
        for sender, store in zip(senders, replicas, strict=True):
            sender.stop()
            store.close()
    ids = [json.loads(body)["id"] for _, body in receiver.requests]
    assert len(ids) == len(set(ids)) == 6


def pause_then_hang(url: str, point: str, reached: Event) -> None:
    """The 'app': commits a new pending approval, then stops at `point` until it is killed."""
    store = open_store(url)
    service = ApprovalService(store)
    delivery = Delivery(poll_s=0.02, first_retry_s=0.5, max_retry_s=0.5)
    sender = start_sender(store, delivery) if point != "no try" else None
    request_refund(service)
    if sender is not None:
        wait_for(lambda: service.db.query("SELECT attempts FROM outbox")[0]["attempts"] >= 1)
    reached.set()
    time.sleep(3600)


@pytest.mark.parametrize("point", ["no try", "a failed try"])
def test_an_event_committed_before_a_sigkill_is_delivered_after_the_restart(db_url, service, monkeypatch, point):
    with socket.socket() as probe:  # a port nobody listens on: the receiver is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", f"http://127.0.0.1:{port}/hooks/approvals")
    monkeypatch.setenv("APPROVAL_WEBHOOK_SECRET", SECRET)
    reached = SPAWN.Event()
    app = SPAWN.Process(target=pause_then_hang, args=(db_url, point, reached))
    app.start()
    assert reached.wait(120), "the app never committed the approval"
    app.kill()
    app.join(30)
    assert outbox_size(service) == 1

    receiver = Receiver(port=port)
    restarted = open_store(db_url)
    sender = start_sender(restarted, FAST)
    try:
        wait_for(lambda: outbox_size(service) == 0)
    finally:
        sender.stop()
        restarted.close()
        receiver.close()
    [event] = receiver.events().values()
    assert event["event"] == "approval.pending"
    assert event["thread_id"] == service.list_pending(viewer=ALICE)[0].thread_id

