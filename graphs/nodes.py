"""The graph's nodes: agent → annotate → await_approval → tools → agent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, SystemMessage, ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from approvals.core.hitl import ActionRequest, HITLRequest, Policy, PolicyFor, Reject, ReviewConfig, response_model
from graphs.ledger import Ledger
from graphs.state import State
from graphs.tools import APPROVAL_TOOLS, ARGS_MODELS, TOOLS, TOOLS_BY_NAME, args_json_schema, strictest

CLEARANCE_KEY = "approval_clearance"
"""`configurable` key the app resumes with: the policy the decider satisfied ("self" or "reviewer")."""

POLICY_KEY = "approval_policy_for"
"""`configurable` key the app runs with: a PolicyFor over its approval policy's rules (approvals.toml)."""

def reviewer_for_everything(tool: str, args: dict, requester: str) -> Policy:
    """No policy given (`langgraph dev`, a bare graph): one reviewer for every call that stops, as with no file."""
    return "reviewer"


def policy_for(config: RunnableConfig) -> PolicyFor:
    """The app's rules come with each run's config, so a reload applies at once and any graph object obeys them."""
    given = config.get("configurable", {}).get(POLICY_KEY)
    return given if callable(given) else reviewer_for_everything

SYSTEM_PROMPT = (
    "You are a customer-support agent. Use the tools to act; a human approves refunds, emails and deletions "
    "before they run. After a tool result, reply with a one-line summary. If a reviewer rejected a call, "
    "tell the user why and do not retry it unless asked."
)


class Node(Protocol):
    """A node as StateGraph.add_node types it: its parameter is named `state`, which a bare Callable cannot say."""

    def __call__(self, state: State) -> dict: ...


class ConfiguredNode(Protocol):
    """A node that also reads its run's config (the thread id, the decider's clearance)."""

    def __call__(self, state: State, config: RunnableConfig) -> dict: ...


def last_ai_message(state: State) -> AIMessage:
    message = state["messages"][-1]
    if not isinstance(message, AIMessage):
        raise ValueError(f"expected the last message to be an AIMessage, got {type(message).__name__}")
    return message


def needs_approval(call: ToolCall) -> bool:
    """Which calls stop for a person at all; who may decide them is the approval policy's (approvals.toml)."""
    return call["name"] in APPROVAL_TOOLS


def make_agent(model: BaseChatModel) -> Node:
    bound = model.bind_tools(TOOLS)

    def agent(state: State) -> dict:
        """Ask the model for the next step; it may propose tool calls."""
        return {"messages": [bound.invoke([SystemMessage(SYSTEM_PROMPT), *state["messages"]])]}

    return agent


def route_after_agent(state: State) -> Literal["annotate", "tools", "__end__"]:
    calls = last_ai_message(state).tool_calls
    if not calls:
        return "__end__"  # END, spelled out: the Literal return type is how LangGraph draws this edge
    return "annotate" if any(map(needs_approval, calls)) else "tools"


def annotate(state: State, config: RunnableConfig) -> dict:
    """Write the HITL request onto the last AIMessage and *return* it (same id, so add_messages replaces it).

    Why this is its own node: when a node raises `interrupt()`, LangGraph discards that node's writes, in every
    durability mode ("exit" only seemed to keep an in-place edit because the shared message object was mutated
    before the checkpoint was serialized; "sync" shows it is lost). Returning the annotated message from a node
    that completes commits it in this step's checkpoint, so the payload is on disk before `await_approval`
    interrupts, and a fresh process (a browser refresh) reads it back.
    """
    message = last_ai_message(state)
    calls = [call for call in message.tool_calls if needs_approval(call)]
    request = HITLRequest(
        action_requests=[
            ActionRequest(
                name=call["name"],
                args=call["args"],
                description=TOOLS_BY_NAME[call["name"]].description if call["name"] in TOOLS_BY_NAME else "",
                tool_call_id=call["id"],
            )
            for call in calls
        ],
        review_configs=[
            ReviewConfig(action_name=call["name"], args_schema=args_json_schema(call["name"])) for call in calls
        ],
        requested_by=(requester := state.get("requester", "guest")),
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        policy=strictest([policy_for(config)(call["name"], call["args"], requester) for call in calls]),
    )
    annotated = message.model_copy(
        update={"additional_kwargs": {**message.additional_kwargs, "hitl": request.model_dump(mode="json")}}
    )
    return {"messages": [annotated]}


