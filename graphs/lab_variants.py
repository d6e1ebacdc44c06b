"""The durability lab's graphs: three ways to attach a HITL payload, and a run that is killed mid-step.

Kept apart from the runner (graphs/lab.py) so the page can show each variant's source and a reader process can
rebuild the same graph from a name read back from JSON.
"""

from __future__ import annotations

import inspect
import operator
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict, TypeVar, get_args

from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph._internal._constants import CONFIG_KEY_SEND
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

Durability = Literal["exit", "async", "sync"]
Variant = Literal["inplace", "copied", "two_node"]
Option = TypeVar("Option", bound=str)

DURABILITIES: tuple[Durability, ...] = get_args(Durability)
VARIANTS: tuple[Variant, ...] = get_args(Variant)
SEED_ID = "lab-ai-1"


def one_of(options: tuple[Option, ...], name: str) -> Option:
    """`name` as one of `options` (a Literal's members), for a name read back from JSON or argv; else ValueError."""
    for option in options:
        if option == name:
            return option
    raise ValueError(f"{name!r} is not one of {', '.join(options)}")


class LabState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation: the user's request, the seeded AIMessage with its tool call, the tool result."""
    decision: dict[str, Any]
    """The reviewer's resume value, written by the approval node once the interrupt is answered."""


def seeded_message(state: LabState) -> AIMessage:
    """The AIMessage `seed` wrote, itself (not a copy): the in-place variant mutates exactly this object."""
    msg = state["messages"][-1]
    if not isinstance(msg, AIMessage):
        raise TypeError(f"expected the seeded AIMessage last, got {type(msg).__name__}")
    return msg


def hitl_request(msg: AIMessage) -> dict[str, Any]:
    """The HITL payload (HumanInTheLoopMiddleware field names) for the message's tool calls."""
    return {
        "action_requests": [
            {"name": call["name"], "args": call["args"], "description": f"Run {call['name']}?"}
            for call in msg.tool_calls
        ],
        "review_configs": [
            {"action_name": call["name"], "allowed_decisions": ["approve", "edit", "reject"], "args_schema": {}}
            for call in msg.tool_calls
        ],
    }


def seed(state: LabState) -> dict:
    """Stands in for the agent: a fixed AIMessage with one tool call, so no model is needed."""
    call = {"name": "issue_refund", "args": {"order_id": "1234", "amount": 250.0}, "id": "call-1"}
    return {"messages": [AIMessage(content="", id=SEED_ID, tool_calls=[call])]}


def inplace_request(state: LabState, config: RunnableConfig) -> dict:
    """The question's approach: mutate the shared message, send() it, interrupt in the same node."""
    msg = seeded_message(state)
    msg.additional_kwargs["hitl"] = hitl_request(msg)
    config["configurable"][CONFIG_KEY_SEND]([("messages", [msg])])
    return {"decision": interrupt(msg.additional_kwargs["hitl"])}


def copied_request(state: LabState, config: RunnableConfig) -> dict:
    """The same on a copy: shows what send() is worth when the node then interrupts."""
    msg = seeded_message(state).model_copy(deep=True)
    msg.additional_kwargs["hitl"] = hitl_request(msg)
    config["configurable"][CONFIG_KEY_SEND]([("messages", [msg])])
    return {"decision": interrupt(msg.additional_kwargs["hitl"])}


def annotate(state: LabState) -> dict:
    """Write the payload in its own step, because a node's writes are dropped when it raises the interrupt.
    Same id, so add_messages replaces the message; the step commits before anyone interrupts."""
    msg = seeded_message(state)
    kwargs = {**msg.additional_kwargs, "hitl": hitl_request(msg)}
    return {"messages": [msg.model_copy(update={"additional_kwargs": kwargs})]}


def await_approval(state: LabState) -> dict:
    """Only interrupts: the payload is already in the checkpoint."""
    return {"decision": interrupt(state["messages"][-1].additional_kwargs["hitl"])}


def act(state: LabState) -> dict:
    """Runs after approval, so a finished run proves the resume went through."""
    call = next(m for m in state["messages"] if isinstance(m, AIMessage) and m.id == SEED_ID).tool_calls[0]
    verdict = state["decision"]["decisions"][0]["type"]
    return {"messages": [ToolMessage(content=f"{call['name']}: {verdict}", tool_call_id=call["id"])]}


VARIANT_NODES: dict[Variant, tuple[tuple[str, Callable[..., dict]], ...]] = {
    "inplace": (("request_approval", inplace_request),),
    "copied": (("request_approval", copied_request),),
    "two_node": (("annotate", annotate), ("await_approval", await_approval)),
}


def variant_source(variant: Variant) -> str:
    """The variant's node code as it runs, for the page to show next to the results."""
    return "\n\n".join(inspect.getsource(node) for _, node in VARIANT_NODES[variant])


def build_variant(variant: Variant, checkpointer: SqliteSaver) -> CompiledStateGraph[LabState, Any, Any, Any]:
    """seed → the variant's node(s) → act."""
    return _linear_graph(LabState, [("seed", seed), *VARIANT_NODES[variant], ("act", act)], checkpointer)


def _linear_graph(
    schema: type, nodes: list[tuple[str, Callable[..., dict]]], checkpointer: SqliteSaver, **kwargs: Any
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """START → nodes in order → END: both experiments only need a straight line."""
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(schema, **kwargs).add_sequence(nodes)
    builder.add_edge(START, nodes[0][0])
    builder.add_edge(nodes[-1][0], END)
    return builder.compile(checkpointer=checkpointer)


@contextmanager
def open_saver(path: str | Path) -> Iterator[SqliteSaver]:
    """A real SQLite checkpointer on a file, closed when done."""
    with closing(sqlite3.connect(str(path), check_same_thread=False)) as conn:
        yield SqliteSaver(conn)


def thread_config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


# --- The crash experiment's graph ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class CrashContext:
    """Run-time knobs: the doomed child touches a marker and sleeps; the continuing process does neither."""

    marker: str = ""
    slow_seconds: float = 0.0


class CrashState(TypedDict, total=False):
    request: str
    """The user's request, the run's input."""
    steps: Annotated[list[str], operator.add]
    """Names of the nodes that completed, appended by each node."""


def fast_step(state: CrashState) -> dict:
    return {"steps": ["fast_step"]}


def slow_step(state: CrashState, runtime: Runtime[CrashContext]) -> dict:
    """Stands in for a long LLM call; the marker tells the parent it is time to kill."""
    if runtime.context.marker:
        Path(runtime.context.marker).touch()
    time.sleep(runtime.context.slow_seconds)
    return {"steps": ["slow_step"]}


def build_crash_graph(checkpointer: SqliteSaver) -> CompiledStateGraph[CrashState, CrashContext, Any, Any]:
    """fast_step → slow_step."""
    return _linear_graph(CrashState, [("fast_step", fast_step), ("slow_step", slow_step)], checkpointer,
                         context_schema=CrashContext)

