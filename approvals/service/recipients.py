"""Who is told: each new pending item, and each reminder and reassignment of the escalation rules, goes to every
reviewer who may decide it (the rule's groups, or every reviewer when it names none; never the requester), once per
configured channel that reaches them.

The rows are written to the outbox in the transaction that made the item pending (or escalated it): nothing is lost
when the app restarts before sending, and one replica sends each (approvals/notify/channels.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from approvals.core.records import QueueItem
from approvals.identity.accounts import parse_groups
from approvals.notify import channels, email, slack
from approvals.notify.channels import ChannelKind, Event, Recipient
from approvals.store import accounts
from approvals.store.database import Transaction

KINDS: tuple[ChannelKind, ...] = (email.KIND, slack.KIND)
"""Every channel the app has; those configured (their variables set) are used."""


def configured() -> list[ChannelKind]:
    return [kind for kind in KINDS if kind.configured()]


def who_may_decide(tx: Transaction, requester: str, groups: Iterable[str]) -> list[Recipient]:
    """The reviewers who may decide an item of `requester` under a rule naming `groups` (any reviewer when none)."""
    wanted = set(groups)
    return [Recipient(row["username"], row["email"], row["slack_id"]) for row in accounts.reviewer_accounts(tx)
            if row["username"] != requester and (not wanted or wanted & parse_groups(row["groups"]))]


def tell(tx: Transaction, item: QueueItem, groups: Iterable[str], event: Event, detail: str = "") -> None:
    """Queue the item's notification for every reviewer who may decide it, on each configured channel they have."""
    kinds = configured()
    if not kinds:
        return
    for recipient in who_may_decide(tx, item.requester, groups):
        for kind in kinds:
            if kind.reaches(recipient):
                channels.enqueue(tx, kind.name, recipient.username, event, item.thread_id, item.interrupt_id, detail)


