"""The graph's state: the conversation plus the reviewer's answer to the pending approval."""

from __future__ import annotations

from typing import Annotated, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation. `annotate` replaces the last AIMessage (same id) to attach the HITL request."""

    requester: str
    """Who is chatting on this thread; written by the caller, copied into every HITL request."""

    decisions: dict[str, dict]
    """Reviewer decisions keyed by tool_call_id, written by `await_approval`, read by `tools`."""
