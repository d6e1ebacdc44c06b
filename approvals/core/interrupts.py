"""What a thread is waiting for, read from its latest checkpoint alone (no graph needed), and what each wait asks.

Reading the checkpoint tuple instead of `graph.get_state` means a thread of a graph the app cannot load is still
listed with its question and its conversation. Which interrupts are still open follows LangGraph's own rule
(langgraph/pregel/_task_status.py): a task that finished has an output write; an interrupt waits for an answer
only while its task has not finished, and the task's latest interrupt is the one that counts.

Three kinds of interrupt value are understood:
- "hitl": a HITLRequest (ours, or LangChain's HumanInTheLoopMiddleware's batched one), answered
  `{"decisions": [...]}`;
- "tool_approval": the middleware's per-call request, shown as a one-action HITL request; its resume value is
  the single decision;
- "mcp_elicitation": an MCP tool's server asking a person (langchain.mcp), answered `{"responses": {...}}`, each
  form's content checked against its `requested_schema` (approvals/core/elicitation.py);
- "raw": anything else (`interrupt("Ship it?")`), answered with any JSON value, checked against the interrupt's
  `response_schema` when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final, get_args

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, Checkpoint, CheckpointTuple
from langgraph.prebuilt import ToolNode
from langgraph.pregel import Pregel
from langgraph.types import Interrupt
from pydantic import ValidationError

from approvals.core.elicitation import elicitation_requests
from approvals.core.hitl import (
    ActionRequest,
    DecisionType,
    FilledHITLRequest,
    HITLRequest,
    ReviewConfig,
    StandardHITLRequest,
)
from approvals.core.records import UNKNOWN_GRAPH, Kind, ReviewRequest

UNKNOWN_REQUESTER = "unknown"
FOREIGN_POLICY: Final = "reviewer"
INTERRUPT, RESUME, ERROR = "__interrupt__", "__resume__", "__error__"
BRANCH, TASKS = "branch:to:", "__pregel_tasks"
CONTROL_WRITES = {INTERRUPT, RESUME, ERROR, "__error_source_node__"}
NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class ThreadSnapshot:
    """The latest checkpoint of a thread: who asked, on which graph, its values and its open interrupts."""

    thread_id: str
    checkpoint_id: str
    created_at: str
    graph: str
    """The graph's name: `graph_id` from the metadata, else the one `identify_graph` found, else UNKNOWN_GRAPH."""
    requester: str | None
    """From the checkpoint's metadata (`requester`), when the run was given one."""
    values: dict[str, Any]
    interrupts: list[Interrupt]
    nodes: frozenset[str] = frozenset()
    """Every node the checkpoint shows (ran before, or paused now): what identifies a graph without `graph_id`."""
    channels: frozenset[str] = frozenset()
    """The state's channels the checkpoint has written (no internal ones): also matched against each graph."""
    identified: bool = False
    """True when `graph` was found from the checkpoint (nodes, tools, channels) rather than read from the metadata."""
    deployment: str = ""
    """The Agent Server deployment the thread lives on; "" for the app's own checkpointer."""
    assistant_id: str = ""
    """On a deployment: the assistant to resume the thread with."""

    @property
    def messages(self) -> list[BaseMessage]:
        return list(self.values.get("messages") or [])

    @property
    def tools(self) -> frozenset[str]:
        """The tools the open interrupts' pending calls name (a HITL request's actions, a per-call request)."""
        return frozenset(name for i in self.interrupts for name in requested_tools(i.value))

    def title(self) -> str:
        first = next((m for m in self.messages if isinstance(m, HumanMessage)), None)
        return (first.text if first else self.thread_id)[:80]


def read_snapshot(checkpointer: BaseCheckpointSaver, thread_id: str) -> ThreadSnapshot | None:
    """None when the thread has no checkpoint at all."""
    saved = checkpointer.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    return None if saved is None else snapshot_of(thread_id, saved)


def snapshot_of(thread_id: str, saved: CheckpointTuple) -> ThreadSnapshot:
    metadata = saved.metadata or {}
    requester = metadata.get("requester")
    return ThreadSnapshot(
        thread_id=thread_id,
        checkpoint_id=saved.config["configurable"]["checkpoint_id"],
        created_at=saved.checkpoint["ts"],
        graph=str(metadata.get("graph_id") or UNKNOWN_GRAPH),
        requester=str(requester) if requester else None,
        values=saved.checkpoint.get("channel_values") or {},
        interrupts=open_interrupts(saved.pending_writes or []),
        nodes=known_nodes(saved.checkpoint),
        channels=state_channels(saved.checkpoint),
    )


