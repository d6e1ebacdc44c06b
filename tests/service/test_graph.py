"""The graph on its own (real SQLite checkpointer): routing, typed decisions, the ledger, invalid resumes."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import ValidationError

from approvals.service.policy import PolicySource, policy_for_rules
from graphs import build_graph
from graphs.ledger import MemoryLedger
from graphs.models import ScriptedChatModel
from graphs.nodes import POLICY_KEY

SHIPPED_POLICY = policy_for_rules(PolicySource(Path(__file__).resolve().parents[2] / "approvals.toml").current)


@pytest.fixture
def saver(tmp_path: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(tmp_path / "graph.db", check_same_thread=False)
    yield SqliteSaver(conn)
    conn.close()


class CountingLedger(MemoryLedger):
    """The real in-memory ledger, counting how often an effect actually ran."""

    def __init__(self) -> None:
        super().__init__()
        self.effects: list[str] = []

    def run_once(self, tool_call_id, thread_id, tool, args, effect):
        def counted() -> str:
            self.effects.append(tool)
            return effect()

        return super().run_once(tool_call_id, thread_id, tool, args, counted)


@pytest.fixture
def ledger() -> CountingLedger:
    return CountingLedger()


@pytest.fixture
def graph(saver: SqliteSaver, ledger: CountingLedger) -> CompiledStateGraph:
    return build_graph(saver, ScriptedChatModel(), ledger=ledger)


CONFIG = {"configurable": {"thread_id": "t-1", POLICY_KEY: SHIPPED_POLICY}}
"""As the app runs the graph: what a call needs comes from the shipped approvals.toml."""


def ask(graph: CompiledStateGraph, text: str, requester: str = "carol") -> dict:
    return graph.invoke({"messages": [HumanMessage(text)], "requester": requester}, CONFIG, durability="sync")


def resume(graph: CompiledStateGraph, *decisions: dict) -> dict:
    return graph.invoke(Command(resume={"decisions": list(decisions)}), CONFIG, durability="sync")


def test_refund_request_stops_at_await_approval_with_the_payload_on_the_message(graph):
    result = ask(graph, "Refund order 1234 for $25")

    state = graph.get_state(CONFIG)
    assert state.next == ("await_approval",)
    [interrupt] = result["__interrupt__"]
    message = state.values["messages"][-1]
    assert message.additional_kwargs["hitl"] == interrupt.value
    assert interrupt.value["action_requests"][0]["name"] == "issue_refund"
    assert interrupt.value["action_requests"][0]["args"] == {"order_id": "1234", "amount": 25.0}
    assert interrupt.value["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]
    assert interrupt.value["review_configs"][0]["args_schema"]["required"] == ["order_id", "amount"]
    assert interrupt.value["requested_by"] == "carol"
    assert interrupt.value["policy"] == "self"
    assert interrupt.response_schema["title"] == "RequestResponse"


def test_annotate_replaces_the_ai_message_instead_of_appending(graph):
    ask(graph, "Refund order 1234 for $25")
    messages = graph.get_state(CONFIG).values["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage]


def test_approve_runs_the_tool_once_and_the_agent_summarizes(graph, ledger):
    ask(graph, "Refund order 1234 for $25")
    result = resume(graph, {"type": "approve"})

    tool_message, answer = result["messages"][-2:]
    assert isinstance(tool_message, ToolMessage) and tool_message.content.startswith("Refunded $25.00 on order 1234")
    assert answer.content.startswith("Done: Refunded $25.00")
    assert ledger.effects == ["issue_refund"]
    assert graph.get_state(CONFIG).next == ()


def test_edit_runs_the_tool_with_the_edited_args_and_shows_them_on_the_message(graph, ledger):
    ask(graph, "Refund order 1234 for $25")
    result = resume(graph, {"type": "edit",
                            "edited_action": {"name": "issue_refund", "args": {"order_id": "1234", "amount": "20"}}})

    ai = next(m for m in result["messages"] if isinstance(m, AIMessage) and m.tool_calls)
    assert ai.tool_calls[0]["args"] == {"order_id": "1234", "amount": 20.0}
    assert "Refunded $20.00" in result["messages"][-2].content
    assert ledger.effects == ["issue_refund"]


def test_reject_sends_the_reviewers_message_to_the_model_and_never_runs_the_tool(graph, ledger):
    ask(graph, "Delete customer 77")
    result = resume(graph, {"type": "reject", "message": "Customer has open orders"})

    tool_message = result["messages"][-2]
    assert isinstance(tool_message, ToolMessage)
    assert tool_message.status == "error" and tool_message.content == "Customer has open orders"
    assert "Customer has open orders" in result["messages"][-1].content
    assert ledger.effects == []


def test_read_only_tool_needs_no_approval(graph, ledger):
    result = ask(graph, "Where is order 1234?")
    assert "__interrupt__" not in result
    assert "Order 1234: shipped" in result["messages"][-2].content
    assert ledger.effects == ["lookup_order"]


def test_plain_question_gets_a_plain_reply(graph):
    result = ask(graph, "hello there")
    assert result["messages"][-1].content.startswith("I can look up orders")
    assert graph.get_state(CONFIG).next == ()


def test_reviewer_policy_for_large_refunds_emails_and_deletions(graph):
    for text in ("Refund order 9 for $250", "Email jo@example.com about the delay", "Delete customer 77"):
        config = {"configurable": {"thread_id": text, POLICY_KEY: SHIPPED_POLICY}}
        result = graph.invoke({"messages": [HumanMessage(text)]}, config, durability="sync")
        assert result["__interrupt__"][0].value["policy"] == "reviewer", text
        assert result["__interrupt__"][0].value["requested_by"] == "guest"


def edit(tool: str, args: dict) -> dict:
    """A reviewer's edit decision, as the UI sends it."""
    return {"type": "edit", "edited_action": {"name": tool, "args": args}}


