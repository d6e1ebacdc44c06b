"""Durability lab: does a HITL payload survive a reload, and does a run survive a crash, per durability mode?

The parent process writes checkpoints; a separate process (`python -m graphs.lab ...`) reads them, as a browser
reload served by another worker would. No Streamlit here: `pages/durability.py` only renders these results.
"""

from __future__ import annotations

import argparse
import inspect
import json
import operator
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict, get_args

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph._internal._constants import CONFIG_KEY_SEND
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

Durability = Literal["exit", "async", "sync"]
Variant = Literal["inplace", "copied", "two_node"]
Progress = Callable[[float, str], object]  # what it returns is ignored (st.progress returns its element)

DURABILITIES: tuple[Durability, ...] = get_args(Durability)
VARIANTS: tuple[Variant, ...] = get_args(Variant)
REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_ID = "lab-ai-1"
APPROVE = {"decisions": [{"type": "approve"}]}
KILL_GRACE_SECONDS = 0.5
"""How long the crash child runs inside the slow node before SIGKILL, as a crash mid-way through an LLM call."""


class LabState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    """The conversation: the user's request, the seeded AIMessage with its tool call, the tool result."""
    decision: dict[str, Any]
    """The reviewer's resume value, written by the approval node once the interrupt is answered."""


def hitl_request(msg: AIMessage) -> dict[str, Any]:
    """The HITL payload (HumanInTheLoopMiddleware field names) for the message's tool calls."""
    return {
        "action_requests": [
            {"name": call["name"], "args": call["args"], "description": f"Run {call['name']}?"}
            for call in msg.tool_calls
        ],
        "review_configs": [
            {"action_name": call["name"], "allowed_decisions": ["approve", "edit", "reject"], "args_schema": {}}
            for call in msg.tool_calls
        ],
    }


def seed(state: LabState) -> dict:
    """Stands in for the agent: a fixed AIMessage with one tool call, so no model is needed."""
    call = {"name": "issue_refund", "args": {"order_id": "1234", "amount": 250.0}, "id": "call-1"}
    return {"messages": [AIMessage(content="", id=SEED_ID, tool_calls=[call])]}


def inplace_request(state: LabState, config: RunnableConfig) -> dict:
    """The question's approach: mutate the shared message, send() it, interrupt in the same node."""
    msg = state["messages"][-1]
    msg.additional_kwargs["hitl"] = hitl_request(msg)
    config["configurable"][CONFIG_KEY_SEND]([("messages", [msg])])
    return {"decision": interrupt(msg.additional_kwargs["hitl"])}


def copied_request(state: LabState, config: RunnableConfig) -> dict:
    """The same on a copy: shows what send() is worth when the node then interrupts."""
    msg = state["messages"][-1].model_copy(deep=True)
    msg.additional_kwargs["hitl"] = hitl_request(msg)
    config["configurable"][CONFIG_KEY_SEND]([("messages", [msg])])
    return {"decision": interrupt(msg.additional_kwargs["hitl"])}


def annotate(state: LabState) -> dict:
    """Write the payload in its own step, because a node's writes are dropped when it raises the interrupt.
    Same id, so add_messages replaces the message; the step commits before anyone interrupts."""
    msg = state["messages"][-1]
    kwargs = {**msg.additional_kwargs, "hitl": hitl_request(msg)}
    return {"messages": [msg.model_copy(update={"additional_kwargs": kwargs})]}


def await_approval(state: LabState) -> dict:
    """Only interrupts: the payload is already in the checkpoint."""
    return {"decision": interrupt(state["messages"][-1].additional_kwargs["hitl"])}


def act(state: LabState) -> dict:
    """Runs after approval, so a finished run proves the resume went through."""
    call = next(m for m in state["messages"] if m.id == SEED_ID).tool_calls[0]
    verdict = state["decision"]["decisions"][0]["type"]
    return {"messages": [ToolMessage(content=f"{call['name']}: {verdict}", tool_call_id=call["id"])]}


VARIANT_NODES: dict[Variant, tuple[tuple[str, Callable[..., dict]], ...]] = {
    "inplace": (("request_approval", inplace_request),),
    "copied": (("request_approval", copied_request),),
    "two_node": (("annotate", annotate), ("await_approval", await_approval)),
}


def variant_source(variant: Variant) -> str:
    """The variant's node code as it runs, for the page to show next to the results."""
    return "\n\n".join(inspect.getsource(node) for _, node in VARIANT_NODES[variant])


def build_variant(variant: Variant, checkpointer: SqliteSaver) -> CompiledStateGraph:
    """seed → the variant's node(s) → act."""
    return _linear_graph(LabState, [("seed", seed), *VARIANT_NODES[variant], ("act", act)], checkpointer)


