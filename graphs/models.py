"""Chat models: an offline scripted model by default, ChatOpenAI when OPENAI_API_KEY is set."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from approvals.core.hitl import is_withdrawal

_ID = r"#?([A-Za-z0-9-]{1,32})"
_REFUND = re.compile(rf"\brefund\b.*?\border\s+{_ID}.*?\$?\s*(\d+(?:\.\d{{1,2}})?)", re.I | re.S)
_DELETE = re.compile(rf"\bdelete\s+customer\s+{_ID}", re.I)
_LOOKUP = re.compile(rf"\b(?:where\s+is|status\s+of|track)\s+(?:my\s+)?order\s+{_ID}", re.I)
_EMAIL = re.compile(r"\bemail\b.*?([^\s@]+@[^\s@]+\.[A-Za-z]{2,})(?:\s+(?:about|saying|that)\s+(.+))?", re.I | re.S)

HELP = (
    "I can look up orders, issue refunds, send emails and delete customers. Try \"Refund order 1234 for $25\", "
    "\"Where is order 1234?\", \"Email jo@example.com about the delay\" or \"Delete customer 77\"."
)


def _call(name: str, **args: Any) -> dict:
    return {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:24]}", "type": "tool_call"}


def scripted_reply(text: str) -> AIMessage:
    """Turn one user request into the tool call a competent agent would make, or a help text."""
    if m := _REFUND.search(text):
        return AIMessage("", tool_calls=[_call("issue_refund", order_id=m[1], amount=float(m[2]))])
    if m := _EMAIL.search(text):
        topic = (m[2] or "your request").strip().rstrip(".")
        body = f"Hello,\n\nWe are writing about {topic}.\n\nBest regards,\nSupport"
        return AIMessage("", tool_calls=[_call("send_email", to=m[1], subject=f"About {topic}"[:200], body=body)])
    if m := _DELETE.search(text):
        return AIMessage("", tool_calls=[_call("delete_customer", customer_id=m[1])])
    if m := _LOOKUP.search(text):
        return AIMessage("", tool_calls=[_call("lookup_order", order_id=m[1])])
    return AIMessage(HELP)


def scripted_summary(results: list[ToolMessage]) -> AIMessage:
    """After tools ran (or were rejected), say what happened in one line per call."""
    lines = [
        f"Done: {r.content}" if r.status != "error"
        else f"Not done: {r.content}" if is_withdrawal(str(r.content))
        else f"Not done: the reviewer rejected {r.name}: {r.content}"
        for r in results
    ]
    return AIMessage("\n".join(lines))


class ScriptedChatModel(BaseChatModel):
    """Deterministic offline model that emits real `tool_calls`, so the whole app runs without a network."""

    tool_names: tuple[str, ...] = ()

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Remember which tools were bound (by the name a real model would see): it never calls any other."""
        names = tuple(convert_to_openai_tool(t)["function"]["name"] for t in tools)
        return self.model_copy(update={"tool_names": names})

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        results = _trailing_tool_results(messages)
        if results:
            return scripted_summary(results)
        last_human = next((m for m in reversed(messages) if isinstance(m, HumanMessage)), None)
        reply = scripted_reply(last_human.text if last_human else "")
        if any(call["name"] not in self.tool_names for call in reply.tool_calls):
            return AIMessage(HELP)
        return reply


def _trailing_tool_results(messages: list[BaseMessage]) -> list[ToolMessage]:
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.insert(0, message)
    return results


def load_model() -> BaseChatModel:
    """ChatOpenAI when OPENAI_API_KEY is set (any OpenAI-compatible server via OPENAI_BASE_URL), else scripted."""
    if not os.environ.get("OPENAI_API_KEY"):
        return ScriptedChatModel()
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        base_url=os.environ.get("OPENAI_BASE_URL") or None,
        temperature=0,
    )
