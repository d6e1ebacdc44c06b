"""Who is told, and delivery through the outbox, on SQLite and PostgreSQL: the reviewers who may decide an item
(its rule's groups, never the requester) get one notification per channel that reaches them; reminders and
reassignments too; nothing is lost across a restart; a decided item is not announced; a failing channel is named.

The channel here records what it was asked to send (the delivery is what is tested); the email channel is tested
against a real SMTP server in test_email.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import ALICE, CAROL

from approvals.core.actors import Actor
from approvals.identity import accounts
from approvals.notify.channels import ChannelFailed, ChannelKind, Notification, Recipient
from approvals.notify.outbox import Delivery
from approvals.service import expiry, notifications, recipients
from approvals.service.facade import ApprovalService
from approvals.service.policy import PolicySource
from approvals.store.database import Database
from approvals.store.schema import Store, open_store

POLICY = """
[[rules]]
name = "small-refunds"
tool = "issue_refund"
when = "args.amount <= 100.0"
decide = "self"

[[rules]]
name = "finance-refunds"
tool = "issue_refund"
groups = ["finance"]
approvers = 2
remind_after_minutes = 10
reassign_after_minutes = 20
reassign_to = ["treasury"]
"""
APPROVE = {"decisions": [{"type": "approve"}]}
FAST = Delivery(poll_s=0.02, first_retry_s=0.01, max_retry_s=0.02, timeout_s=5)


class Recording:
    """A channel that keeps what it sends, or fails while `failing` is set."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Notification]] = []
        self.failing = ""

    def kind(self) -> ChannelKind:
        return ChannelKind("recording", lambda: True, lambda r: bool(r.email), self.open)

    def open(self, db: Database) -> Recording:
        return self

    def send(self, notification: Notification, recipient: Recipient) -> None:
        if self.failing:
            raise ChannelFailed(self.failing)
        self.sent.append((recipient.username, notification))


@pytest.fixture
def channel(monkeypatch: pytest.MonkeyPatch) -> Recording:
    recording = Recording()
    monkeypatch.setattr(recipients, "KINDS", (recording.kind(),))
    return recording


@pytest.fixture
def app(store: Store, tmp_path: Path, channel: Recording) -> ApprovalService:
    (tmp_path / "approvals.toml").write_text(POLICY)
    accounts.set_account(store.db, "alice", email="alice@example.com", groups=["finance"])
    accounts.set_account(store.db, "bob", email="bob@example.com", groups=["support"])
    accounts.add_account(store.db, "dave", "reviewer", "dave-secret", ["finance"])  # no address: not reachable
    accounts.add_account(store.db, "erin", "reviewer", "erin-secret", ["finance"], email="erin@example.com")
    accounts.add_account(store.db, "tess", "reviewer", "tess-secret", ["treasury"], email="tess@example.com")
    accounts.set_account(store.db, "carol", email="carol@example.com")
    return ApprovalService(store, policy=PolicySource(tmp_path / "approvals.toml"))


def ask(service: ApprovalService, text: str, actor: Actor = CAROL) -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, actor)
    return thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id


def queued(service: ApprovalService) -> list[tuple[str, str]]:
    rows = service.db.query("SELECT event, recipient FROM outbox WHERE channel = 'recording'"
                            " ORDER BY event, recipient")
    return [(row["event"], row["recipient"]) for row in rows]


def drain(service: ApprovalService) -> int:
    return notifications.senders(service, FAST)[0].deliver_due()


def test_the_reviewers_of_the_rules_groups_are_told_never_the_requester(app):
    ask(app, "Refund order 3 for $500")
    assert queued(app) == [("recording.pending", "alice"), ("recording.pending", "erin")]
    finance_alice = Actor("alice", "reviewer", groups=frozenset({"finance"}))
    app.db.execute("DELETE FROM outbox")
    ask(app, "Refund order 4 for $700", finance_alice)  # a reviewer asking is not told about their own request
    assert queued(app) == [("recording.pending", "erin")]


def test_each_reminder_and_reassignment_tells_who_decides_then(app):
    thread_id, _ = ask(app, "Refund order 3 for $500")
    app.db.execute("DELETE FROM outbox")
    created = datetime.fromisoformat(app.pending_approval(thread_id, viewer=ALICE).review.created_at)
    expiry.expire_overdue(app, None, created + timedelta(minutes=11))
    expiry.expire_overdue(app, None, created + timedelta(minutes=12))  # each step once
    assert queued(app) == [("recording.reminder", "alice"), ("recording.reminder", "erin")]
    expiry.expire_overdue(app, None, created + timedelta(minutes=21))
    assert queued(app) == [("recording.reassigned", "tess"), ("recording.reminder", "alice"),
                           ("recording.reminder", "erin")]