def _linear_graph(
    schema: type, nodes: list[tuple[str, Callable[..., dict]]], checkpointer: SqliteSaver, **kwargs: Any
) -> CompiledStateGraph:
    """START → nodes in order → END: both experiments only need a straight line."""
    builder = StateGraph(schema, **kwargs).add_sequence(nodes)
    builder.add_edge(START, nodes[0][0])
    builder.add_edge(nodes[-1][0], END)
    return builder.compile(checkpointer=checkpointer)


@contextmanager
def open_saver(path: str | Path) -> Iterator[SqliteSaver]:
    """A real SQLite checkpointer on a file, closed when done."""
    with closing(sqlite3.connect(str(path), check_same_thread=False)) as conn:
        yield SqliteSaver(conn)


def _thread(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


# --- Experiment 1: payload across a reload -------------------------------------------------------------------


@dataclass
class CellResult:
    """One (variant, durability) cell: how many of `runs` showed each property to a separate process."""

    variant: Variant
    durability: Durability
    runs: int
    payload_before_resume: int = 0
    interrupt_in_tasks: int = 0
    payload_after_resume: int = 0
    completed_after_resume: int = 0
    next_seen: list[list[str]] = field(default_factory=list)


def write_cell(path: Path, variant: Variant, durability: Durability, runs: int) -> list[str]:
    """Run the variant up to its interrupt once per thread; returns the thread ids."""
    thread_ids = [f"{variant}-{durability}-{i}" for i in range(runs)]
    with open_saver(path) as saver:
        graph = build_variant(variant, saver)
        for thread_id in thread_ids:
            graph.invoke({"messages": [HumanMessage("Refund order 1234 for $250")]}, _thread(thread_id),
                         durability=durability)
    return thread_ids


def observe_and_resume(job: dict[str, str]) -> dict[str, Any]:
    """In the reader process: what a reload sees, then approve and look again."""
    with open_saver(job["path"]) as saver:
        graph = build_variant(job["variant"], saver)
        config = _thread(job["thread_id"])
        before = graph.get_state(config)
        graph.invoke(Command(resume=APPROVE), config, durability=job["durability"])
        after = graph.get_state(config)
    return {
        **job,
        "payload_before_resume": _has_payload(before.values),
        "interrupt_in_tasks": any(task.interrupts for task in before.tasks),
        "next": list(before.next),
        "payload_after_resume": _has_payload(after.values),
        "completed_after_resume": not after.next and isinstance(after.values["messages"][-1], ToolMessage),
    }


def _has_payload(values: dict[str, Any]) -> bool:
    return any(m.id == SEED_ID and "hitl" in m.additional_kwargs for m in values.get("messages", []))


def run_matrix(runs: int = 10, progress: Progress | None = None) -> list[CellResult]:
    """All nine cells, `runs` threads each; one reader subprocess for the whole matrix keeps it cheap."""
    report = progress or (lambda fraction, label: None)
    cells = {(v, d): CellResult(v, d, runs) for v in VARIANTS for d in DURABILITIES}
    with tempfile.TemporaryDirectory(prefix="durability-lab-") as tmp:
        jobs = []
        for i, (variant, durability) in enumerate(cells):
            report(i / len(cells) / 2, f"Writing {variant} / {durability}")
            path = str(Path(tmp) / f"{variant}-{durability}.sqlite")
            jobs += [{"path": path, "variant": variant, "durability": durability, "thread_id": t}
                     for t in write_cell(Path(path), variant, durability, runs)]
        for i, seen in enumerate(_run_reader("read", jobs)):
            report(0.5 + (i + 1) / len(jobs) / 2, f"Reloaded {seen['thread_id']} in a separate process")
            _tally(cells[seen["variant"], seen["durability"]], seen)
    return list(cells.values())


def _tally(cell: CellResult, seen: dict[str, Any]) -> None:
    for key in ("payload_before_resume", "interrupt_in_tasks", "payload_after_resume", "completed_after_resume"):
        setattr(cell, key, getattr(cell, key) + int(seen[key]))
    if seen["next"] not in cell.next_seen:
        cell.next_seen.append(seen["next"])


def _run_reader(command: str, jobs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Feed jobs to `python -m graphs.lab <command>` and yield its JSON lines as they arrive."""
    with subprocess.Popen([sys.executable, "-m", "graphs.lab", command], cwd=REPO_ROOT, text=True,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            proc.stdin.write(json.dumps(jobs))
            proc.stdin.close()
            yield from (json.loads(line) for line in proc.stdout)
            if proc.wait() != 0:
                raise RuntimeError(f"graphs.lab {command} failed:\n{proc.stderr.read()}")
        finally:  # the caller may stop early (a Streamlit rerun): do not leave the reader behind
            proc.kill()


# --- Experiment 2: what "exit" gives up when the process dies --------------------------------------------------


@dataclass(kw_only=True)
class CrashContext:
    """Run-time knobs: the doomed child touches a marker and sleeps; the continuing process does neither."""

    marker: str = ""
    slow_seconds: float = 0.0


class CrashState(TypedDict, total=False):
    request: str
    """The user's request, the run's input."""
    steps: Annotated[list[str], operator.add]
    """Names of the nodes that completed, appended by each node."""


def fast_step(state: CrashState) -> dict:
    return {"steps": ["fast_step"]}


def slow_step(state: CrashState, runtime: Runtime[CrashContext]) -> dict:
    """Stands in for a long LLM call; the marker tells the parent it is time to kill."""
    if runtime.context.marker:
        Path(runtime.context.marker).touch()
    time.sleep(runtime.context.slow_seconds)
    return {"steps": ["slow_step"]}


def build_crash_graph(checkpointer: SqliteSaver) -> CompiledStateGraph:
    """fast_step → slow_step."""
    return _linear_graph(CrashState, [("fast_step", fast_step), ("slow_step", slow_step)], checkpointer,
                         context_schema=CrashContext)


@dataclass
class CrashResult:
    """What a fresh process found after the run was killed inside slow_step, and whether it could continue."""

    durability: Durability
    request_kept: bool
    steps_before: list[str]
    next_before: list[str]
    continued: bool
    steps_after: list[str]
    error: str | None


def crash_child(path: str, thread_id: str, durability: Durability, marker: str) -> None:
    """The doomed run: it is killed while slow_step sleeps."""
    with open_saver(path) as saver:
        build_crash_graph(saver).invoke({"request": "Refund order 1234 for $250", "steps": []},
                                        _thread(thread_id), durability=durability,
                                        context=CrashContext(marker=marker, slow_seconds=600))


def durability_named(name: str) -> Durability:
    """A durability mode named in a job (JSON from another process): one of DURABILITIES, else ValueError."""
    for mode in DURABILITIES:
        if mode == name:
            return mode
    raise ValueError(f"unknown durability {name!r}; one of {', '.join(DURABILITIES)}")


def crash_continue(job: dict[str, str]) -> dict[str, Any]:
    """In a fresh process: read what survived, then try `invoke(None, config)`."""
    with open_saver(job["path"]) as saver:
        graph = build_crash_graph(saver)
        config = _thread(job["thread_id"])
        before = graph.get_state(config)
        error = None
        try:
            graph.invoke(None, config, durability=durability_named(job["durability"]), context=CrashContext())
        except Exception as exc:  # reported, not hidden: an empty thread may refuse to continue
            error = f"{type(exc).__name__}: {exc}"
        after = graph.get_state(config)
    return asdict(CrashResult(
        durability=durability_named(job["durability"]),
        request_kept="request" in before.values,
        steps_before=before.values.get("steps", []),
        next_before=list(before.next),
        continued="slow_step" in after.values.get("steps", []),
        steps_after=after.values.get("steps", []),
        error=error,
    ))


def run_crash(progress: Progress | None = None, timeout: float = 60.0) -> list[CrashResult]:
    """Kill one child per mode inside slow_step (all at once, to save time), then continue in one fresh process."""
    report = progress or (lambda fraction, label: None)
    with tempfile.TemporaryDirectory(prefix="durability-crash-") as tmp:
        jobs = [{"path": str(Path(tmp) / f"{d}.sqlite"), "thread_id": f"crash-{d}", "durability": d,
                 "marker": str(Path(tmp) / f"{d}.started")} for d in DURABILITIES]
        children = [_spawn_crash_child(job) for job in jobs]
        try:
            for i, (job, child) in enumerate(zip(jobs, children, strict=True)):
                report(i / len(jobs) / 2, f"Waiting for {job['durability']} to reach slow_step")
                _kill_inside_slow_step(child, Path(job["marker"]), timeout)
        finally:  # a failure or a Streamlit rerun must not leave sleeping children behind
            for child in children:
                child.kill()
                child.communicate()
        report(0.5, "Continuing in a fresh process")
        return [CrashResult(**seen) for seen in _run_reader("crash-continue", jobs)]


def _spawn_crash_child(job: dict[str, str]) -> subprocess.Popen:
    args = [job["path"], job["thread_id"], job["durability"], job["marker"]]
    return subprocess.Popen([sys.executable, "-m", "graphs.lab", "crash-child", *args], cwd=REPO_ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_inside_slow_step(child: subprocess.Popen, marker: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            said = child.stderr.read().decode() if child.stderr else ""
            raise RuntimeError(f"crash child never reached slow_step:\n{said}")
        time.sleep(0.02)
    time.sleep(KILL_GRACE_SECONDS)
    child.send_signal(signal.SIGKILL)


# --- Both experiments, for the page and the JSON download ------------------------------------------------------


@dataclass
class Experiment:
    """Everything one press of "Run the experiment" measured; `asdict` of it is the JSON download."""

    langgraph_version: str
    runs_per_cell: int
    cells: list[CellResult]
    crashes: list[CrashResult]
    seconds: float
    ran_at: str = ""
    """When it ran (ISO-8601 UTC)."""

    @classmethod
    def from_json(cls, text: str) -> Experiment:
        data = json.loads(text)
        return cls(**{**data, "cells": [CellResult(**c) for c in data["cells"]],
                      "crashes": [CrashResult(**c) for c in data["crashes"]]})


def run_experiment(runs: int = 10, progress: Progress | None = None) -> Experiment:
    """The payload matrix (first 80% of the progress bar), then the crash experiment."""
    report = progress or (lambda fraction, label: None)
    started, ran_at = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    cells = run_matrix(runs, lambda f, label: report(0.8 * f, label))
    crashes = run_crash(lambda f, label: report(0.8 + 0.2 * f, label))
    report(1.0, "Done")
    return Experiment(version("langgraph"), runs, cells, crashes, round(time.monotonic() - started, 1), ran_at)


# --- The last measured results, kept so the page has them on its first visit ------------------------------------

SHIPPED_RESULTS = REPO_ROOT / "docs" / "durability-lab.json"
"""Measured before release and shipped with the code (`python -m graphs.lab measure` writes it)."""


def last_results_path() -> Path:
    """Where a run from the page is kept (it replaces the shipped results): env DURABILITY_LAB_RESULTS, else
    data/durability-lab.json next to the app's default database."""
    return Path(os.environ.get("DURABILITY_LAB_RESULTS") or REPO_ROOT / "data" / "durability-lab.json")


def save_experiment(experiment: Experiment, path: Path | None = None) -> None:
    """Written whole then renamed, so a reader never sees half a file."""
    path = path or last_results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(experiment), indent=2))
    partial.replace(path)


