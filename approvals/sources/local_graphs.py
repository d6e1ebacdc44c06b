"""The app's own checkpointer with its registered graphs, as an agent backend (approvals/service/ports.py).

Threads here are read from their latest checkpoint alone (approvals/core/interrupts.py), so a thread of a graph
the app cannot load is still listed; a checkpoint without `graph_id` is matched against every loadable graph's
nodes, tools and channels. Resuming attaches the app's checkpointer to the thread's graph (the registry's job)
and runs it here with `durability="sync"`, an async-only graph on its own event loop.
"""

from __future__ import annotations

from typing import Any, Final

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.pregel import Pregel
from langgraph.types import Command

from approvals.core.errors import UnregisteredGraph
from approvals.core.interrupts import GraphShape, ThreadSnapshot, graph_shape, read_snapshot, with_graph
from approvals.core.records import BUILTIN_GRAPH, UNKNOWN_GRAPH, UNKNOWN_GRAPH_HELP, PendingApproval
from approvals.core.runs import Run
from approvals.sources.async_graphs import invoke_graph
from approvals.sources.registry import GraphRegistry
from graphs.nodes import CLEARANCE_KEY, POLICY_KEY, PolicyFor

DURABILITY: Final = "sync"  # each step is on disk before the next starts; "exit" loses everything on a crash


def thread_config(thread_id: str, graph: str, requester: str | None) -> RunnableConfig:
    """Run metadata goes into every checkpoint: which graph the thread runs on, and who asked (as LangGraph's
    server records `graph_id`), so any process reading the checkpoint knows both."""
    metadata = {"graph_id": graph, **({"requester": requester} if requester else {})}
    return {"configurable": {"thread_id": thread_id}, "metadata": metadata}


class LocalGraphs:
    """Threads in the app's checkpointer, run by the built-in agent or a registered graph in this process."""

    name = ""

    def __init__(self, checkpointer: BaseCheckpointSaver, graph: Pregel, registry: GraphRegistry,
                 policy_for: PolicyFor):
        """`graph` is the built-in agent; `policy_for` tells its runs what a call needs under the current rules."""
        self.checkpointer, self.graph, self.registry = checkpointer, graph, registry
        self._policy_for = policy_for
        self._shapes: dict[str, GraphShape] | None = None

    # -- the graphs --------------------------------------------------------------------------------------------

    def graph_for(self, name: str) -> Pregel:
        """The graph a thread runs on, with the app's checkpointer; UnregisteredGraph when it cannot be loaded."""
        if name == UNKNOWN_GRAPH:
            raise UnregisteredGraph(UNKNOWN_GRAPH_HELP)
        return self.graph if name == BUILTIN_GRAPH else self.registry.load(name, self.checkpointer)

    def is_registered(self, name: str) -> bool:
        return name == BUILTIN_GRAPH or name in self.registry

    def graph_shapes(self) -> dict[str, GraphShape]:
        """Each loadable graph's nodes, channels and tools, computed once: what a checkpoint without `graph_id` is
        matched against. A graph that cannot be loaded has no entry (its threads stay "graph unknown" unless they
        name it)."""
        if self._shapes is None:
            shapes = {BUILTIN_GRAPH: graph_shape(self.graph)}
            for name in self.registry.specs:
                try:
                    shapes.setdefault(name, graph_shape(self.graph_for(name)))
                except UnregisteredGraph:
                    continue
            self._shapes = shapes
        return self._shapes

    def run_config(self, thread_id: str, graph: str, requester: str | None, clearance: str = "") -> RunnableConfig:
        """`thread_config` for a run in this process: the graph also gets what a call needs under the policy's rules
        (for the request's hint and its re-check before a tool runs) and what the decider was cleared for, so its
        tools node can refuse to run anything stricter (none: the graph assumes the request's own policy)."""
        config = thread_config(thread_id, graph, requester)
        extra = {POLICY_KEY: self._policy_for, **({CLEARANCE_KEY: clearance} if clearance else {})}
        configured: RunnableConfig = {**config, "configurable": {**config["configurable"], **extra}}
        return configured

    # -- the port ----------------------------------------------------------------------------------------------

    def snapshot(self, thread_id: str) -> ThreadSnapshot | None:
        snapshot = read_snapshot(self.checkpointer, thread_id)
        return None if snapshot is None else self.identify(snapshot)

    def identify(self, snapshot: ThreadSnapshot) -> ThreadSnapshot:
        if snapshot.graph != UNKNOWN_GRAPH:  # named by its run: no registered graph (an MCP session) loaded for it
            return snapshot
        return with_graph(snapshot, self.graph_shapes())

    def check_resumable(self, graph: str) -> None:
        self.graph_for(graph)

    def resume(self, pending: PendingApproval, value: Any, clearance: str) -> None:
        config = self.run_config(pending.thread_id, pending.graph, pending.review.requested_by, clearance)
        resume: Command[str] = Command(resume={pending.interrupt_id: value})
        invoke_graph(self.graph_for(pending.graph), resume, config, durability=DURABILITY)

    def finish_cut(self, snapshot: ThreadSnapshot, clearance: str) -> None:
        graph = self.graph_for(snapshot.graph)
        config = self.run_config(snapshot.thread_id, snapshot.graph, snapshot.requester, clearance)
        if graph.get_state(config).next:
            invoke_graph(graph, None, config, durability=DURABILITY)

    def advance(self, run: Run) -> None:
        """From where the checkpoint stands to the next stop; a step already on disk is never run again."""
        config = self.run_config(run.thread_id, BUILTIN_GRAPH, run.requester)
        snapshot = self.snapshot(run.thread_id)
        written = snapshot is not None and any(m.id == run.run_id for m in snapshot.messages)
        if run.kind == "message" and not written:
            message = HumanMessage(run.input, id=run.run_id)
            self.graph.invoke({"messages": [message], "requester": run.requester}, config, durability=DURABILITY)
        elif snapshot is not None and not snapshot.interrupts and self.graph.get_state(config).next:
            self.graph.invoke(None, config, durability=DURABILITY)  # cut mid-run: finish the steps cut off
