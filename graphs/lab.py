"""Durability lab: does a HITL payload survive a reload, and does a run survive a crash, per durability mode?

The parent process writes checkpoints; a separate process (`python -m graphs.lab ...`) reads them, as a browser
reload served by another worker would. No Streamlit here: `pages/durability.py` only renders these results.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.types import Command

from graphs.lab_results import REPO_ROOT, SHIPPED_RESULTS, CellResult, CrashResult, Experiment, save_experiment
from graphs.lab_variants import (
    DURABILITIES,
    SEED_ID,
    VARIANTS,
    CrashContext,
    Durability,
    Variant,
    build_crash_graph,
    build_variant,
    one_of,
    open_saver,
    thread_config,
)

Progress = Callable[[float, str], object]  # what it returns is ignored (st.progress returns its element)

APPROVE = {"decisions": [{"type": "approve"}]}
KILL_GRACE_SECONDS = 0.5
"""How long the crash child runs inside the slow node before SIGKILL, as a crash mid-way through an LLM call."""


# --- Experiment 1: payload across a reload -------------------------------------------------------------------


def write_cell(path: Path, variant: Variant, durability: Durability, runs: int) -> list[str]:
    """Run the variant up to its interrupt once per thread; returns the thread ids."""
    thread_ids = [f"{variant}-{durability}-{i}" for i in range(runs)]
    with open_saver(path) as saver:
        graph = build_variant(variant, saver)
        for thread_id in thread_ids:
            graph.invoke({"messages": [HumanMessage("Refund order 1234 for $250")]}, thread_config(thread_id),
                         durability=durability)
    return thread_ids


def observe_and_resume(job: dict[str, str]) -> dict[str, Any]:
    """In the reader process: what a reload sees, then approve and look again."""
    with open_saver(job["path"]) as saver:
        graph = build_variant(one_of(VARIANTS, job["variant"]), saver)
        config = thread_config(job["thread_id"])
        before = graph.get_state(config)
        graph.invoke(Command(resume=APPROVE), config, durability=one_of(DURABILITIES, job["durability"]))
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
        assert proc.stdin and proc.stdout and proc.stderr  # all three are pipes (PIPE above)
        try:
            proc.stdin.write(json.dumps(jobs))
            proc.stdin.close()
            yield from (json.loads(line) for line in proc.stdout)
            if proc.wait() != 0:
                raise RuntimeError(f"graphs.lab {command} failed:\n{proc.stderr.read()}")
        finally:  # the caller may stop early (a Streamlit rerun): do not leave the reader behind
            proc.kill()


# --- Experiment 2: what "exit" gives up when the process dies --------------------------------------------------


def crash_child(path: str, thread_id: str, durability: Durability, marker: str) -> None:
    """The doomed run: it is killed while slow_step sleeps."""
    with open_saver(path) as saver:
        build_crash_graph(saver).invoke({"request": "Refund order 1234 for $250", "steps": []},
                                        thread_config(thread_id), durability=durability,
                                        context=CrashContext(marker=marker, slow_seconds=600))


def crash_continue(job: dict[str, str]) -> dict[str, Any]:
    """In a fresh process: read what survived, then try `invoke(None, config)`."""
    with open_saver(job["path"]) as saver:
        graph = build_crash_graph(saver)
        config = thread_config(job["thread_id"])
        before = graph.get_state(config)
        error = None
        try:
            graph.invoke(None, config, durability=one_of(DURABILITIES, job["durability"]), context=CrashContext())
        except Exception as exc:  # reported, not hidden: an empty thread may refuse to continue
            error = f"{type(exc).__name__}: {exc}"
        after = graph.get_state(config)
    return asdict(CrashResult(
        durability=one_of(DURABILITIES, job["durability"]),
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


def run_experiment(runs: int = 10, progress: Progress | None = None) -> Experiment:
    """The payload matrix (first 80% of the progress bar), then the crash experiment."""
    report = progress or (lambda fraction, label: None)
    started, ran_at = time.monotonic(), datetime.now(UTC).isoformat(timespec="seconds")
    cells = run_matrix(runs, lambda f, label: report(0.8 * f, label))
    crashes = run_crash(lambda f, label: report(0.8 + 0.2 * f, label))
    report(1.0, "Done")
    return Experiment(version("langgraph"), runs, cells, crashes, round(time.monotonic() - started, 1), ran_at)


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
