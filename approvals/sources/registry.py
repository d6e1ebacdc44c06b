"""Which graphs the app can resume, named as the LangGraph ecosystem names them.

`langgraph.json` at the project root (`{"graphs": {"name": "./path/file.py:attribute"}}`, the format `langgraph
dev` reads) plus `APPROVAL_GRAPHS="name=package.module:attribute,..."` to add graphs without editing files. The
attribute is a compiled graph, an uncompiled StateGraph, or a function returning either. A graph is imported on
first use, so one broken entry only makes its own threads undecidable, and the app attaches its own checkpointer
to it: whatever saver a worker used, the app resumes from the same database.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from approvals.core.errors import UnregisteredGraph

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_FILE = PROJECT_ROOT / "langgraph.json"


@dataclass
class GraphRegistry:
    """Graph names → where to import them from; compiled graphs are cached per name once loaded."""

    specs: dict[str, str]
    root: Path = PROJECT_ROOT
    _loaded: dict[str, Pregel] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
                graph = with_checkpointer(import_attribute(self.specs[name], self.root), checkpointer)
            except Exception as error:  # a user's module: any import or build error is reported, not raised
                raise UnregisteredGraph(
                    f"The graph {name!r} ({self.specs[name]}) could not be loaded: {type(error).__name__}: {error}"
                ) from error
            self._loaded[name] = graph
            return graph


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


def with_checkpointer(target: Any, checkpointer: BaseCheckpointSaver) -> Pregel:
    """A compiled graph on `checkpointer`, whatever form the registered attribute takes."""
    if isinstance(target, Pregel):
        return target.copy(update={"checkpointer": checkpointer})
    if isinstance(target, StateGraph):
        return target.compile(checkpointer=checkpointer)
    if callable(target):
        built = target()
        if isinstance(built, Pregel | StateGraph):
            return with_checkpointer(built, checkpointer)
    raise TypeError(f"expected a compiled graph, a StateGraph or a function returning one, got {type(target).__name__}")