def await_approval(state: State) -> dict:
    """Pause for the reviewer; on resume, apply edits to the message (same id) and hand decisions to `tools`."""
    message = last_ai_message(state)
    request = HITLRequest.model_validate(message.additional_kwargs["hitl"])
    response = interrupt(request.model_dump(mode="json"), response_schema=response_model(request, ARGS_MODELS))
    decisions = {
        action.tool_call_id: decision.model_dump()
        for action, decision in zip(request.action_requests, response.decisions, strict=True)
    }
    edits = {call_id: d["edited_action"]["args"] for call_id, d in decisions.items() if d["type"] == "edit"}
    calls = [{**call, "args": edits.get(call["id"], call["args"])} for call in message.tool_calls]
    return {"messages": [message.model_copy(update={"tool_calls": calls})], "decisions": decisions}


def make_tools(ledger: Ledger) -> ConfiguredNode:
    def tools(state: State, config: RunnableConfig) -> dict:
        """Run approved and edited calls once each (through the ledger); rejected ones become ToolMessages."""
        thread_id = config["configurable"]["thread_id"]
        decisions = state.get("decisions") or {}
        message = last_ai_message(state)
        granted = _clearance(message, config)
        requester = state.get("requester", "guest")
        needs = policy_for(config)
        results = [_run_call(call, decisions, granted, _needed(call, requester, needs), ledger, thread_id)
                   for call in message.tool_calls]
        return {"messages": results, "decisions": {}}

    return tools


def _clearance(message: AIMessage, config: RunnableConfig) -> Policy:
    """What the decider was cleared for: as the app says when it resumes, else the request's own policy.

    A decision recorded by an older replica (no clearance given) was checked against the request's policy only.
    """
    given = config["configurable"].get(CLEARANCE_KEY)
    if given in ("self", "reviewer"):
        return given
    hitl = message.additional_kwargs.get("hitl") or {}
    return "reviewer" if hitl.get("policy") == "reviewer" else "self" if hitl else "none"


def _needed(call: ToolCall, requester: str, needs: PolicyFor) -> Policy:
    return needs(call["name"], call["args"], requester) if needs_approval(call) else "none"


def _refusal(call: ToolCall, call_id: str, granted: Policy, needed: Policy) -> ToolMessage | None:
    """Re-check before running: a call whose arguments (after any edit) need more than the decider had never runs."""
    if strictest([needed, granted]) == granted:
        return None
    return ToolMessage(
        f"{call['name']} did not run: with these arguments it needs a reviewer's approval, which it did not have.",
        tool_call_id=call_id, name=call["name"], status="error",
    )


def _run_call(
    call: ToolCall, decisions: dict[str, dict], granted: Policy, needed: Policy, ledger: Ledger, thread_id: str
) -> ToolMessage:
    name, call_id = call["name"], call["id"]
    if call_id is None:  # the ledger runs each call once by its id; without one it could run twice
        raise ValueError(f"the model's call of {name} has no id")
    decision = decisions.get(call_id)
    if decision and decision["type"] == "reject":
        message = Reject.model_validate(decision).message or f"The reviewer rejected {name}; it did not run."
        return ToolMessage(message, tool_call_id=call_id, name=name, status="error")
    if refusal := _refusal(call, call_id, granted, needed):
        return refusal
    tool = TOOLS_BY_NAME.get(name)
    if tool is None:
        return ToolMessage(f"Unknown tool {name!r}.", tool_call_id=call_id, name=name, status="error")
    try:
        result = ledger.run_once(call_id, thread_id, name, call["args"], lambda: str(tool.invoke(call["args"])))
    except Exception as error:  # a bad call from the model is reported back to it, not raised
        return ToolMessage(f"{name} failed: {error}", tool_call_id=call_id, name=name, status="error")
    return ToolMessage(result, tool_call_id=call_id, name=name)
