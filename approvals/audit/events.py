"""What each kind of audit entry holds: built from the records the service already has, so a caller only picks
the event and `append`s it.

A decision entry repeats the decisions row (rule and policy version included) so `audit verify` can hold the row
to it, and adds what the row does not keep: the digest of the request as the reviewer saw it, the proposed and
the approved arguments apart, the arguments History shows (`pending.args`), the decider's row of a
multi-approver item, and when the decider opened the item. A delivery entry says when the agent got it
(`applied_at`) and what actually ran (each ledger row: arguments and a SHA-256 of the result).
"""

from __future__ import annotations

import json
from typing import Any

from approvals.core.digest import sha256_hex
from approvals.core.records import ReviewRequest
from approvals.store.database import Row

DECISION_FIELDS = ("decision_id", "thread_id", "interrupt_id", "decision", "tool", "requested_by", "requested_at",
                   "decided_by", "decided_at", "message")
"""Columns of the decisions row a decision entry repeats as they are; `response` and `edit_diff` as JSON."""
LATER_FIELDS = ("clearance",)
"""Columns later revisions added: repeated when the row has them, checked where the entry has them."""
POLICY_FIELDS = ("rule", "policy_version")
"""Chained since entries carry `policy_version` (before, an entry's `rule` was the request's policy label)."""
APPROVAL_FIELDS = ("approver", "generation", "decision", "response", "edit_diff", "approved_at", "rule",
                   "policy_version")
"""Columns of an `approvals` row (one approval of a multi-approver item) its chained entry repeats."""
LEDGER_FIELDS = ("tool_call_id", "tool", "args", "result_sha256", "executed_at")
"""What a delivery entry keeps of each ledger row: the arguments it ran with and a digest of its result."""


def row_fields(row: Row) -> dict[str, Any]:
    """The part of a decisions row its chained entry must equal."""
    return {**{key: row[key] for key in DECISION_FIELDS}, "response": json.loads(row["response"]),
            "edit_diff": json.loads(row["edit_diff"]),
            **{key: row[key] for key in (*LATER_FIELDS, *POLICY_FIELDS) if key in row}}


def approval_fields(row: Row) -> dict[str, Any]:
    """The part of an approvals row its chained entry must equal."""
    return {key: row[key] for key in APPROVAL_FIELDS}


def ledger_fields(row: Row) -> dict[str, Any]:
    """The part of a ledger row its delivery entry must equal."""
    return {"tool_call_id": row["tool_call_id"], "tool": row["tool"], "args": json.loads(row["args"]),
            "result_sha256": sha256_hex(row["result"]), "executed_at": row["executed_at"]}


def decision_event(row: Row, review: ReviewRequest, graph: str, opened_at: str | None, shown_args: Any,
                   approval: Row | None) -> dict[str, Any]:
    """The entry for a recorded decision (`row` as inserted into decisions); `shown_args` is the pending row's
    `args` (what History shows), `approval` the decider's approvals row of a multi-approver item (else None)."""
    resume = json.loads(row["response"])
    return {
        "type": "decision", "rule": "", "policy_version": "", **row_fields(row), "graph": graph,
        "request_digest": review.digest, "proposed": proposed_actions(review),
        "approved": approved_actions(review, resume),
        "tool_call_ids": [a.tool_call_id for a in review.request.action_requests if a.tool_call_id]
        if review.request else [],
        "request_policy": review.policy, "opened_at": opened_at, "shown_args": shown_args,
        **({"approval_row": approval_fields(approval)} if approval is not None else {}),
    }


def proposed_actions(review: ReviewRequest) -> Any:
    """What the agent asked for: each action's name and arguments (a raw interrupt: its value)."""
    if review.request is None:
        return review.value
    return [{"name": a.name, "args": a.args} for a in review.request.action_requests]


def approved_actions(review: ReviewRequest, resume: Any) -> Any:
    """Per action what was let through, after any edit (None for a rejected or answered one); a raw answer as is."""
    if review.request is None:
        return resume
    decisions = [resume] if review.kind == "tool_approval" else resume.get("decisions", [])
    approved: list[dict[str, Any] | None] = []
    for action, decision in zip(review.request.action_requests, decisions, strict=False):
        if decision.get("type") == "approve":
            approved.append({"name": action.name, "args": action.args})
        elif decision.get("type") == "edit":
            approved.append(decision["edited_action"])
        else:
            approved.append(None)
    return approved


def delivery_event(decision_id: str, thread_id: str, interrupt_id: str, applied_at: str,
                   executed: list[Row]) -> dict[str, Any]:
    """The entry for a decision the agent got: when, and the tool calls that ran with what arguments and result."""
    return {
        "type": "delivery", "decision_id": decision_id, "thread_id": thread_id, "interrupt_id": interrupt_id,
        "applied_at": applied_at,
        "executed": [ledger_fields(r) for r in executed],
    }


def pause_event(action: str, kind: str, name: str, by: str, at: str) -> dict[str, Any]:
    """The entry for the stop switch: `action` is "pause" or "resume"."""
    return {"type": action, "target_kind": kind, "target": name, "decided_by": by, "decided_at": at}
