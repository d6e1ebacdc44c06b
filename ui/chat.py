"""How a thread's messages read in the chat: one entry per message, as plain text (rendered with `st.text`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from approvals.core.hidden_text import reveal
from ui.human import proposal

Role = Literal["user", "assistant", "tool", "review"]
AVATARS: dict[Role, str | None] = {"user": None, "assistant": None, "tool": "🛠️", "review": "🧑‍⚖️"}


@dataclass(frozen=True)
class ChatEntry:
    role: Role
    text: str


def chat_entries(messages: Iterable[BaseMessage], outcomes: Mapping[str, str] | None = None) -> list[ChatEntry]:
    """User and assistant turns, proposed/called tools as one line each, tool results (⛔ when rejected or failed).

    `outcomes` maps a request's `created_at` to who decided it and when; that line follows the proposal.
    """
    messages, outcomes = list(messages), outcomes or {}
    answered = {message.tool_call_id for message in messages if isinstance(message, ToolMessage)}
    entries = []
    for message in messages:
        if isinstance(message, HumanMessage):
            entries.append(ChatEntry("user", message.text))
        elif isinstance(message, AIMessage):
            entries.append(ChatEntry("assistant", _assistant_text(message, answered)))
            if (decided := outcomes.get((message.additional_kwargs.get("hitl") or {}).get("created_at", ""))):
                entries.append(ChatEntry("review", decided))
        elif isinstance(message, ToolMessage):
            mark = "⛔ " if message.status == "error" else ""
            entries.append(ChatEntry("tool", f"{mark}{message.name or 'tool'}: {message.text}"))
    return [ChatEntry(entry.role, reveal(entry.text)) for entry in entries if entry.text]  # hidden chars shown


def _assistant_text(message: AIMessage, answered: set[str]) -> str:
    """A call reads "Called …" only once its result is in the thread; until then (waiting for approval, or any
    agent's call that has not run) it reads "Proposed …". Calls that waited for approval stay "Proposed …" with
    the arguments the agent proposed, even after an edit changed the message's call (the decision line below
    says what the reviewer made of it), in words: "Proposed a refund of $150.00 for order 101"."""
    proposed = {action.get("tool_call_id"): action.get("args") or {} for action in (
        message.additional_kwargs.get("hitl") or {}).get("action_requests", [])}
    calls = [
        f"Proposed {proposal(call['name'], proposed[call['id']])}" if call["id"] in proposed else
        f"{'Called' if call['id'] in answered else 'Proposed'} {proposal(call['name'], call['args'])}"
        for call in message.tool_calls
    ]
    return "\n".join([message.text, *calls] if message.text else calls)
