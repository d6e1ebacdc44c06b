"""Small graphs as other people write them, registered by tests through GraphRegistry specs ("foreign_graphs:…")."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypedDict

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain.tools import ToolRuntime, tool
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt
from pydantic import BaseModel, Field

from examples.shipping_agent import ScriptedShippingModel, shipments_db


class Answer(TypedDict, total=False):
    answer: Any


class ShipIt(BaseModel):
    ship: bool
    note: str = Field("", max_length=40)


def _ask(state: Answer) -> Answer:
    return {"answer": interrupt("Ship it?")}


def _ask_with_schema(state: Answer) -> Answer:
    return {"answer": interrupt({"question": "Ship it?", "order": "42"}, response_schema=ShipIt).model_dump()}


def _standard_request(state: Answer) -> Answer:
    """LangChain's HITL request with an `args_schema` for edits (the middleware itself leaves it out)."""
    request = {
        "action_requests": [{"name": "set_discount", "args": {"percent": 10}}],
        "review_configs": [{
            "action_name": "set_discount",
            "allowed_decisions": ["approve", "edit", "reject"],
            "args_schema": {"type": "object",
                            "properties": {"percent": {"type": "integer", "minimum": 0, "maximum": 50}},
                            "required": ["percent"], "additionalProperties": False},
        }],
    }
    return {"answer": interrupt(request)}


def _single(node) -> StateGraph:
    builder = StateGraph(Answer)
    builder.add_node("ask", node)
    builder.add_edge(START, "ask")
    return builder


question = _single(_ask)
"""An uncompiled StateGraph: the registry compiles it with the app's checkpointer."""

factory_events: list[str] = []
"""What the factories below were called with and when their contexts closed, for the registry's tests."""


@asynccontextmanager
async def question_in_context(config: RunnableConfig) -> AsyncIterator[StateGraph]:
    """A graph factory that is an async context manager taking the config, as LangGraph's server calls it."""
    factory_events.append(f"opened for {config['metadata']['graph_id']}")
    try:
        yield question
    finally:
        factory_events.append("closed")


async def question_made_async() -> StateGraph:
    """An async factory without arguments."""
    return question
schema_question = _single(_ask_with_schema).compile()
standard_request = _single(_standard_request).compile()


class Shipment(TypedDict, total=False):
    answer: Any
    shipped: bool


def _confirm_shipment(state: Shipment) -> Shipment:
    """Asks, then ships: appends one line to $FLAKY_EFFECTS. While the file $FLAKY_FAIL exists, the resume raises
    after the answer arrived (a warehouse that is down), so the interrupt stays open."""
    answer = interrupt("Ship order 7?")
    if Path(os.environ["FLAKY_FAIL"]).exists():
        raise RuntimeError("the warehouse is offline")
    with open(os.environ["FLAKY_EFFECTS"], "a") as effects:
        effects.write(f"shipped {answer!r}\n")
    return {"answer": answer, "shipped": True}


def flaky_shipment() -> StateGraph:
    builder = StateGraph(Shipment)
    builder.add_node("confirm_shipment", _confirm_shipment)
    builder.add_edge(START, "confirm_shipment")
    return builder


# -- a team's own create_agent agent beside the shipping example ---------------------------------------------


@tool
def wire_funds(amount: float, to: str, runtime: ToolRuntime) -> str:
    """Wire money to an account: a row in the app database's `wires` table, keyed by the tool call id."""
    with shipments_db() as (conn, p):
        conn.execute("CREATE TABLE IF NOT EXISTS wires (tool_call_id TEXT PRIMARY KEY, amount REAL, to_account TEXT)")
        conn.execute(f"INSERT INTO wires (tool_call_id, amount, to_account) VALUES ({p}, {p}, {p})",
                     (runtime.tool_call_id, amount, to))
    return f"Wired {amount:.2f} to {to}."


class ScriptedTreasuryModel(ScriptedShippingModel):
    """"Wire 900 to ACME-1" → one wire_funds call; after the tool's result, its summary."""

    @property
    def _llm_type(self) -> str:
        return "scripted-treasury"

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        if messages and isinstance(messages[-1], ToolMessage):
            return AIMessage(messages[-1].text)
        match = re.search(r"\bwire\s+([\d.]+)\s+to\s+(\S+)", messages[-1].text, re.I)
        if not match:
            return AIMessage('I wire funds. Try "Wire 900 to ACME-1".')
        return AIMessage("", tool_calls=[{"name": "wire_funds", "args": {"amount": float(match[1]), "to": match[2]},
                                          "id": f"call_{uuid.uuid4().hex[:20]}", "type": "tool_call"}])


def make_treasury_agent() -> CompiledStateGraph:
    """Built exactly as the shipping example (create_agent + HumanInTheLoopMiddleware): the same node names and
    state channels; only its tool differs."""
    return create_agent(ScriptedTreasuryModel(), tools=[wire_funds],
                        middleware=[HumanInTheLoopMiddleware(interrupt_on={"wire_funds": True})])
