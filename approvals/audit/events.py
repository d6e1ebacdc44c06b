"""What each kind of audit entry holds: built from the records the service already has, so a caller only picks
the event and `append`s it.

A decision entry repeats the decisions row (so `audit verify` can hold the row to it) and adds what the row
does not keep: the digest of the request as the reviewer saw it, the proposed and the approved arguments apart,
the rule, and when the decider opened the item. A delivery entry says what actually ran (the ledger's rows).
"""

from __future__ import annotations

import json
from typing import Any

from approvals.core.interrupts import ReviewRequest
from approvals.store.database import Row

DECISION_FIELDS = ("decision_id", "thread_id", "interrupt_id", "decision", "tool", "requested_by", "requested_at",
                   "decided_by", "decided_at", "message")
"""Columns of the decisions row a decision entry repeats as they are; `response` and `edit_diff` as JSON."""
LATER_FIELDS = ("clearance",)
"""Columns later revisions added: repeated when the row has them, checked where the entry has them."""


def row_fields(row: Row) -> dict[str, Any]:
    """The part of a decisions row its chained entry must equal."""
    return {**{key: row[key] for key in DECISION_FIELDS}, "response": json.loads(row["response"]),
            "edit_diff": json.loads(row["edit_diff"]), **{key: row[key] for key in LATER_FIELDS if key in row}}


def decision_event(row: Row, review: ReviewRequest, graph: str, opened_at: str | None) -> dict[str, Any]:
    """The entry for a recorded decision (`row` as inserted into decisions)."""
    resume = json.loads(row["response"])
    return {
        "type": "decision", **row_fields(row), "graph": graph, "request_digest": review.digest,
        "proposed": proposed_actions(review), "approved": approved_actions(review, resume),
        "tool_call_ids": [a.tool_call_id for a in review.request.action_requests if a.tool_call_id]
        if review.request else [],
        "rule": review.policy, "opened_at": opened_at,
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
        "executed": [{"tool_call_id": r["tool_call_id"], "tool": r["tool"], "args": json.loads(r["args"]),
                      "result": r["result"], "executed_at": r["executed_at"]} for r in executed],
    }


def pause_event(action: str, kind: str, name: str, by: str, at: str) -> dict[str, Any]:
    """The entry for the stop switch: `action` is "pause" or "resume"."""
    return {"type": action, "target_kind": kind, "target": name, "decided_by": by, "decided_at": at}
