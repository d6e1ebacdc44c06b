"""Run a registered agent in its own process, on the app's database, until it finishes or stops for a human.

    python -m examples.worker "Ship order 42 to 1 Main St" [--graph shipping] [--thread ID] [--requester dave]

The worker knows nothing about the approvals app: it uses the standard `SqliteSaver` on the app's SQLite file, or
`PostgresSaver` on `DATABASE_URL`, and records `graph_id` (and `requester`) in the run's metadata, as LangGraph's
server does, so the console knows which graph to resume the thread with and whose request it is. The item
appears in the console's queue within seconds; the app resumes the thread when a reviewer decides. An async graph
(the MCP warehouse agent, `--graph warehouse`) runs with `ainvoke` on the same saver.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from approvals.core.errors import UnregisteredGraph
from approvals.sources.async_graphs import invoke_graph
from approvals.sources.registry import load_registry

DEFAULT_DATABASE = "data/app.db"


@contextmanager
def standard_saver() -> Iterator[BaseCheckpointSaver]:
    """LangGraph's own savers, exactly as any worker would open them."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE
    if url.startswith(("postgresql://", "postgres://")):
        from langgraph.checkpoint.postgres import PostgresSaver

        with PostgresSaver.from_conn_string(url) as saver:
            saver.setup()
            yield saver
    else:
        from langgraph.checkpoint.sqlite import SqliteSaver

        path = url.removeprefix("sqlite:///")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with SqliteSaver.from_conn_string(path) as saver:
            saver.setup()
            yield saver


def run(graph_name: str, text: str, thread_id: str, requester: str | None, graph_id: bool = True) -> list[dict]:
    """Start (or continue) the thread with one user message; returns the interrupts it stopped at."""
    registry = load_registry()
    try:
        with standard_saver() as saver:
            graph = registry.load(graph_name, saver)
            metadata = {**({"graph_id": graph_name} if graph_id else {}),
                        **({"requester": requester} if requester else {})}
            config: RunnableConfig = {"configurable": {"thread_id": thread_id}, "metadata": metadata}
            result = invoke_graph(graph, {"messages": [HumanMessage(text)]}, config, durability="sync")
    finally:
        registry.close()  # an MCP agent's session closes with it
    return [{"id": i.id, "value": i.value} for i in result.get("__interrupt__", [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("message")
    parser.add_argument("--graph", default="shipping", help="a name from langgraph.json or APPROVAL_GRAPHS")
    parser.add_argument("--thread", default=None, help="continue this thread (default: a new one)")
    parser.add_argument("--requester", default=None, help="who asked, shown in the console (default: unknown)")
    parser.add_argument("--no-graph-id", action="store_true",
                        help="name no graph (a plain invoke, as in LangGraph's docs): the app identifies it")
    args = parser.parse_args()
    thread_id = args.thread or uuid.uuid4().hex
    try:
        interrupts = run(args.graph, args.message, thread_id, args.requester, graph_id=not args.no_graph_id)
    except UnregisteredGraph as error:
        raise SystemExit(str(error)) from error
    print(json.dumps({"thread_id": thread_id, "interrupts": interrupts}, default=str))


if __name__ == "__main__":
    main()
