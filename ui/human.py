"""Requests in human terms: amounts as money, the argument that says what a call does, destructive tools named.

Pure functions (no Streamlit), shared by the card, the review pane and the queue, so every screen reads a request
the same way; the words every channel shares (emails too) are in approvals/core/human.py.
"""

from __future__ import annotations

from string import Formatter
from typing import Any

from approvals.core.hidden_text import reveal
from approvals.core.hitl import HITLRequest
from approvals.core.human import MONEY_ARGS, arg_text, is_destructive

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


PHRASES: dict[str, tuple[str, ...]] = {
    "issue_refund": ("a refund of {amount}", " for order {order_id}"),
    "send_email": ("an email to {to}", ", subject “{subject}”"),
    "delete_customer": ("deleting customer {customer_id}",),
    "lookup_order": ("a look-up of order {order_id}",),
}
"""The built-in tools' calls in words: each part is used when every argument it names is there."""
PHRASE_CHARS = 60
"""Longer argument values are cut in a one-line proposal (the card shows them whole)."""


def proposal(name: str, args: dict[str, Any]) -> str:
    """What a call asks for, in words: "a refund of $150.00 for order 101", "an email to jo@example.com, subject
    “Delay”"; another tool by name with its key arguments ("ship_order: order 7, amount $20.00")."""
    values = {key: _cut(arg_text(key, value)) for key, value in args.items()}
    phrase = PHRASES.get(name, ())
    if phrase and _names(phrase[0]) <= values.keys():  # the first part is required, the others optional
        return "".join(part.format_map(values) for part in phrase if _names(part) <= values.keys())
    shown = [f"{column.lower()} {value}" for column, value in key_columns(args).items() if value]
    return f"{name}: {', '.join(shown)}" if shown else call_line(name, values)


def _names(part: str) -> set[str]:
    return {field for _, field, _, _ in Formatter().parse(part) if field}


def _cut(text: str) -> str:
    first = text.splitlines()[0] if text.strip() else text
    return first if first == text and len(text) <= PHRASE_CHARS else first[: PHRASE_CHARS - 1] + "…"


def call_line(name: str, args: dict[str, Any]) -> str:
    """`delete_customer(customer_id=77)`, amounts as money, hidden characters escaped: the line a confirmation
    names."""
    return reveal(f"{name}({', '.join(f'{key}={arg_text(key, value)}' for key, value in args.items())})")


def destructive_calls(request: HITLRequest | None) -> list[str]:
    """The request's destructive calls, one line each (empty for a request that changes nothing for good)."""
    if request is None:
        return []
    return [call_line(a.name, a.args) for a in request.action_requests if is_destructive(a.name, a.description or "")]


DECIDED = {"approve": "✅ Approved", "edit": "✏️ Approved with edits", "reject": "⛔ Rejected",
           "withdraw": "↩️ Withdrawn", "respond": "💬 Answered", "answer": "💬 Answered"}
"""Each decision as the past tense a person reads, with its mark."""


def decided_word(decision: str, mark: bool = True) -> str:
    said = DECIDED.get(decision, f"☑️ {decision}")
    return said if mark else said.split(" ", 1)[1]


def headline(tool: str, request: HITLRequest | None) -> str:
    """What the request asks for, in words, for the open item's heading and the toasts, so two items in a row never
    look alike: "a refund of $150.00 for order 101" (and "+1 more call" when it asks for several)."""
    if request is None or not request.action_requests:
        return reveal(tool)
    first, more = request.action_requests[0], len(request.action_requests) - 1
    return reveal(proposal(first.name, first.args)) + (f" (+{more} more call{'s' if more > 1 else ''})" if more else "")


def outcome_line(decision: str, decided_by: str, when: str, message: str = "", edit_diff: list[dict] | None = None
                 ) -> str:
    """What the conversation records about a decision, beside what the agent proposed (never instead of it):
    "Approved by alice at 14:02", "Rejected by bob at 14:05 with: not during the freeze", "Approved with edits by
    alice at 14:02: edited to amount $200.00 (proposed $250.00)", "Withdrawn by carol at 14:03"."""
    line = f"{decided_word(decision)} by {decided_by} at {when}"
    changes = [f"{name} {arg_text(name, new)} (proposed {arg_text(name, old)})"
               for diff in edit_diff or [] for name, (old, new) in diff.get("changes", {}).items()]
    if changes:
        return f"{line}: edited to {'; '.join(changes)}"
    return f"{line} with: {message}" if message and decision != "withdraw" else line
