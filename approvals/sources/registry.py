"""Which graphs the app can resume, named as the LangGraph ecosystem names them.

`langgraph.json` at the project root (`{"graphs": {"name": "./path/file.py:attribute"}}`, the format `langgraph
dev` reads) plus `APPROVAL_GRAPHS="name=package.module:attribute,..."` to add graphs without editing files. The
attribute is what LangGraph's server accepts: a compiled graph, an uncompiled StateGraph, or a factory (taking
nothing or a config) that returns one, a coroutine of one, or a context manager (sync or async) yielding one, as
a graph whose tools hold an MCP session is written. A graph is imported on first use, so one broken entry only
makes its own threads undecidable, and the app attaches its own checkpointer to it: whatever saver a worker used,
the app resumes from the same database. A factory's context stays open until `close()` (async_graphs.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig, ensure_config
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from approvals.core.errors import UnregisteredGraph
from approvals.sources.async_graphs import GraphLoop, ThreadedSaver, async_only, bind_to_loop

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = PROJECT_ROOT / "langgraph.json"


@dataclass
class GraphRegistry:
    """Graph names → where to import them from; compiled graphs are cached per name once loaded."""

    specs: dict[str, str]
    root: Path = PROJECT_ROOT
    _loaded: dict[str, Pregel] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _loop: GraphLoop | None = field(default=None, repr=False)
    """Where async factories are opened and async graphs run; made when the first one is loaded."""

    def __contains__(self, name: str) -> bool:
        return name in self.specs

    def load(self, name: str, checkpointer: BaseCheckpointSaver) -> Pregel:
        """The named graph with the app's checkpointer; UnregisteredGraph with a readable reason otherwise."""
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            if name not in self.specs:
                raise UnregisteredGraph(
                    f"This item belongs to the graph {name!r}, which is not registered here. Add it to langgraph.json"
                    " or APPROVAL_GRAPHS and restart the app; the item stays in the queue until then."
                )
            try:
                graph = self._build(name, import_attribute(self.specs[name], self.root), checkpointer)
            except Exception as error:  # a user's module: any import or build error is reported, not raised
                raise UnregisteredGraph(
                    f"The graph {name!r} ({self.specs[name]}) could not be loaded: {type(error).__name__}: {error}"
                ) from error
            self._loaded[name] = graph
            return graph

    def _build(self, name: str, target: Any, checkpointer: BaseCheckpointSaver) -> Pregel:
        """The attribute as a compiled graph on `checkpointer`; an async one bound to the registry's loop."""
        made = call_factory(target, ensure_config({"metadata": {"graph_id": name}})) if callable(target) else target
        if isinstance(made, Pregel | StateGraph):
            graph = with_checkpointer(made, checkpointer)
            return self._bind(with_checkpointer(made, ThreadedSaver(checkpointer))) if async_only(graph) else graph
        opened = self._graph_loop().open(made)
        if not isinstance(opened, Pregel | StateGraph):
            raise TypeError(f"expected a compiled graph, a StateGraph, or a factory (or async context manager) giving"
                            f" one, got {type(opened).__name__}")
        return self._bind(with_checkpointer(opened, ThreadedSaver(checkpointer)))

    def _graph_loop(self) -> GraphLoop:
        if self._loop is None:
            self._loop = GraphLoop()
        return self._loop

    def _bind(self, graph: Pregel) -> Pregel:
        return bind_to_loop(graph, self._graph_loop())

    def close(self) -> None:
        """Close what the factories opened (their MCP sessions) and stop the loop; graphs load afresh after."""
        with self._lock:
            loop, self._loop = self._loop, None
            self._loaded.clear()
        if loop is not None:
            loop.close()


def load_registry(config_file: Path = CONFIG_FILE, env: str | None = None) -> GraphRegistry:
    """langgraph.json's graphs, then APPROVAL_GRAPHS (which wins on a name both define)."""
    specs: dict[str, str] = {}
    if config_file.exists():
        specs.update(json.loads(config_file.read_text()).get("graphs", {}))
    specs.update(parse_env(os.environ.get("APPROVAL_GRAPHS", "") if env is None else env))
    return GraphRegistry(specs, config_file.parent)


def parse_env(raw: str) -> dict[str, str]:
    """`name=package.module:attribute,...` → {name: spec}; a malformed entry is an error, not skipped silently."""
    specs = {}
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, spec = entry.partition("=")
        if not sep or not name.strip() or ":" not in spec:
            raise ValueError(f"APPROVAL_GRAPHS entry {entry!r} is not name=package.module:attribute")
        specs[name.strip()] = spec.strip()
    return specs


def import_attribute(spec: str, root: Path) -> Any:
    """`./path/file.py:attr` (relative to langgraph.json) or `package.module:attr`."""
    location, _, attribute = spec.rpartition(":")
    if location.endswith(".py"):
        path = (root / location).resolve()
        module_name = "_approvals_graph_" + "_".join(path.relative_to(root).with_suffix("").parts) \
            if path.is_relative_to(root) else f"_approvals_graph_{path.stem}"
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))  # as `langgraph dev` does: the file may import its siblings
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(location)
    return getattr(module, attribute)


def call_factory(factory: Any, config: RunnableConfig) -> Any:
    """Call a graph factory as LangGraph's server does: with the config when it takes one argument."""
    try:
        takes_config = len(inspect.signature(factory).parameters) == 1
    except (TypeError, ValueError):  # a builtin or an object without a signature: called without arguments
        takes_config = False
    return factory(config) if takes_config else factory()


def with_checkpointer(graph: Pregel | StateGraph, checkpointer: BaseCheckpointSaver) -> Pregel:
    """A compiled graph on `checkpointer`."""
    if isinstance(graph, Pregel):
        return graph.copy(update={"checkpointer": checkpointer})
    return graph.compile(checkpointer=checkpointer)