def last_experiment() -> Experiment | None:
    """The newest results kept: the last run from the page, else the shipped ones (None if neither exists)."""
    paths = (last_results_path(), SHIPPED_RESULTS)
    return next((Experiment.from_json(path.read_text()) for path in paths if path.exists()), None)


def mark(kept: int, runs: int) -> str:
    """✅ when every run kept it, ❌ when none did, ⚠️ for a race."""
    icon = "✅" if kept == runs else "❌" if kept == 0 else "⚠️"
    return f"{icon} kept {kept}/{runs}"


def matrix_rows(cells: Iterable[CellResult]) -> list[dict[str, str]]:
    """One table row per cell, in the words the page shows."""
    return [{
        "variant": c.variant,
        "durability": c.durability,
        "payload after reload": mark(c.payload_before_resume, c.runs),
        "interrupt in tasks": mark(c.interrupt_in_tasks, c.runs),
        "next": " / ".join(", ".join(n) or "()" for n in c.next_seen),
        "payload after resume": mark(c.payload_after_resume, c.runs),
        "run completed": mark(c.completed_after_resume, c.runs),
    } for c in cells]


def crash_rows(crashes: Iterable[CrashResult]) -> list[dict[str, str]]:
    """One table row per durability mode."""
    return [{
        "durability": c.durability,
        "request in state": "✅" if c.request_kept else "❌",
        "completed steps in state": ", ".join(c.steps_before) or "(none)",
        "next": ", ".join(c.next_before) or "()",
        "invoke(None) finished the run": "✅" if c.continued else "❌",
        "error": c.error or "",
    } for c in crashes]


