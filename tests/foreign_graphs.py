"""Small graphs as other people write them, registered by tests through GraphRegistry specs ("foreign_graphs:…")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import interrupt
from pydantic import BaseModel, Field


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
