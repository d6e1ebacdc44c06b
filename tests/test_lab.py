"""The durability lab, measured through a separate reader process: these fail loudly if LangGraph changes.

Not asserted: in-place under "async". Its background save races the node's in-place mutation, so the payload is
usually (not always) kept; the page reports that cell as "kept k/N".

It keeps the path the project's brief names for this answer (tests/test_lab.py), outside tests/e2e, so it says
itself that it is end-to-end (it starts reader processes).
"""

import json
from dataclasses import asdict, replace

import pytest

from graphs.lab import run_crash, run_matrix
from graphs.lab_results import (
    SHIPPED_RESULTS,
    CellResult,
    CrashResult,
    Experiment,
    disagreements,
    mark,
    matrix_rows,
    own_run,
    save_own_run,
    shipped_experiment,
)
from graphs.lab_variants import DURABILITIES, variant_source

pytestmark = pytest.mark.e2e

RUNS = 3


@pytest.fixture(scope="module")
def cells() -> dict[tuple[str, str], CellResult]:
    return {(c.variant, c.durability): c for c in run_matrix(RUNS)}


@pytest.fixture(scope="module")
def crashes() -> dict[str, CrashResult]:
    return {c.durability: c for c in run_crash()}


def test_inplace_payload_survives_a_reload_only_because_exit_serializes_late(cells):
    assert cells["inplace", "exit"].payload_before_resume == RUNS


def test_inplace_payload_is_lost_under_sync(cells):
    assert cells["inplace", "sync"].payload_before_resume == 0


@pytest.mark.parametrize("durability", DURABILITIES)
def test_copied_payload_is_lost_in_every_mode(cells, durability):
    assert cells["copied", durability].payload_before_resume == 0


@pytest.mark.parametrize("variant", ["inplace", "copied"])
@pytest.mark.parametrize("durability", DURABILITIES)
def test_single_node_variants_still_interrupt(cells, variant, durability):
    cell = cells[variant, durability]
    assert (cell.interrupt_in_tasks, cell.next_seen) == (RUNS, [["request_approval"]])


@pytest.mark.parametrize("durability", DURABILITIES)
def test_two_node_keeps_payload_with_interrupt_pending(cells, durability):
    cell = cells["two_node", durability]
    assert cell.payload_before_resume == RUNS
    assert cell.interrupt_in_tasks == RUNS
    assert cell.next_seen == [["await_approval"]]


@pytest.mark.parametrize("durability", DURABILITIES)
def test_two_node_keeps_payload_after_resume_and_finishes(cells, durability):
    cell = cells["two_node", durability]
    assert (cell.payload_after_resume, cell.completed_after_resume) == (RUNS, RUNS)


@pytest.mark.parametrize("durability", ["sync", "async"])
def test_killed_run_keeps_completed_steps_and_continues(crashes, durability):
    crash = crashes[durability]
    assert crash.request_kept
    assert (crash.steps_before, crash.next_before) == (["fast_step"], ["slow_step"])
    assert crash.continued and crash.error is None
    assert crash.steps_after == ["fast_step", "slow_step"]


def test_killed_run_under_exit_leaves_nothing_to_continue(crashes):
    crash = crashes["exit"]
    assert not crash.request_kept
    assert (crash.steps_before, crash.next_before) == ([], [])
    assert not crash.continued and crash.steps_after == []


def test_results_are_json_serializable(cells, crashes):
    experiment = Experiment("test", RUNS, list(cells.values()), list(crashes.values()), 0.0)
    assert json.loads(json.dumps(asdict(experiment)))["cells"][0]["runs"] == RUNS


def test_a_persons_run_reads_back_for_them_alone_and_leaves_the_shipped_table(cells, crashes, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("DURABILITY_LAB_RUNS", str(tmp_path / "runs"))
    shipped = SHIPPED_RESULTS.read_bytes()
    experiment = Experiment("1.2.3", RUNS, list(cells.values()), list(crashes.values()), 1.5,
                            "2026-11-26T12:00:00+00:00")
    save_own_run("alice", experiment)
    assert own_run("alice") == experiment
    assert own_run("bob") is None and own_run("../alice") is None
    assert SHIPPED_RESULTS.read_bytes() == shipped and shipped_experiment() != experiment
    assert len(list((tmp_path / "runs").iterdir())) == 1  # alice's file, inside the folder


def test_the_shipped_table_is_the_checked_answer():
    """The README and the page give this table as the answer; it must say what the tests above measure."""
    shipped = shipped_experiment()
    assert shipped is not None and shipped.runs_per_cell == 10
    rows = {(r["variant"], r["durability"]): r["payload after reload"] for r in matrix_rows(shipped.cells)}
    assert rows["inplace", "exit"] == "✅ kept 10/10" and rows["inplace", "sync"] == "❌ kept 0/10"
    assert {rows["copied", d] for d in ("exit", "async", "sync")} == {"❌ kept 0/10"}
    assert {rows["two_node", d] for d in ("exit", "async", "sync")} == {"✅ kept 10/10"}
    assert {c.durability: c.continued for c in shipped.crashes} == {"exit": False, "async": True, "sync": True}


def test_disagreements_name_the_cells_where_a_run_differs_from_the_shipped_table():
    shipped = shipped_experiment()
    assert shipped is not None
    same = [replace(c) for c in shipped.cells]
    assert disagreements(shipped.cells, same) == []
    raced = [replace(c, payload_before_resume=c.runs - 1) if (c.variant, c.durability) == ("two_node", "sync")
             else c for c in shipped.cells]
    assert disagreements(shipped.cells, raced) == [
        "two_node / sync: payload after reload ⚠️ kept 9/10 (shipped: ✅ kept 10/10)"]


def test_variant_source_is_the_running_code():
    assert 'msg.additional_kwargs["hitl"] = hitl_request(msg)' in variant_source("inplace")
    assert "model_copy(deep=True)" in variant_source("copied")
    two_node = variant_source("two_node")
    assert "def annotate(" in two_node and "def await_approval(" in two_node


def test_marks_tell_kept_lost_and_race_apart():
    assert [mark(3, 3), mark(0, 3), mark(2, 3)] == ["✅ kept 3/3", "❌ kept 0/3", "⚠️ kept 2/3"]


def test_matrix_rows_show_the_marks(cells):
    rows = {(r["variant"], r["durability"]): r for r in matrix_rows(cells.values())}
    assert rows["two_node", "sync"]["payload after reload"] == f"✅ kept {RUNS}/{RUNS}"
    assert rows["copied", "exit"]["payload after reload"] == f"❌ kept 0/{RUNS}"
