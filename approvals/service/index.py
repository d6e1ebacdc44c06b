"""The pending-approval index, written from a thread's latest checkpoint: the queue never reads checkpoints."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage

from approvals.core.decisions import policy_actions, review_verdict
from approvals.core.interrupts import ThreadSnapshot, review_request
from approvals.core.policy import Policy, Verdict
from approvals.core.records import DecisionRecord, PendingApproval, QueueItem, ReviewRequest
from approvals.notify import webhooks
from approvals.service import recipients
from approvals.store import queue_index, threads
from approvals.store.database import Row, Transaction


def pending_in(snapshot: ThreadSnapshot, with_messages: bool) -> list[PendingApproval]:
    messages = snapshot.messages
    last = messages[-1] if messages else None
    payload = last.additional_kwargs.get("hitl") if isinstance(last, AIMessage) else None
    return [
        PendingApproval(
            thread_id=snapshot.thread_id,
            interrupt_id=interrupt.id,
            checkpoint_id=snapshot.checkpoint_id,
            review=review_request(interrupt, snapshot.requester, snapshot.created_at),
            graph=snapshot.graph,
            message_payload=payload,
            messages=messages if with_messages else [],
            deployment=snapshot.deployment,
            assistant_id=snapshot.assistant_id,
        )
        for interrupt in snapshot.interrupts
    ]


def open_interrupt(snapshot: ThreadSnapshot | None, interrupt_id: str | None, with_messages: bool = False
                    ) -> PendingApproval | None:
    """The snapshot's open interrupt with this id (the first one for None), or None."""
    pending = pending_in(snapshot, with_messages) if snapshot else []
    return next((p for p in pending if interrupt_id in (None, p.interrupt_id)), None)


def index_snapshot(tx: Transaction, thread_id: str, snapshot: ThreadSnapshot | None, policy: Policy
                   ) -> list[tuple[str, str, Verdict]]:
    """Write the index from the thread's latest checkpoint (None: it has none): the thread joins the thread list,
    then `write_index`. Returns the new items the policy decides itself, for the caller to decide after commit."""
    if snapshot is not None:
        add_thread_row(tx, snapshot)
    return write_index(tx, thread_id, snapshot, policy)


def add_thread_row(tx: Transaction, snapshot: ThreadSnapshot) -> None:
    """A thread another process started (or one the index lost) joins the thread list, with its graph."""
    threads.add_thread(tx, snapshot.thread_id, snapshot.title(), snapshot.requester or "unknown", snapshot.created_at,
                       snapshot.graph)


def write_index(tx: Transaction, thread_id: str, snapshot: ThreadSnapshot | None, policy: Policy
                ) -> list[tuple[str, str, Verdict]]:
    """The checkpoint's open interrupts become pending rows; every other row of the thread (all, for None) is
    resolved.

    Each new row carries the policy's verdict (rule, who may decide, how many approvers); returns the new rows
    the policy decides itself (`approve` / `deny`), for the caller to decide once this transaction commits.
    """
    items = pending_in(snapshot, False) if snapshot else []
    queue_index.resolve_others(tx, thread_id, [item.interrupt_id for item in items])
    by_policy: list[tuple[str, str, Verdict]] = []
    for pending in items:
        review = pending.review
        verdict = review_verdict(policy, review, pending.graph)
        item = QueueItem(thread_id, pending.interrupt_id, pending.checkpoint_id, review.tool, review.requested_by,
                         verdict.display, review.summary(), review.created_at, pending.graph, review.kind,
                         review.digest, rule=verdict.rule, approvers=verdict.approvers, deployment=pending.deployment)
        args, amount, search = searchable(review, snapshot.title() if snapshot else "")
        inserted = queue_index.insert_pending(tx, item, args, amount, search, json.dumps(request_actions(review)),
                                              pending.assistant_id)
        if inserted and verdict.by_policy and review.request is not None:
            by_policy.append((thread_id, item.interrupt_id, verdict))
        elif inserted:
            webhooks.enqueue_pending(tx, item)
            recipients.tell(tx, item, verdict.groups, "pending")
    return by_policy


def request_actions(review: ReviewRequest) -> list[list]:
    """What the policy judges, kept on the index row so a reload re-evaluates the queue without the checkpoints."""
    return [[tool, args] for tool, args in policy_actions(review)]


def searchable(review: ReviewRequest, title: str) -> tuple[str, float | None, str]:
    """What the queue filters and sorts on without reading checkpoints: the arguments as JSON, the amount (when
    a number), and one lower-cased text with the tool, the arguments, the requester and the conversation title."""
    args: dict[str, Any] = {}
    for action in reversed(review.request.action_requests if review.request else []):
        args.update(action.args)
    raw = args.get("amount")
    amount = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    question = "" if review.request else json.dumps(review.value, default=str, ensure_ascii=False)
    text = " ".join([review.tool, json.dumps(args, default=str, ensure_ascii=False), question, review.requested_by,
                     title])
    return json.dumps(args, default=str), amount, text.lower()


def decision_record(row: Row) -> DecisionRecord:
    fields = {k: row[k] for k in DecisionRecord.__dataclass_fields__ if k in row}
    return DecisionRecord(**{**fields, "edit_diff": json.loads(row["edit_diff"])})
