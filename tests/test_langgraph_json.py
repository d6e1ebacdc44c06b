"""Every graph langgraph.json names runs asynchronously, as `langgraph dev` and the Agent Server run it.

`ainvoke` reaches the scripted models through BaseChatModel's own `_agenerate`, which calls
`_generate(messages, stop, run_manager, **kwargs)` positionally: a model whose `_generate` lacks `run_manager`
works under `invoke` and fails here.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from approvals.sources.registry import CONFIG_FILE, load_registry

FIRST_MESSAGE = {
    "support": "Refund order 1234 for $250",
    "shipping": "Ship order 42 to 1 Main St",
}
"""What a user would first say to each graph; a graph added to langgraph.json needs its line here."""
GRAPHS = sorted(json.loads(Path(CONFIG_FILE).read_text())["graphs"])


def test_every_graph_in_langgraph_json_has_a_first_message():
    assert sorted(FIRST_MESSAGE) == GRAPHS


@pytest.mark.parametrize("name", GRAPHS)
def test_ainvoke_runs_the_graph_to_its_first_interrupt(name: str):
    graph = load_registry(env="").load(name, InMemorySaver())
    config = {"configurable": {"thread_id": f"async-{name}"}}

    result = asyncio.run(graph.ainvoke({"messages": [HumanMessage(FIRST_MESSAGE[name])]}, config))

    [waiting] = result["__interrupt__"]
    assert waiting.value["action_requests"][0]["name"] in {"issue_refund", "ship_order"}
    state = asyncio.run(graph.aget_state(config))
    assert state.next and state.interrupts == (waiting,)  # paused, in the checkpoint, not finished
