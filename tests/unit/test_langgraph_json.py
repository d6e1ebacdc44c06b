"""Every graph langgraph.json names runs asynchronously, as `langgraph dev` and the Agent Server run it.

`ainvoke` reaches the scripted models through BaseChatModel's own `_agenerate`, which calls
`_generate(messages, stop, run_manager, **kwargs)` positionally: a model whose `_generate` lacks `run_manager`
works under `invoke` and fails here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from approvals.sources.async_graphs import invoke_graph, runs_async
from approvals.sources.registry import CONFIG_FILE, load_registry

T = TypeVar("T")

FIRST_MESSAGE = {
    "support": "Refund order 1234 for $250",
    "shipping": "Ship order 42 to 1 Main St",
    "warehouse": "Purge the archived orders in eu",
}
"""What a user would first say to each graph; a graph added to langgraph.json needs its line here."""
GRAPHS = sorted(json.loads(Path(CONFIG_FILE).read_text())["graphs"])


def test_every_graph_in_langgraph_json_has_a_first_message():
    assert sorted(FIRST_MESSAGE) == GRAPHS


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on a thread of its own: Playwright's sync API (the browser tests' session fixture) keeps an event
    loop running on the main thread, and asyncio.run refuses to start beside it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.mark.parametrize("name", GRAPHS)
def test_ainvoke_runs_the_graph_to_its_first_interrupt(name: str):
    """A sync graph on a loop of the test's own; an async one (an MCP session) where the registry opened it."""
    registry = load_registry(env="")
    graph = registry.load(name, InMemorySaver())
    config = {"configurable": {"thread_id": f"async-{name}"}}
    start = {"messages": [HumanMessage(FIRST_MESSAGE[name])]}

    try:
        result = invoke_graph(graph, start, config) if runs_async(graph) else run_async(graph.ainvoke(start, config))
    finally:
        registry.close()

    [waiting] = result["__interrupt__"]
    asked = waiting.value.get("tool_name") or waiting.value["action_requests"][0]["name"]
    assert asked in {"issue_refund", "ship_order", "purge_orders"}
    state = graph.get_state(config)
    assert state.next and state.interrupts == (waiting,)  # paused, in the checkpoint, not finished