def known_nodes(checkpoint: Checkpoint) -> frozenset[str]:
    """The nodes that ran (`versions_seen`) and the ones triggered but not finished (a `branch:to:NODE` trigger still
    holding a value, or a Send in `__pregel_tasks`): the checkpoint's own record of which nodes its graph has."""
    values = checkpoint.get("channel_values") or {}
    paused = {channel.removeprefix(BRANCH) for channel in values if channel.startswith(BRANCH)}
    sent = {getattr(task, "node", None) for task in values.get(TASKS) or []}
    names = set(checkpoint.get("versions_seen") or {}) | paused | {n for n in sent if isinstance(n, str)}
    return frozenset(n for n in names if not n.startswith("__"))


def state_channels(checkpoint: Checkpoint) -> frozenset[str]:
    """The channels the checkpoint has written, without LangGraph's own (`__start__`, `branch:to:…`, tasks)."""
    written = set(checkpoint.get("channel_versions") or {}) | set(checkpoint.get("channel_values") or {})
    return frozenset(c for c in written if not c.startswith(("__", BRANCH)))


def requested_tools(value: Any) -> list[str]:
    """The tool names an interrupt value asks about: a HITL request's `action_requests`, or a per-call request's
    `name`; [] for anything else (a raw question names no tool)."""
    if not isinstance(value, dict):
        return []
    if value.get("type") == "tool_approval":
        return [value["name"]] if isinstance(value.get("name"), str) else []
    actions = value.get("action_requests")
    return [a["name"] for a in actions if isinstance(a, dict) and isinstance(a.get("name"), str)] \
        if isinstance(actions, list) else []


@dataclass(frozen=True)
class GraphShape:
    """What a registered graph is made of, as far as a checkpoint can show it: what `identify_graph` matches."""

    nodes: frozenset[str]
    channels: frozenset[str]
    tools: frozenset[str] | None
    """The tools its ToolNodes run; None when it has none to read (its own tools node): then tools cannot rule it
    out, and a tie with another graph stays a tie."""

    def fits(self, snapshot: ThreadSnapshot) -> bool:
        """Every node, channel and pending tool the checkpoint shows belongs to this graph."""
        return snapshot.nodes <= self.nodes and snapshot.channels <= self.channels \
            and (self.tools is None or snapshot.tools <= self.tools)


def graph_shape(graph: Pregel) -> GraphShape:
    """The compiled graph's node names, state channels and the tools its ToolNodes hold (create_agent's `tools`)."""
    tool_nodes = [node.bound for node in graph.nodes.values() if isinstance(node.bound, ToolNode)]
    tools = frozenset(name for node in tool_nodes for name in node.tools_by_name) if tool_nodes else None
    channels = frozenset(c for c in graph.channels if not c.startswith(("__", BRANCH)))
    return GraphShape(frozenset(n for n in graph.nodes if not n.startswith("__")), channels, tools)


def identify_graph(snapshot: ThreadSnapshot, shapes: dict[str, GraphShape]) -> str | None:
    """The one graph that has every node, channel and pending tool the checkpoint shows; None when none or several.

    Never a guess: two create_agent agents have the same nodes and channels, and the tools their pending calls
    name tell them apart; two that also share those tools (or a checkpoint that shows too little) match both, and
    the thread stays "graph unknown" until its run says `graph_id`.
    """
    if not snapshot.nodes:
        return None
    matches = [name for name, shape in shapes.items() if shape.fits(snapshot)]
    return matches[0] if len(matches) == 1 else None


def with_graph(snapshot: ThreadSnapshot, shapes: dict[str, GraphShape]) -> ThreadSnapshot:
    """The snapshot with its graph identified from the checkpoint when the metadata did not name one."""
    if snapshot.graph != UNKNOWN_GRAPH:
        return snapshot
    found = identify_graph(snapshot, shapes)
    return snapshot if found is None else replace(snapshot, graph=found, identified=True)


