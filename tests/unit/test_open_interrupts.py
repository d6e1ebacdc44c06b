"""The app reads a thread's open interrupts from its checkpoint alone (`approvals.core.interrupts.open_interrupts`,
LangGraph's task rule re-implemented), so that a thread of a graph it cannot load is still listed. This property
test holds that reading equal to LangGraph's own `graph.get_state(config).tasks[].interrupts` over generated graph
shapes (parallel branches, a node that interrupts twice, Send fan-out, subgraphs) and partial resumes by interrupt
id, so a LangGraph release that changes the rule fails here rather than in the queue.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypedDict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import START, StateGraph
from langgraph.pregel import Pregel
from langgraph.types import Command, Send, interrupt

from approvals.core.interrupts import read_snapshot

Leaf = Literal["once", "twice", "none"]
Branch = tuple[Literal["node"], Leaf] | tuple[Literal["send"], int] | tuple[Literal["subgraph"], tuple[Leaf, ...]]


class Log(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    """Every node's answers; parallel branches append to it in one step."""


def leaf(name: str, kind: Leaf) -> Callable[[Log], Log]:
    """A node that asks once, twice in a row (the second question only once the first is answered), or never."""
    def node(state: Log) -> Log:
        asked = {"once": 1, "twice": 2, "none": 0}[kind]
        return {"log": [f"{name}={interrupt(f'{name}?{n}')}" for n in range(asked)] or [name]}
    return node


def fan_out_worker(item: dict) -> Log:
    """A Send target: each copy asks its own question."""
    name = f"item{item['n']}"
    return {"log": [f"{name}={interrupt(name + '?')}"]}


def subgraph(leaves: tuple[Leaf, ...]) -> Pregel:
    """Parallel leaves inside a subgraph: the parent's task waits on whatever they ask."""
    builder = StateGraph(Log)
    for i, kind in enumerate(leaves):
        builder.add_node(f"inner{i}", leaf(f"inner{i}", kind))
        builder.add_edge(START, f"inner{i}")
    return builder.compile()


def build(branches: list[Branch], checkpointer: SqliteSaver) -> Pregel:
    """START fans out to every branch at once: plain nodes and subgraphs by edge, Send copies by a router."""
    builder = StateGraph(Log)
    routes: list[str | Send] = []
    for i, (kind, detail) in enumerate(branches):
        if kind == "send":
            if "worker" not in builder.nodes:
                builder.add_node("worker", fan_out_worker)
            routes += [Send("worker", {"n": f"{i}.{n}"}) for n in range(int(detail))]
            continue
        name = f"{kind}{i}"
        builder.add_node(name, subgraph(detail) if kind == "subgraph" else leaf(name, detail))
        routes.append(name)
    builder.add_conditional_edges(START, lambda _: routes)
    return builder.compile(checkpointer=checkpointer)


leaves = st.sampled_from(["once", "twice", "none"])
branches = st.lists(
    st.one_of(st.tuples(st.just("node"), leaves), st.tuples(st.just("send"), st.integers(1, 3)),
              st.tuples(st.just("subgraph"), st.lists(leaves, min_size=1, max_size=2).map(tuple))),
    min_size=1, max_size=3,
)


def langgraph_reading(graph: Pregel, config: RunnableConfig) -> list[tuple[str, Any]]:
    return sorted((i.id, i.value) for task in graph.get_state(config).tasks for i in task.interrupts)


def checkpoint_reading(saver: SqliteSaver, thread_id: str) -> list[tuple[str, Any]]:
    snapshot = read_snapshot(saver, thread_id)
    return sorted((i.id, i.value) for i in snapshot.interrupts) if snapshot else []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=branches, picks=st.lists(st.lists(st.integers(0, 9), min_size=1, max_size=3), max_size=4))
def test_open_interrupts_read_from_the_checkpoint_equal_langgraphs_own(shape: list[Branch],
                                                                      picks: list[list[int]]) -> None:
    with SqliteSaver.from_conn_string(":memory:") as saver:
        graph = build(shape, saver)
        config: RunnableConfig = {"configurable": {"thread_id": "t"}}
        graph.invoke({"log": []}, config, durability="sync")
        for pick in [*picks, None]:  # partial resumes by id; finally everything still open at once
            open_now = langgraph_reading(graph, config)
            assert checkpoint_reading(saver, "t") == open_now
            if not open_now:
                return
            chosen = {open_now[n % len(open_now)][0] for n in pick} if pick else {i for i, _ in open_now}
            graph.invoke(Command(resume={i: f"answer-{i[:6]}" for i in chosen}), config, durability="sync")
        assert checkpoint_reading(saver, "t") == langgraph_reading(graph, config)
