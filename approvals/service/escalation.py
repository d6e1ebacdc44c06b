"""Escalation steps of undecided items, as the policy's rules set them: a reminder, then a reassignment.

Each step happens once per item (PRIMARY KEY (thread_id, interrupt_id, step)), is recorded with the rule that
caused it, and sends its notification in the same transaction; expiry, the last step, is a decision and lives
in expiry.py. A reassigned item is decided by the rule's `reassign_to` groups instead of its `groups`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from approvals.core.policy import Rule, Verdict
from approvals.core.records import QueueItem, age_seconds
from approvals.notify import webhooks
from approvals.notify.channels import Event
from approvals.service import recipients
from approvals.store import escalations
from approvals.store.database import Database, Transaction, iso

REMIND, REASSIGN = "reminder", "reassigned"


@dataclass(frozen=True)
class Step:
    """One escalation step that happened, for the history."""

    thread_id: str
    interrupt_id: str
    step: str
    happened_at: str
    rule: str
    detail: str


def reassigned(db: Database, thread_id: str, interrupt_id: str, verdict: Verdict) -> Verdict:
    """The verdict with the groups the item was reassigned to, once its rule's reassignment happened."""
    groups = verdict.escalation.reassign_to
    if not groups:
        return verdict
    return replace(verdict, groups=groups) if escalations.happened(db, thread_id, interrupt_id, REASSIGN) else verdict


def due_steps(rule: Rule, item: QueueItem, now: datetime) -> list[tuple[str, str]]:
    """The (step, detail) the rule asks for at the item's age; each is recorded once, so repeating is harmless."""
    minutes, plan = age_seconds(item.created_at, now) / 60, rule.escalation
    steps = []
    if plan.remind_after is not None and minutes >= plan.remind_after:
        steps.append((REMIND, f"waiting {describe_age(minutes)}"))
    if plan.reassign_after is not None and plan.reassign_to and minutes >= plan.reassign_after:
        steps.append((REASSIGN, f"reassigned to {', '.join(plan.reassign_to)}"))
    return steps


def record_step(tx: Transaction, item: QueueItem, step: str, rule: Rule, detail: str, now: datetime) -> bool:
    """Record the step once and queue its notifications (the webhook, and the reviewers who may decide the item
    now: a reassignment tells the groups it moved to); False when it had happened already."""
    inserted = escalations.record_step(tx, item.thread_id, item.interrupt_id, step, iso(now), rule.name, detail)
    if inserted:
        age = describe_age(age_seconds(item.created_at, now) / 60)
        webhooks.enqueue_escalation(tx, item, step, rule.name, detail, age)
        event: Event = "reassigned" if step == REASSIGN else "reminder"
        recipients.tell(tx, item, _deciding_groups(tx, item, rule), event, detail)
    return inserted


def _deciding_groups(tx: Transaction, item: QueueItem, rule: Rule) -> tuple[str, ...]:
    """The groups that decide the item once this transaction commits: the reassignment's, once it happened."""
    moved = rule.escalation.reassign_to and escalations.happened(tx, item.thread_id, item.interrupt_id, REASSIGN)
    return rule.escalation.reassign_to if moved else rule.groups


def steps(db: Database, thread_id: str | None = None, limit: int = 1000) -> list[Step]:
    """Escalation steps, newest first (of one thread, or all)."""
    return [Step(**row) for row in escalations.newest_steps(db, thread_id, limit)]


def describe_age(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
