"""A warehouse agent whose tools come from an MCP server (examples/mcp_server.py) through `langchain.mcp`.

Built as LangChain's docs show it: `MCPAdapter` connects to the server (in-process here; a URL or a `Path` to a
script works the same), `create_agent` gets its tools, and the whole agent is a graph factory that is an async
context manager, so the MCP session stays open for as long as the graph is used. When a tool asks a person
(MCP elicitation), the run pauses with an `mcp_elicitation` interrupt that the console, the card and the API
answer. Offline: a scripted model.

    "Purge the archived orders in eu"          → purge_orders(region="eu")        (a confirmation form)
    "Move 20 units of SKU-7 to Lyon"           → transfer_stock(...)              (two questions in one round)
    "Connect the crm account"                  → connect_account(service="crm")   (a sign-in page to visit)
"""

from __future__ import annotations

import re
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from langchain.agents import create_agent
from langchain_core._api import LangChainBetaWarning
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langgraph.graph.state import CompiledStateGraph

from examples.mcp_server import CANCELLED, server

with warnings.catch_warnings():  # langchain.mcp announces it is in beta on import
    warnings.simplefilter("ignore", LangChainBetaWarning)
    from langchain.mcp import MCPAdapter

_PURGE = re.compile(r"\bpurge\b.*?\b(?:in|of|for)\s+([\w-]+)", re.I)
_MOVE = re.compile(r"\bmove\s+(\d+)\s+(?:units?\s+)?of\s+([\w-]+)\s+to\s+([\w -]+?)\s*\.?$", re.I)
_CONNECT = re.compile(r"\bconnect\b.*?\b([\w-]+)\s+account", re.I)
HELP = ('I manage the warehouse. Try "Purge the archived orders in eu", "Move 20 units of SKU-7 to Lyon" or '
        '"Connect the crm account".')


def _call(name: str, **args: Any) -> dict:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:20]}", "type": "tool_call"}


def scripted_call(text: str) -> dict | None:
    """The tool call a competent agent makes for one request, or None."""
    if m := _PURGE.search(text):
        return _call("purge_orders", region=m[1])
    if m := _MOVE.search(text):
        return _call("transfer_stock", sku=m[2], units=int(m[1]), destination=m[3])
    if m := _CONNECT.search(text):
        return _call("connect_account", service=m[1].lower())
    return None


class ScriptedWarehouseModel(BaseChatModel):
    """One tool call per request; after a result, its text. A call the reviewer cancelled is asked once more (the
    reviewer abandoned that call, not the request); cancelled twice, the agent gives up and says so."""

    @property
    def _llm_type(self) -> str:
        return "scripted-warehouse"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        last_human = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        call = scripted_call(messages[last_human].text)
        results = [m for m in messages[last_human + 1:] if isinstance(m, ToolMessage)]
        if call is None:
            return AIMessage(HELP)
        if not results:
            return AIMessage("", tool_calls=[call])
        cancelled = [r for r in results if CANCELLED in r.text]
        if results[-1] in cancelled and len(cancelled) == 1:
            return AIMessage("The reviewer cancelled that; asking once more.", tool_calls=[call])
        return AIMessage(results[-1].text)


@asynccontextmanager
async def make_agent() -> AsyncIterator[CompiledStateGraph]:
    """The agent with the MCP server's tools; the session is open while the graph is in use."""
    async with MCPAdapter(server) as adapter:
        yield create_agent(ScriptedWarehouseModel(), tools=await adapter.list_tools())