@pytest.mark.parametrize(
    "decisions, message",
    [
        ([{"type": "approve"}, {"type": "approve"}], "expected 1 decision(s), got 2"),
        ([{"type": "maybe"}], "does not match any of the expected tags"),
        ([{"type": "reject", "message": ""}], "at least 1 character"),
        ([edit("issue_refund", {"order_id": "1234", "amount": -5})], "greater than 0"),
        ([edit("issue_refund", {"order_id": "<b>1</b>", "amount": 5})], "order_id"),
        ([edit("delete_customer", {"customer_id": "1"})], "must keep the tool"),
    ],
)
def test_invalid_decision_raises_clearly_saves_nothing_and_stays_pending(graph, saver, ledger, decisions, message):
    ask(graph, "Refund order 1234 for $25")
    before = graph.get_state(CONFIG)
    checkpoints_before = len(list(saver.list(CONFIG)))

    with pytest.raises(ValidationError, match=re.escape(message)):
        resume(graph, *decisions)

    after = graph.get_state(CONFIG)
    assert after.next == ("await_approval",)
    assert after.values == before.values
    assert after.tasks[0].interrupts[0].id == before.tasks[0].interrupts[0].id
    assert len(list(saver.list(CONFIG))) == checkpoints_before
    assert ledger.effects == []
    # ...and a valid decision still goes through afterwards.
    resume(graph, {"type": "approve"})
    assert ledger.effects == ["issue_refund"]


def test_rerunning_the_tools_step_never_repeats_a_refund(graph, ledger):
    ask(graph, "Refund order 1234 for $25")
    resume(graph, {"type": "approve"})
    tools_checkpoint = next(
        s for s in graph.get_state_history(CONFIG) if s.next == ("tools",)
    )  # replay the step that ran the tool
    graph.invoke(None, tools_checkpoint.config, durability="sync")
    assert ledger.effects == ["issue_refund"]


def test_each_approval_on_a_thread_has_its_own_interrupt_id(graph):
    first = ask(graph, "Refund order 1 for $5")["__interrupt__"][0].id
    resume(graph, {"type": "approve"})
    second = ask(graph, "Refund order 2 for $6")["__interrupt__"][0].id
    assert first != second
