"""The /durability page: shows the last measured results on its first visit, and a click re-runs the experiment
live, keeps the new results for the next visitor and shows the marks."""

from datetime import UTC, datetime
from importlib.metadata import version

import pytest
from streamlit.testing.v1 import AppTest

from graphs.lab_results import SHIPPED_RESULTS, Experiment

PAGE = "../pages/durability.py"


@pytest.fixture(autouse=True)
def results_file(tmp_path, monkeypatch):
    """Runs from the page are kept in a file of the test's own, not in the repository's data/."""
    monkeypatch.setenv("DURABILITY_LAB_RESULTS", str(tmp_path / "durability-lab.json"))


def caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Last measured"))


def test_first_visit_shows_the_shipped_results_with_when_and_which_langgraph():
    shipped = Experiment.from_json(SHIPPED_RESULTS.read_text())
    at = AppTest.from_file(PAGE).run(timeout=30)
    assert not at.exception
    assert not at.info  # no "No results yet"
    assert at.button(key="durability_run").label == "Run the experiment"
    assert any("def await_approval(" in code.value for code in at.code)
    assert f"on langgraph {shipped.langgraph_version}, {shipped.runs_per_cell} runs per cell" in caption(at)
    assert shipped.ran_at.replace("T", " ")[:16] in caption(at)
    matrix, crash = (frame.value for frame in at.dataframe)
    assert len(matrix) == 9 and len(crash) == 3
    assert shipped.langgraph_version == version("langgraph")  # re-measure (python -m graphs.lab measure) on upgrade


def test_run_button_fills_both_tables_and_keeps_them_for_the_next_visit():
    at = AppTest.from_file(PAGE).run(timeout=30)
    at.number_input(key="durability_runs").set_value(1)
    at.button(key="durability_run").click().run(timeout=120)
    assert not at.exception
    matrix, crash = (frame.value for frame in at.dataframe)
    cells = zip(matrix["variant"], matrix["durability"], strict=True)
    payload = dict(zip(cells, matrix["payload after reload"], strict=True))
    assert payload["inplace", "exit"] == "✅ kept 1/1"
    assert payload["inplace", "sync"] == "❌ kept 0/1"
    assert {payload["copied", d] for d in ("exit", "async", "sync")} == {"❌ kept 0/1"}
    assert {payload["two_node", d] for d in ("exit", "async", "sync")} == {"✅ kept 1/1"}
    continued = dict(zip(crash["durability"], crash["invoke(None) finished the run"], strict=True))
    assert continued == {"exit": "❌", "async": "✅", "sync": "✅"}

    later = AppTest.from_file(PAGE).run(timeout=30)  # another visitor, another session
    assert f"on langgraph {version('langgraph')}, 1 runs per cell" in caption(later)
    assert datetime.now(UTC).strftime("%Y-%m-%d") in caption(later)
