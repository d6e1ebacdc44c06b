"""The durability lab's results: what each run found, kept as JSON, and the rows the page shows.

The page reads the last results from here without importing the runner, so a first visit renders at once.
"""

from __future__ import annotations

import json
import os
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

