"""Graphs that live on an event loop: async factories (an MCP session held open) and graphs whose tools are async.

LangGraph's server accepts a graph factory that is an async context manager (`MCPAdapter` tools hold a session
that lives inside it) or a coroutine; the tools such a graph gets are async-only, so it runs with `ainvoke`, on
the event loop that opened the session (anyio streams belong to one loop). The registry owns one such loop on a
thread of its own, opens each factory there once and keeps it open until `close()`; `invoke_graph` runs an async
graph there from any thread, and a plain graph with `invoke` where it is called.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncIterator, Collection, Coroutine, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, AsyncExitStack
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.pregel import Pregel

T = TypeVar("T")

_LOOPS: WeakKeyDictionary[Pregel, asyncio.AbstractEventLoop] = WeakKeyDictionary()
"""Each async graph → the loop it must run on (the one its factory was opened on)."""


class GraphLoop:
    """An event loop on a daemon thread, holding the contexts of the factories opened on it until `close()`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._stack = AsyncExitStack()
        self._thread = threading.Thread(target=self.loop.run_forever, name="graph-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for it (from any thread but the loop's own)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def open(self, made: Any) -> Any:
        """What a factory call made, as LangGraph's server takes it: an async or sync context manager (entered,
        kept open), a coroutine (awaited) or a graph."""
        return self.run(self._enter(made))

    async def _enter(self, made: Any) -> Any:
        if isinstance(made, AbstractAsyncContextManager):
            return await self._stack.enter_async_context(made)
        if isinstance(made, AbstractContextManager):
            return self._stack.enter_context(made)
        return await made if inspect.isawaitable(made) else made

    def close(self) -> None:
        """Leave every factory's context (MCP sessions closed), then stop the loop."""
        try:
            self.run(self._stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self.loop.close()


def bind_to_loop(graph: Pregel, loop: GraphLoop) -> Pregel:
    """Mark `graph` as one `invoke_graph` runs with `ainvoke` on `loop`."""
    _LOOPS[graph] = loop.loop
    return graph


def runs_async(graph: Pregel) -> bool:
    return graph in _LOOPS


def async_only(graph: Pregel) -> bool:
    """True when a tools node holds a tool with a coroutine and no sync function (MCP tools): `invoke` fails on it."""
    for node in graph.nodes.values():
        tools = getattr(node.bound, "tools_by_name", None) or {}
        if any(isinstance(t, StructuredTool) and t.func is None and t.coroutine is not None for t in tools.values()):
            return True
    return False


def invoke_graph(graph: Pregel, input: Any, config: RunnableConfig, **kwargs: Any) -> Any:
    """`graph.invoke(...)`, or `ainvoke` on the graph's own loop for an async graph; the caller waits either way."""
    loop = _LOOPS.get(graph)
    if loop is None:
        return graph.invoke(input, config, **kwargs)
    return asyncio.run_coroutine_threadsafe(graph.ainvoke(input, config, **kwargs), loop).result()


class ThreadedSaver(BaseCheckpointSaver):
    """A synchronous saver (SqliteSaver, PostgresSaver on the app's database) that async graphs can use too.

    Their `a*` methods refuse to work; here each runs the sync one on a worker thread, so an async graph shares the
    app's one connection (and its locks) instead of opening a second one to the same database.
    """

    def __init__(self, saver: BaseCheckpointSaver) -> None:
        super().__init__(serde=saver.serde)
        self.saver = saver

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> BaseCheckpointSaver:
        """The types LangGraph allows the graph's state to deserialize apply to the saver that reads it."""
        return ThreadedSaver(self.saver.with_allowlist(extra_allowlist))

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.saver.get_next_version(current, channel)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.saver.get_tuple(config)

    def list(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
             before: RunnableConfig | None = None, limit: int | None = None) -> Iterator[CheckpointTuple]:
        return self.saver.list(config, filter=filter, before=before, limit=limit)

    def put(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
            new_versions: ChannelVersions) -> RunnableConfig:
        return self.saver.put(config, checkpoint, metadata, new_versions)

    def put_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                   task_path: str = "") -> None:
        self.saver.put_writes(config, writes, task_id, task_path)

    def delete_thread(self, thread_id: str) -> None:
        self.saver.delete_thread(thread_id)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.saver.get_tuple, config)

    async def alist(self, config: RunnableConfig | None, *, filter: dict[str, Any] | None = None,
                    before: RunnableConfig | None = None, limit: int | None = None) -> AsyncIterator[CheckpointTuple]:
        # collected first: SqliteSaver.list yields while holding its lock
        found = await asyncio.to_thread(lambda: list(self.list(config, filter=filter, before=before, limit=limit)))
        for saved in found:
            yield saved

    async def aput(self, config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata,
                   new_versions: ChannelVersions) -> RunnableConfig:
        return await asyncio.to_thread(self.saver.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config: RunnableConfig, writes: Sequence[tuple[str, Any]], task_id: str,
                          task_path: str = "") -> None:
        await asyncio.to_thread(self.saver.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.saver.delete_thread, thread_id)
