"""The answer to the durability question, on the app's own graph: the pending approval is on disk before anyone
resumes, in every durability mode, as a separate process (a browser refresh) sees it.

The single-node approach from the question (write, send(), interrupt() in one node) is covered cell by cell in
test_lab.py; here we pin the two-node pattern the app uses, end to end.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from graphs import build_graph
from graphs.models import ScriptedChatModel

ROOT = Path(__file__).resolve().parents[2]

READER = """
import json, sqlite3, sys
from langgraph.checkpoint.sqlite import SqliteSaver
from graphs import build_graph
from graphs.models import ScriptedChatModel

graph = build_graph(SqliteSaver(sqlite3.connect(sys.argv[1])), ScriptedChatModel())
state = graph.get_state({"configurable": {"thread_id": sys.argv[2]}})
messages = state.values.get("messages", [])
print(json.dumps({
    "next": list(state.next),
    "interrupts": [i.value for t in state.tasks for i in t.interrupts],
    "payload": messages[-1].additional_kwargs.get("hitl") if messages else None,
    "message_count": len(messages),
}))
"""


def read_in_fresh_process(db: Path, thread_id: str) -> dict:
    """What a browser refresh sees: a new interpreter opening the same SQLite file."""
    out = subprocess.run(
        [sys.executable, "-c", READER, str(db), thread_id], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("durability", ["exit", "async", "sync"])
def test_pending_approval_is_durable_before_resume_in_every_mode(tmp_path, durability):
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db, check_same_thread=False)
    graph = build_graph(SqliteSaver(conn), ScriptedChatModel())
    config = {"configurable": {"thread_id": "refund"}}
    graph.invoke({"messages": [HumanMessage("Refund order 1234 for $25")]}, config, durability=durability)

    seen = read_in_fresh_process(db, "refund")

    assert seen["next"] == ["await_approval"]
    assert seen["payload"] is not None, f"payload lost under durability={durability!r}"
    assert seen["interrupts"] == [seen["payload"]]
    assert seen["payload"]["action_requests"][0]["args"] == {"order_id": "1234", "amount": 25.0}

    # The refresh's view is actionable: resuming from it completes the run.
    graph.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config, durability=durability)
    conn.close()
    after = read_in_fresh_process(db, "refund")
    assert after["next"] == [] and after["message_count"] == 4