def test_a_notification_is_sent_once_in_the_consoles_words_and_survives_a_restart(app, channel, db_url):
    thread_id, interrupt_id = ask(app, "Refund order 3 for $500")
    replica = ApprovalService(open_store(db_url), policy=app.policy)  # the app restarted: only the outbox remains
    try:
        assert drain(replica) == 2
    finally:
        replica.store.close()
    assert [name for name, _ in channel.sent] == ["alice", "erin"] and queued(app) == []
    notice = channel.sent[0][1]
    assert (notice.tool, notice.requester, notice.rule, notice.progress) == (
        "issue_refund", "carol", "finance-refunds", "0 of 2 approvals (none yet)")
    assert notice.actions[0].args == (("Order Id", "3"), ("Amount", "$500.00"))
    assert notice.console_url.endswith(f"/console?thread={thread_id}&interrupt={interrupt_id}")
    assert notice.request_digest == app.pending_approval(thread_id, viewer=ALICE).request_digest


def test_an_item_decided_before_sending_is_not_announced(app, channel):
    thread_id, interrupt_id = ask(app, "Refund order 3 for $500")
    finance = [Actor(name, "reviewer", groups=frozenset({"finance"})) for name in ("alice", "erin")]
    for reviewer in finance:
        try:
            app.decide(thread_id, interrupt_id, APPROVE, reviewer)
        except Exception as waiting:  # the first approval waits for the second
            assert "1 of 2" in str(waiting)
    assert drain(app) == 2 and channel.sent == [] and queued(app) == []


def test_a_channel_that_keeps_failing_is_named_to_reviewers(app, channel):
    ask(app, "Refund order 3 for $500")
    channel.failing = "SMTP 451: try later"
    for _ in range(recipients_failing_after()):
        app.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01' WHERE channel = 'recording'")
        drain(app)
    [trouble] = app.failing_channels(viewer=ALICE)
    assert (trouble.channel, trouble.waiting, trouble.last_error) == ("recording", 2, "SMTP 451: try later")
    assert app.failing_channels(viewer=CAROL) == []
    channel.failing = ""
    app.db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01'")
    drain(app)
    assert app.failing_channels(viewer=ALICE) == [] and len(channel.sent) == 2


def recipients_failing_after() -> int:
    return notifications.FAILING_AFTER


def test_what_waits_for_a_reviewer_counts_their_groups_items_not_their_own_nor_those_they_approved(app):
    finance_alice, support_bob = (Actor(name, "reviewer", groups=frozenset({group}))
                                  for name, group in (("alice", "finance"), ("bob", "support")))
    first, _ = ask(app, "Refund order 3 for $500")
    ask(app, "Refund order 4 for $600")
    waiting = app.waiting_for(viewer=finance_alice)
    assert waiting.count == 2 and waiting.newest > app.pending_approval(first, viewer=ALICE).review.created_at
    assert app.waiting_for(viewer=support_bob).count == 0 and app.waiting_for(viewer=CAROL).count == 0
    with pytest.raises(Exception, match="1 of 2"):
        app.decide(first, app.pending_approval(first, viewer=ALICE).interrupt_id, APPROVE, finance_alice)
    assert app.waiting_for(viewer=finance_alice).count == 1
    created = datetime.fromisoformat(app.pending_approval(first, viewer=ALICE).review.created_at)
    expiry.expire_overdue(app, None, created + timedelta(minutes=21))  # both move to treasury
    assert app.waiting_for(viewer=finance_alice).count == 0
    assert app.waiting_for(viewer=Actor("tess", "reviewer", groups=frozenset({"treasury"}))).count == 2


def test_a_person_signed_in_with_st_login_is_told_at_the_id_tokens_email(app):
    oidc = Actor("fay@example.com", "reviewer", groups=frozenset({"finance"}))
    accounts.remember_signed_in(app.db, oidc, "Fay@Example.com")
    accounts.remember_signed_in(app.db, oidc, "Fay@Example.com")  # unchanged: nothing written
    assert accounts.get_account(app.db, "fay@example.com") == accounts.Account(
        "fay@example.com", "reviewer", frozenset({"finance"}), "fay@example.com")
    assert accounts.check_password(app.db, "fay@example.com", "") is None  # no password signs them in here
    ask(app, "Refund order 3 for $500")
    assert ("recording.pending", "fay@example.com") in queued(app)
    accounts.remember_signed_in(app.db, Actor("fay@example.com", "reviewer", groups=frozenset({"legal"})),
                                "fay@example.com")
    app.db.execute("DELETE FROM outbox")
    ask(app, "Refund order 4 for $600")
    assert ("recording.pending", "fay@example.com") not in queued(app)
