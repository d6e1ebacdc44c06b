"""A real LangGraph Agent Server for tests and benchmarks: `langgraph dev` (in-memory) on a free port, serving
tests/fixtures/deployed_agent.py from its own langgraph.json in a temporary directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

AGENT = Path(__file__).resolve().parent / "fixtures" / "deployed_agent.py"
CONFIG = '{"dependencies": ["."], "graphs": {"shipper": "./deployed_agent.py:shipper",' \
         ' "question": "./deployed_agent.py:question"}}'
ROOT = Path(__file__).resolve().parent.parent
SUPPORT_CONFIG = '{"dependencies": ["."], "graphs": {"support": "./graphs/graph.py:make_graph"}}'
WAREHOUSE_CONFIG = '{"dependencies": ["."], "graphs": {"warehouse": "./examples/mcp_agent.py:make_agent"}}'
START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def langgraph_dev_support(workdir: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """`langgraph dev` serving this project's `support` graph from a copy of graphs/ and the core it imports (the
    HITL schema; the repository stays clean of the server's .langgraph_api/); the model is the scripted one unless
    `env` points it at another."""
    workdir.mkdir(parents=True, exist_ok=True)
    for package in ("graphs", "approvals/core"):
        shutil.copytree(ROOT / package, workdir / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "approvals" / "__init__.py", workdir / "approvals" / "__init__.py")
    (workdir / "langgraph.json").write_text(SUPPORT_CONFIG)
    with _serve(workdir, workdir / "unused-effects.txt", None, env or {}) as base:
        yield base


@contextmanager
def langgraph_dev_warehouse(workdir: Path) -> Iterator[str]:
    """`langgraph dev` serving this project's MCP warehouse agent (examples/mcp_agent.py, its MCP server
    in-process) from a copy of examples/; its tools record what they did in `workdir`/data/app.db."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples", workdir / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "data").mkdir(exist_ok=True)
    (workdir / "langgraph.json").write_text(WAREHOUSE_CONFIG)
    with _serve(workdir, workdir / "unused-effects.txt", None, {}) as base:
        yield base


@contextmanager
def langgraph_dev(workdir: Path, effects: Path, port: int | None = None) -> Iterator[str]:
    """The server's base URL while it runs; its tool appends to `effects`. Stopped (and its group killed) after."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(AGENT, workdir / "deployed_agent.py")
    (workdir / "langgraph.json").write_text(CONFIG)
    with _serve(workdir, effects, port, {}) as base:
        yield base


@contextmanager
def _serve(workdir: Path, effects: Path, port: int | None, more: dict[str, str]) -> Iterator[str]:
    port = port or free_port()
    env = {**os.environ, "DEPLOYED_EFFECTS": str(effects), "LANGSMITH_TRACING": "false",
           "LANGGRAPH_NO_VERSION_CHECK": "true", **more}
    env.pop("DATABASE_URL", None)
    base = f"http://127.0.0.1:{port}"
    with open(workdir / "server.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "langgraph_cli", "dev", "--host", "127.0.0.1", "--port", str(port),
             "--no-browser", "--no-reload"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            _wait_ready(base, process, workdir / "server.log")
            yield base
        finally:
            stop(process)


def _wait_ready(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"langgraph dev exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/ok", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"langgraph dev did not start: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(5)
