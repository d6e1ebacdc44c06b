"""Requests in human terms: amounts as money, the argument that says what a call does, destructive tools named.

Pure functions (no Streamlit), shared by the card, the review pane and the queue, so every screen reads a request
the same way; the words every channel shares (emails too) are in approvals/core/human.py.
"""

from __future__ import annotations

from typing import Any

from approvals.core.hidden_text import reveal
from approvals.core.human import MONEY_ARGS, arg_text, is_destructive
from graphs.hitl import HITLRequest

KEY_COLUMNS: dict[str, tuple[str, ...]] = {
    "Amount": MONEY_ARGS,
    "Recipient": ("to", "recipient", "email", "address"),
    "Customer": ("customer_id", "customer"),
    "Order": ("order_id", "order"),
}
"""The queue's stable columns: each shows the first of these arguments an item has (blank when it has none)."""


def key_columns(args: dict[str, Any]) -> dict[str, str]:
    """The queue's fixed columns for one item: always the same keys, so the table keeps its shape between loads."""
    columns = {}
    for column, names in KEY_COLUMNS.items():
        found = next((name for name in names if args.get(name) not in (None, "")), None)
        columns[column] = arg_text(found, args[found]) if found else ""
    return columns


def call_line(name: str, args: dict[str, Any]) -> str:
    """`delete_customer(customer_id=77)`, amounts as money, hidden characters escaped: the line a confirmation
    names."""
    return reveal(f"{name}({', '.join(f'{key}={arg_text(key, value)}' for key, value in args.items())})")


def destructive_calls(request: HITLRequest | None) -> list[str]:
    """The request's destructive calls, one line each (empty for a request that changes nothing for good)."""
    if request is None:
        return []
    return [call_line(a.name, a.args) for a in request.action_requests if is_destructive(a.name, a.description or "")]


def outcome_line(decision: str, decided_by: str, when: str, message: str = "", edit_diff: list[dict] | None = None
                 ) -> str:
    """What the conversation records about a decision: "Approved by alice at 14:02", "Rejected by bob at 14:05:
    not during the freeze", "Approved with edits by alice at 14:02: amount $250.00 → $200.00"."""
    said = {"approve": "✅ Approved", "edit": "✏️ Approved with edits", "reject": "⛔ Rejected",
            "withdraw": "↩️ Withdrawn", "respond": "💬 Answered", "answer": "💬 Answered"}.get(decision, f"☑️ {decision}")
    line = f"{said} by {decided_by} at {when}"
    changes = [f"{name} {arg_text(name, old)} → {arg_text(name, new)}"
               for diff in edit_diff or [] for name, (old, new) in diff.get("changes", {}).items()]
    details = "; ".join(changes) if changes else ("" if decision == "withdraw" else message)
    return f"{line}: {details}" if details else line