def open_interrupts(pending_writes: list[tuple[str, str, Any]]) -> list[Interrupt]:
    """The latest interrupt of every task that has not finished, in the order the tasks wrote them."""
    finished: set[str] = set()
    latest: dict[str, list[Interrupt]] = {}
    for task_id, channel, value in pending_writes:
        if task_id == NULL_TASK_ID:
            continue
        if channel == INTERRUPT:
            latest[task_id] = list(value) if isinstance(value, list | tuple) else [value]
        elif channel not in CONTROL_WRITES:
            finished.add(task_id)
    return [i for task_id, interrupts in latest.items() if task_id not in finished for i in interrupts]


# -- what an interrupt asks ----------------------------------------------------------------------------------


def review_request(interrupt: Interrupt, requester: str | None, checkpoint_time: str) -> ReviewRequest:
    """Classify and normalise one interrupt; a standard request gets the thread's requester and policy "reviewer"."""
    value, schema = interrupt.value, interrupt.response_schema if isinstance(interrupt.response_schema, dict) else None
    requested_by = requester or UNKNOWN_REQUESTER
    if elicitation_requests(value) is not None:
        return ReviewRequest("mcp_elicitation", value, schema, None, requested_by, checkpoint_time, FOREIGN_POLICY)
    request = _own_request(value) or _standard_request(value, requested_by, checkpoint_time) \
        or _tool_approval(value, schema, requested_by, checkpoint_time)
    if request is None:
        return ReviewRequest("raw", value, schema, None, requested_by, checkpoint_time, FOREIGN_POLICY)
    kind: Kind = "tool_approval" if isinstance(value, dict) and value.get("type") == "tool_approval" else "hitl"
    return ReviewRequest(kind, value, schema, request, request.requested_by, request.created_at, request.policy)


def _own_request(value: Any) -> HITLRequest | None:
    try:
        return HITLRequest.model_validate(value)
    except ValidationError:
        return None


def _standard_request(value: Any, requested_by: str, created_at: str) -> HITLRequest | None:
    try:
        standard = StandardHITLRequest.model_validate(value)
    except ValidationError:
        return None
    if len(standard.review_configs) != len(standard.action_requests):
        return None
    return FilledHITLRequest(**dict(standard), requested_by=requested_by, created_at=created_at,
                             policy=FOREIGN_POLICY)


def _tool_approval(value: Any, schema: dict | None, requested_by: str, created_at: str) -> HITLRequest | None:
    """The per-call request: its allowed decisions and edit-args schema are read from its response_schema."""
    if not (isinstance(value, dict) and value.get("type") == "tool_approval" and isinstance(value.get("args"), dict)):
        return None
    allowed = _decision_types(schema) or ["approve", "edit", "reject", "respond"]
    action = ActionRequest(name=str(value.get("name")), args=value["args"],
                           description=str(value.get("description") or ""), tool_call_id=value.get("tool_call_id"))
    config = ReviewConfig(action_name=action.name, allowed_decisions=allowed, args_schema=_edit_args_schema(schema))
    return FilledHITLRequest(action_requests=[action], review_configs=[config], requested_by=requested_by,
                             created_at=created_at, policy=FOREIGN_POLICY)


def _decision_types(schema: dict | None) -> list[DecisionType]:
    if not schema:
        return []
    members = schema.get("oneOf") or schema.get("anyOf") or [schema]
    consts = [_resolve(schema, m).get("properties", {}).get("type", {}).get("const") for m in members]
    return [c for c in consts if c in get_args(DecisionType)]


def _edit_args_schema(schema: dict | None) -> dict | None:
    """The edit branch's `edited_action.args` schema, with local references resolved one level (for the form)."""
    if not schema:
        return None
    for member in schema.get("oneOf") or schema.get("anyOf") or [schema]:
        properties = _resolve(schema, member).get("properties", {})
        if properties.get("type", {}).get("const") == "edit":
            edited = _resolve(schema, properties.get("edited_action", {}))
            args = _resolve(schema, edited.get("properties", {}).get("args", {}))
            return args or None
    return None


def _resolve(root: dict, node: dict) -> dict:
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not (isinstance(ref, str) and ref.startswith("#/")):
        return node if isinstance(node, dict) else {}
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    return target if isinstance(target, dict) else {}


