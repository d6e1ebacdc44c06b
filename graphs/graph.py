"""The approval graph: agent → annotate → await_approval → tools → agent."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.ledger import Ledger, MemoryLedger
from graphs.models import load_model
from graphs.nodes import annotate, await_approval, make_agent, make_tools, route_after_agent
from graphs.state import State


def build_graph(
    checkpointer: BaseCheckpointSaver | None = None,
    model: BaseChatModel | None = None,
    *,
    ledger: Ledger | None = None,
) -> CompiledStateGraph:
    """Compile the graph; run it with durability="sync" so each step is on disk before the next starts."""
    builder = StateGraph(State)
    builder.add_node("agent", make_agent(model or load_model()))
    builder.add_node("annotate", annotate)
    builder.add_node("await_approval", await_approval)
    builder.add_node("tools", make_tools(ledger or MemoryLedger()))

    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route_after_agent)
    builder.add_edge("annotate", "await_approval")
    builder.add_edge("await_approval", "tools")
    builder.add_edge("tools", "agent")
    return builder.compile(checkpointer=checkpointer)


def make_graph() -> CompiledStateGraph:
    """The graph as `langgraph.json` names it (`langgraph dev` supplies the checkpointer). The app builds its own
    copy with `build_graph`, so tool side effects go to the ledger in its database."""
    return build_graph()
