"""Both agent backends (the app's checkpointer with its graphs, and an Agent Server deployment) are the one
interface the service calls (approvals/service/ports.py), method for method; and nothing outside the place that
picks a thread's backend tells them apart."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from approvals.service.ports import AgentBackend
from approvals.sources.deployments import AgentServer
from approvals.sources.local_graphs import LocalGraphs

ROOT = Path(__file__).resolve().parents[2]
PORT_METHODS = sorted(name for name, value in vars(AgentBackend).items()
                      if inspect.isfunction(value) and not name.startswith("_"))


def test_the_port_is_small_and_names_what_the_service_needs():
    assert PORT_METHODS == ["advance", "check_resumable", "finish_cut", "identify", "resume", "snapshot"]
    assert "name" in AgentBackend.__annotations__


@pytest.mark.parametrize("backend", [LocalGraphs, AgentServer])
@pytest.mark.parametrize("method", PORT_METHODS)
def test_each_backend_takes_the_ports_calls_as_the_port_names_them(backend, method):
    port = inspect.signature(getattr(AgentBackend, method))
    implemented = inspect.signature(getattr(backend, method))
    assert list(implemented.parameters) == list(port.parameters)
    assert implemented.return_annotation == port.return_annotation


def test_the_service_tells_local_and_deployment_threads_apart_in_one_place_only():
    """`pending.deployment`, `snapshot.deployment` and APPROVAL_RUNS_ON only pick a backend (ServiceBase.backend,
    agent_backend, _elsewhere); no other service code branches on them."""
    picking = {"backend", "agent_backend", "_elsewhere"}
    branches = set()
    for path in sorted((ROOT / "approvals" / "service").glob("*.py")):
        tree = ast.parse(path.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef) or function.name in picking:
                continue
            for node in ast.walk(function):
                tests = [node.test] if isinstance(node, ast.If | ast.IfExp | ast.While) else \
                    [node.left, *node.comparators] if isinstance(node, ast.Compare) else \
                    node.values if isinstance(node, ast.BoolOp) else []
                for test in tests:
                    names = {n.attr for n in ast.walk(test) if isinstance(n, ast.Attribute)}
                    if names & {"deployment", "runs_on"}:
                        branches.add(f"{path.name}:{node.lineno} in {function.name}")
    assert sorted(branches) == []
