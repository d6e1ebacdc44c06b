"""A shipping agent built the way LangChain users build agents: `create_agent` + `HumanInTheLoopMiddleware`.

Nothing in it knows about the approvals app. It pauses with LangChain's standard HITL request, a worker process
runs it on the app's database (`examples/worker.py`), and the console decides it. Offline: a scripted model.

Its one tool, `ship_order`, has a real side effect: a row in the `shipments` table of the same database, keyed
by the tool call id, so a step that runs twice (a crash, a second resume) ships once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain.tools import ToolRuntime, tool
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph

from examples.app_database import app_database

_SHIP = re.compile(r"\bship\s+orders?\s+([\w-]+(?:\s*(?:,|and)\s*[\w-]+)*)\s+to\s+(.+?)\s*\.?$", re.I | re.S)


# -- the side effect ---------------------------------------------------------------------------------------


@contextmanager
def shipments_db() -> Iterator[tuple[Any, str]]:
    """The app's database with the shipments table created."""
    with app_database(
        "CREATE TABLE IF NOT EXISTS shipments (tool_call_id TEXT PRIMARY KEY, order_id TEXT NOT NULL,"
        " address TEXT NOT NULL, shipped_at TEXT NOT NULL)"
    ) as connection:
        yield connection


@tool
def ship_order(order_id: str, address: str, runtime: ToolRuntime) -> str:
    """Ship an order to an address (a parcel leaves the warehouse: a reviewer must approve)."""
    with shipments_db() as (conn, p):
        conn.execute(
            f"INSERT INTO shipments (tool_call_id, order_id, address, shipped_at) VALUES ({p}, {p}, {p}, {p})"
            " ON CONFLICT (tool_call_id) DO NOTHING",
            (runtime.tool_call_id, order_id, address, datetime.now(UTC).isoformat()),
        )
    return f"Order {order_id} shipped to {address}."


# -- an offline model ----------------------------------------------------------------------------------------


class ScriptedShippingModel(BaseChatModel):
    """"Ship order 42 to 1 Main St" → one ship_order call; "Ship orders 42 and 43 to …" → one call per order
    (parallel tool calls); after tool results, a one-line summary per result."""

    @property
    def _llm_type(self) -> str:
        return "scripted-shipping"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self  # it only ever calls ship_order

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        if messages and isinstance(messages[-1], ToolMessage):
            results = [m for m in messages[_last_ai_index(messages) + 1:] if isinstance(m, ToolMessage)]
            return AIMessage("\n".join(f"{r.name}: {r.text}" for r in results))
        last = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        match = _SHIP.search(last.text) if last else None
        if not match:
            return AIMessage('I ship orders. Try "Ship order 42 to 1 Main St".')
        orders = re.split(r"\s*(?:,|and)\s*", match[1])
        return AIMessage("", tool_calls=[
            {"name": "ship_order", "args": {"order_id": order, "address": match[2]},
             "id": f"call_{uuid.uuid4().hex[:20]}", "type": "tool_call"}
            for order in orders
        ])


def _last_ai_index(messages: list[BaseMessage]) -> int:
    return max(i for i, m in enumerate(messages) if isinstance(m, AIMessage))


# -- the agent, as langgraph.json names it -------------------------------------------------------------------


def make_agent() -> CompiledStateGraph:
    """One interrupt per model turn (the middleware's default "batched" mode), every decision type allowed."""
    return create_agent(
        ScriptedShippingModel(),
        tools=[ship_order],
        middleware=[HumanInTheLoopMiddleware(interrupt_on={"ship_order": True})],
    )


def make_per_call_agent() -> CompiledStateGraph:
    """One interrupt per tool call ("per_call" mode): parallel calls wait as separate items."""
    return create_agent(
        ScriptedShippingModel(),
        tools=[ship_order],
        middleware=[HumanInTheLoopMiddleware(interrupt_on={"ship_order": True}, interrupt_mode="per_call")],
    )
