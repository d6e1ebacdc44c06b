"""What the service hands to pages: plain records, no database rows or LangGraph objects leaking out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from approvals.core.digest import request_digest
from approvals.core.elicitation import ElicitationRequest, elicitation_requests
from approvals.core.errors import approvals_progress
from approvals.core.hitl import HITLRequest

if TYPE_CHECKING:  # a type only: the CLI and the audit read records without importing LangChain
    from langchain_core.messages import BaseMessage

Kind = Literal["hitl", "tool_approval", "raw", "mcp_elicitation"]
"""How an interrupt is answered (approvals.core.interrupts tells them apart)."""

TargetKind = Literal["tool", "graph"]
TARGET_KINDS: tuple[TargetKind, ...] = ("tool", "graph")
"""What the stop switch pauses: every call of a tool, or every item of a graph."""

BUILTIN_GRAPH = "support"
"""The built-in demo agent's name in langgraph.json; its runs record it as `graph_id` in their metadata."""
UNKNOWN_GRAPH = "graph unknown"
"""A thread whose checkpoint names no graph and matches no single registered one: listed, never decided."""
UNKNOWN_GRAPH_HELP = (
    "This thread's checkpoint does not say which graph it runs on (no graph_id in its run's metadata), and its"
    " nodes, pending tools and state channels match no single registered graph. Set graph_id in the run's metadata"
    " (config={\"metadata\": {\"graph_id\": NAME}}) or register the graph in langgraph.json or APPROVAL_GRAPHS;"
    " until then it cannot be decided, so nothing is resumed with a graph that was only assumed."
)


def age_seconds(iso: str, now: datetime | None = None) -> float:
    return ((now or datetime.now(UTC)) - datetime.fromisoformat(iso)).total_seconds()


@dataclass(frozen=True)
class ReviewRequest:
    """One interrupt as the reviewer sees it: the raw value, and a HITL request when it is one."""

    kind: Kind
    value: Any
    """The interrupt value exactly as the graph wrote it."""
    response_schema: dict | None
    request: HITLRequest | None
    """For "hitl" and "tool_approval": the request with requester, time and policy filled in."""
    requested_by: str
    created_at: str
    policy: str

    @property
    def digest(self) -> str:
        """sha256 of the value's canonical JSON: a decision carries the digest its reviewer was shown."""
        return request_digest(self.value)

    @property
    def elicitation(self) -> list[ElicitationRequest]:
        """An MCP tool's questions ("mcp_elicitation"); empty for any other kind."""
        return (elicitation_requests(self.value) or []) if self.kind == "mcp_elicitation" else []

    @property
    def tool(self) -> str:
        if self.kind == "mcp_elicitation":
            return str(self.value["tool_name"])
        return ", ".join(a.name for a in self.request.action_requests) if self.request else "(question)"

    def summary(self, limit: int = 120) -> str:
        if self.request:
            text = "; ".join(", ".join(f"{k}={v}" for k, v in a.args.items()) for a in self.request.action_requests)
        elif self.elicitation:  # the server's messages: what the queue row says the tool asks
            text = " · ".join(r.message for r in self.elicitation)
        else:
            text = self.value if isinstance(self.value, str) else json.dumps(self.value, default=str)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def resume_value(self, checked: Any) -> Any:
        """What the graph is resumed with: a per-call request takes its single decision, the rest as given."""
        return checked["decisions"][0] if self.kind == "tool_approval" else checked


@dataclass(frozen=True)
class QueueItem:
    """One row of the pending-approval index: enough to list and filter without touching checkpoints."""

    thread_id: str
    interrupt_id: str
    checkpoint_id: str
    tool: str
    requester: str
    policy: str
    args_summary: str
    created_at: str
    graph: str
    """The registered graph the thread runs on (langgraph.json / APPROVAL_GRAPHS name)."""
    kind: Kind
    """"hitl", "tool_approval" (decided like "hitl") or "raw" (answered with a JSON value)."""
    request_digest: str = ""
    """sha256 of the interrupt value's canonical JSON when it was indexed: a bulk decision is bound to it."""
    args: str = "{}"
    """The request's arguments as JSON (every action's, the first action's winning a clash): the queue's columns."""

    @property
    def arguments(self) -> dict[str, Any]:
        try:
            value = json.loads(self.args)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    rule: str = ""
    """The policy rule that decides it (as of the policy in force when it was indexed or last re-evaluated)."""
    approvers: int = 1
    approved_by: str = ""
    """Comma-separated: who approved it so far, when it needs several approvers."""
    deployment: str = ""
    """The Agent Server deployment the item lives on ("" for the app's own checkpointer)."""

    @property
    def progress(self) -> str:
        """ "1 of 2 approvals (alice)" for a multi-approver item, "" otherwise."""
        if self.approvers < 2:
            return ""
        return approvals_progress(tuple(filter(None, self.approved_by.split(","))), self.approvers)

    @property
    def source(self) -> str:
        """Where the item lives, as the queue names it: "deployment: graph" for a deployment's."""
        return f"{self.deployment}: {self.graph}" if self.deployment else self.graph


@dataclass(frozen=True)
class PendingApproval:
    """A pending interrupt read from the checkpoint: what it asks, next to the payload annotated on the message."""

    thread_id: str
    interrupt_id: str
    checkpoint_id: str
    review: ReviewRequest
    graph: str
    message_payload: dict | None
    messages: list[BaseMessage] = field(default_factory=list)
    deployment: str = ""
    """The Agent Server deployment the thread lives on ("" for the app's own checkpointer)."""
    assistant_id: str = ""
    """On a deployment: the assistant the thread is resumed with."""

    @property
    def request(self) -> HITLRequest | None:
        """The HITL request (requester, time and policy filled in), or None for a raw interrupt."""
        return self.review.request

    @property
    def value(self) -> Any:
        return self.review.value

    @property
    def request_digest(self) -> str:
        """What the decision must send back to show it saw this request (canonical JSON of the value, sha256)."""
        return self.review.digest

    @property
    def payload_matches(self) -> bool:
        """Our graph writes the request onto the AIMessage too; when it is there it must equal the interrupt value."""
        return self.message_payload is None or self.message_payload == self.review.value


@dataclass(frozen=True)
class DecisionRecord:
    decision_id: str
    thread_id: str
    interrupt_id: str
    decision: str
    tool: str
    requested_by: str
    requested_at: str
    decided_by: str
    decided_at: str
    edit_diff: list[dict]
    message: str
    applied_at: str | None
    """When the agent got the decision (its checkpoint, or its deployment, shows the interrupt resolved)."""
    delivery_error: str = ""
    """Why the last delivery did not take ("decided, not yet delivered"); empty once applied."""
    delivery_attempts: int = 0
    next_delivery_at: str | None = None

    @property
    def delivered(self) -> bool:
        return self.applied_at is not None

    @property
    def waited_seconds(self) -> float:
        return (datetime.fromisoformat(self.decided_at) - datetime.fromisoformat(self.requested_at)).total_seconds()


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: str
    title: str
    requester: str
    updated_at: str
    awaiting_approval: bool


@dataclass(frozen=True)
class BulkResult:
    """What a bulk decision did: the decisions that landed, and for every other item the reason it did not."""

    decided: list[DecisionRecord]
    failed: list[tuple[QueueItem, str]]
