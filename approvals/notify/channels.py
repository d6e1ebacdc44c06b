"""Channels that reach one reviewer where they are (email, Slack): what is said, to whom, and its delivery.

A channel is small: it says whether it can reach a recipient and sends one notification to one recipient, raising
when that failed. Which reviewers are told is the service's business (approvals/service/notifications.py); it
writes one outbox row per (channel, recipient) in the transaction that made the item pending, and a
`ChannelSender` per channel sends them with the outbox's guarantees (at least once, one replica, backoff).
What a row says is read when it is sent: an item decided in the meantime is not announced any more.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from approvals.core.human import ActionText, age_text
from approvals.notify.outbox import Delivery, OutboxSender
from approvals.store import outbox
from approvals.store.database import Database, Row, Transaction, utcnow

log = logging.getLogger(__name__)

Event = Literal["pending", "reminder", "reassigned"]


@dataclass(frozen=True)
class Recipient:
    """A reviewer as channels address them (from their account)."""

    username: str
    email: str = ""
    slack_id: str = ""


@dataclass(frozen=True)
class Notification:
    """One item to tell one reviewer about, in the words the console uses (approvals/core/human.py)."""

    event: Event
    thread_id: str
    interrupt_id: str
    request_digest: str
    tool: str
    actions: tuple[ActionText, ...]
    """What will run, call by call; empty for a question (a raw interrupt), answered in the console only."""
    question: str
    """A raw interrupt's question, summarised ("" for a tool call)."""
    requester: str
    rule: str
    progress: str
    """"1 of 2 approvals (alice)" for a multi-approver item, else ""."""
    created_at: str
    detail: str
    """An escalation's own words ("reassigned to treasury"), else ""."""
    console_url: str

    @property
    def decidable(self) -> bool:
        """Approve and Reject buttons fit tool calls only; a question is answered in the console."""
        return bool(self.actions)

    def age(self, now: datetime | None = None) -> str:
        return age_text(self.created_at, now)

    def headline(self) -> str:
        """One line naming the request, e.g. "Approval needed: issue_refund requested by carol"."""
        lead = {"pending": "Approval needed", "reminder": "Still waiting", "reassigned": "Reassigned to you"}
        return f"{lead[self.event]}: {self.tool} requested by {self.requester}"


class ChannelFailed(Exception):
    """A channel could not deliver (refused, unreachable); the outbox retries it with backoff."""


class Channel(Protocol):
    """Sends one notification to one recipient."""

    def send(self, notification: Notification, recipient: Recipient) -> None:
        """Deliver it now, or raise (ChannelFailed, or an OSError such as smtplib's) to be retried."""
        ...


@dataclass(frozen=True)
class ChannelKind:
    """A channel as the service knows it: whether it is configured, whom it can reach, and how to open it."""

    name: str
    configured: Callable[[], bool]
    """Set up in this deployment (its variables are set)."""
    reaches: Callable[[Recipient], bool]
    """This recipient has an address on it."""
    open: Callable[[Database], Channel]


def enqueue(tx: Transaction, channel: str, recipient: str, event: Event, thread_id: str, interrupt_id: str,
            detail: str = "") -> None:
    """Queue one notification of one item for one recipient on one channel, in the caller's transaction."""
    now = utcnow()
    body = {"event": event, "thread_id": thread_id, "interrupt_id": interrupt_id, "detail": detail}
    outbox.add_notification(tx, uuid.uuid4().hex, f"{channel}.{event}", json.dumps(body), now, channel, recipient)


Notice = Callable[[dict, Recipient], Notification | None]
"""What a queued row says to its recipient now, or None when there is nothing to tell any more."""
Reach = Callable[[str], Recipient | None]
"""The recipient a row names, as their account is now (None: the account is gone)."""


class ChannelSender(OutboxSender):
    """Sends one channel's outbox rows: each rendered when it is sent, so a decided item is never announced."""

    def __init__(self, db: Database, kind: ChannelKind, notice: Notice, reach: Reach, delivery: Delivery = Delivery()):
        self.channel = kind.name
        super().__init__(db, delivery)
        self._kind, self._deliver_to, self._notice, self._reach = kind, kind.open(db), notice, reach

    def send(self, row: Row) -> str | None:
        recipient = self._reach(row["recipient"])
        if recipient is None or not self._kind.reaches(recipient):
            return None  # nobody to tell on this channel any more
        notification = self._notice(json.loads(row["body"]), recipient)
        if notification is None:
            return None
        try:
            self._deliver_to.send(notification, recipient)
        except (ChannelFailed, OSError) as error:
            return str(error) or type(error).__name__
        return None
