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
    rows = db.query("SELECT 1 AS done FROM escalations WHERE thread_id = ? AND interrupt_id = ? AND step = ?",
                    (thread_id, interrupt_id, REASSIGN))
    return replace(verdict, groups=groups) if rows else verdict


def due_steps(rule: Rule, item: QueueItem, now: datetime) -> list[tuple[str, str]]:
    """The (step, detail) the rule asks for at the item's age; each is recorded once, so repeating is harmless."""
    minutes, plan = age_seconds(item.created_at, now) / 60, rule.escalation
    steps = []
    if plan.remind_after is not None and minutes >= plan.remind_after:
        steps.append((REMIND, f"waiting {describe_age(minutes)}"))
    if plan.reassign_after is not None and plan.reassign_to and minutes >= plan.reassign_after:
        steps.append((REASSIGN, f"reassigned to {', '.join(plan.reassign_to)}"))
    return steps


def record_step(tx: Transaction, item: QueueItem, step: str, rule: str, detail: str, now: datetime) -> bool:
    """Record the step once and queue its notification; False when it had happened already."""
    inserted = tx.execute(
        "INSERT INTO escalations (thread_id, interrupt_id, step, happened_at, rule, detail) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (thread_id, interrupt_id, step) DO NOTHING",
        (item.thread_id, item.interrupt_id, step, iso(now), rule, detail),
    )
    if inserted:
        webhooks.enqueue_escalation(tx, item, step, rule, detail, describe_age(age_seconds(item.created_at, now) / 60))
    return bool(inserted)


def steps(db: Database, thread_id: str | None = None, limit: int = 1000) -> list[Step]:
    """Escalation steps, newest first (of one thread, or all)."""
    where, params = ("WHERE thread_id = ?", [thread_id]) if thread_id else ("", [])
    rows = db.query(f"SELECT * FROM escalations {where} ORDER BY happened_at DESC LIMIT ?", (*params, limit))
    return [Step(**row) for row in rows]


def describe_age(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