def _jobs_from_stdin() -> list[dict[str, str]]:
    return json.loads(sys.stdin.read())


def main(argv: list[str] | None = None) -> None:
    """Subprocess entry points: the reload readers print one JSON line per job as soon as it is done."""
    parser = argparse.ArgumentParser(prog="python -m graphs.lab")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("read", help="reload each thread, approve it, report (jobs as JSON on stdin)")
    measure = sub.add_parser(
        "measure", help=f"run the whole experiment and write {SHIPPED_RESULTS.relative_to(REPO_ROOT)}"
    )
    measure.add_argument("--runs", type=int, default=10)
    sub.add_parser("crash-continue", help="read each killed thread and continue it (jobs as JSON on stdin)")
    child = sub.add_parser("crash-child", help="run the crash graph until killed")
    for name in ("path", "thread_id", "durability", "marker"):
        child.add_argument(name)
    args = parser.parse_args(argv)
    if args.command == "measure":
        save_experiment(run_experiment(args.runs), SHIPPED_RESULTS)
        return
    if args.command == "crash-child":
        crash_child(args.path, args.thread_id, args.durability, args.marker)
        return
    handle = observe_and_resume if args.command == "read" else crash_continue
    for job in _jobs_from_stdin():
        print(json.dumps(handle(job)), flush=True)


if __name__ == "__main__":
    main()
