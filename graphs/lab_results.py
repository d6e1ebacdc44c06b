"""The durability lab's results: what each run found, kept as JSON, and the rows the page shows.

Two kinds of results: the shipped table (measured before release, the answer the README and tests/test_lab.py
give, read by every visitor and never written by the page) and each person's own runs from the page, kept apart
per person. The page reads both from here without importing the runner, so a first visit renders at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from graphs.lab_variants import Durability, Variant

REPO_ROOT = Path(__file__).resolve().parents[1]


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



SHIPPED_RESULTS = REPO_ROOT / "docs" / "durability-lab.json"
"""Measured before release and shipped with the code (`python -m graphs.lab measure` writes it)."""


def shipped_experiment() -> Experiment | None:
    """The shipped table every visitor sees (None only if the file was left out of a deployment)."""
    return Experiment.from_json(SHIPPED_RESULTS.read_text()) if SHIPPED_RESULTS.exists() else None


def own_runs_dir() -> Path:
    """Where each person's runs from the page are kept: env DURABILITY_LAB_RUNS, else data/durability-lab/ next
    to the app's default database."""
    return Path(os.environ.get("DURABILITY_LAB_RUNS") or REPO_ROOT / "data" / "durability-lab")


def own_run_path(person: str) -> Path:
    """One file per person, named by a hash of their name so no name can reach outside the folder."""
    return own_runs_dir() / f"{hashlib.sha256(person.encode()).hexdigest()[:32]}.json"


def save_experiment(experiment: Experiment, path: Path) -> None:
    """Written whole to a file of its own, then renamed, so a reader never sees half a file and two runs of the same
    person finishing together never write into one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as partial:
        partial.write(json.dumps(asdict(experiment), indent=2))
    Path(partial.name).replace(path)


def save_own_run(person: str, experiment: Experiment) -> None:
    """Keep `person`'s latest run from the page (it replaces their previous one, never the shipped table)."""
    save_experiment(experiment, own_run_path(person))


def own_run(person: str) -> Experiment | None:
    """`person`'s latest run from the page, if they made one."""
    path = own_run_path(person)
    return Experiment.from_json(path.read_text()) if path.exists() else None


def mark(kept: int, runs: int) -> str:
    """✅ when every run kept it, ❌ when none did, ⚠️ for a race."""
    icon = "✅" if kept == runs else "❌" if kept == 0 else "⚠️"
    return f"{icon} kept {kept}/{runs}"


VERDICT_COLUMNS = ("payload after reload", "interrupt in tasks", "payload after resume", "run completed")


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


def disagreements(shipped: Iterable[CellResult], own: Iterable[CellResult]) -> list[str]:
    """The cells and columns where a run's verdict (kept always, never, or a race) differs from the shipped one's."""
    by_cell = {(row["variant"], row["durability"]): row for row in matrix_rows(shipped)}
    return [f"{row['variant']} / {row['durability']}: {column} {row[column]} (shipped: {by_cell[key][column]})"
            for row in matrix_rows(own) if (key := (row["variant"], row["durability"])) in by_cell
            for column in VERDICT_COLUMNS if row[column][0] != by_cell[key][column][0]]
