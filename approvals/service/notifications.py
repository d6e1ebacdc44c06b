"""Channels through the service: their senders, what a queued notification says, and channels that keep failing.

Who is told is approvals/service/recipients.py. What the message says is read when it is sent, from the item's
checkpoint, in the console's words, so an item decided in the meantime is not announced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from approvals.core.actors import Actor
from approvals.core.errors import approvals_progress
from approvals.core.hidden_text import reveal
from approvals.core.human import actions_text
from approvals.identity.accounts import get_account
from approvals.notify import slack
from approvals.notify.channels import ChannelSender, Notification, Recipient
from approvals.notify.links import Links, signing_key
from approvals.notify.outbox import WEBHOOK, Delivery, OutboxSender
from approvals.notify.webhooks import console_link
from approvals.service import escalation, recipients
from approvals.service.queue import QueueService
from approvals.store import escalations, outbox, queue_index
from approvals.store.database import Database
from graphs.tools import ARGS_MODELS

FAILING_AFTER = 3
"""A channel whose notification failed this many times in a row is named to reviewers in the console."""
NOTIFIER = Actor("system (notifications)", "system")


@dataclass(frozen=True)
class ChannelTrouble:
    """A channel that keeps failing, as the console names it."""

    channel: str
    waiting: int
    """Notifications that failed at least FAILING_AFTER times and are still being retried."""
    last_error: str


def senders(service: NotificationService, delivery: Delivery = Delivery()) -> list[OutboxSender]:
    """One sender per configured channel, and Slack's updater of decided items' messages (the lifespan starts and
    stops them)."""
    found: list[OutboxSender] = [
        ChannelSender(service.db, kind, service.notice, partial(recipient, service.db), delivery)
        for kind in recipients.configured()]
    return found + ([slack.SlackUpdates(service.db, delivery)] if slack.configured() else [])


def recipient(db: Database, username: str) -> Recipient | None:
    account = get_account(db, username)
    return Recipient(account.username, account.email, account.slack_id) if account else None


@dataclass(frozen=True)
class Waiting:
    """Items waiting for one reviewer: the console's tab title and desktop notification."""

    count: int
    newest: str
    """When the newest of them was requested (ISO), "" for none."""


class NotificationService(QueueService):
    """What channels read through the service: a notification's text, failing channels, what waits for whom."""

    @property
    def action_links(self) -> Links:
        """Email's action links in this service's database, signed with the configured key (read now: a changed
        APPROVAL_LINK_SECRET applies at once): the link pages use them without a database handle."""
        return Links(self.db, signing_key())

    @property
    def slack_interactions(self) -> slack.Interactions:
        """What Slack's interactivity endpoint reads and remembers, in this service's database."""
        return slack.Interactions(self.db)

    def notice(self, body: dict, recipient: Recipient) -> Notification | None:
        """What a queued notification says now; None when the item was decided (or approved by this recipient)."""
        row = queue_index.notice_row(self.db, body["thread_id"], body["interrupt_id"])
        if row is None or row["status"] != "pending":
            return None
        approved_by = tuple(filter(None, row["approved_by"].split(",")))
        if recipient.username in approved_by:
            return None
        pending = self.pending_approval(body["thread_id"], viewer=NOTIFIER, interrupt_id=body["interrupt_id"])
        if pending is None:
            return None
        return Notification(
            event=body["event"], thread_id=pending.thread_id, interrupt_id=pending.interrupt_id,
            request_digest=pending.request_digest, tool=reveal(pending.review.tool),
            actions=actions_text(pending.request, ARGS_MODELS) if pending.request else (),
            question="" if pending.request else reveal(pending.review.summary(300)),
            requester=reveal(pending.review.requested_by), rule=row["rule"],
            progress=approvals_progress(approved_by, row["approvers"]) if row["approvers"] > 1 else "",
            created_at=pending.review.created_at, detail=body.get("detail", ""),
            console_url=console_link(pending.thread_id, pending.interrupt_id),
        )

    def waiting_for(self, *, viewer: Actor) -> Waiting:
        """How many pending items `viewer` may decide (their rule's groups, or the groups an escalation moved it to;
        not their own requests, not those they approved already), and when the newest arrived: the console's tab."""
        if not viewer.is_reviewer:
            return Waiting(0, "")
        policy = {rule.name: rule for rule in self.policy.current().rules}
        moved = escalations.items_with_step(self.db, escalation.REASSIGN)
        count, newest = 0, ""
        for row in queue_index.pending_for_others(self.db, viewer.name):
            rule = policy.get(row["rule"])
            groups = () if rule is None else rule.escalation.reassign_to \
                if (row["thread_id"], row["interrupt_id"]) in moved and rule.escalation.reassign_to else rule.groups
            if (not groups or viewer.groups & set(groups)) and viewer.name not in row["approved_by"].split(","):
                count, newest = count + 1, max(newest, row["created_at"])
        return Waiting(count, newest)

    def failing_channels(self, *, viewer: Actor) -> list[ChannelTrouble]:
        """Channels whose notifications keep failing (reviewers only): the console names them and says why."""
        if not viewer.is_reviewer:
            return []
        rows = outbox.failing_channels(self.db, WEBHOOK, FAILING_AFTER)
        return [ChannelTrouble(row["channel"], int(row["waiting"]), row["last_error"]) for row in rows]
