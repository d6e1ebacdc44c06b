"""The /durability page: shows the last measured results on its first visit, and a click re-runs the experiment
live, keeps the new results for the next visitor and shows the marks."""

from datetime import UTC, datetime
from importlib.metadata import version

import pytest
from conftest import ALICE, GUEST
from streamlit.testing.v1 import AppTest

from graphs.lab_results import SHIPPED_RESULTS, Experiment

PAGE = "../pages/durability.py"


@pytest.fixture(autouse=True)
def results_file(tmp_path, monkeypatch, page_store, browser_cookie):
    """Runs from the page are kept in a file of the test's own, not in the repository's data/; the page's
    database and its browser's cookie are the test's own too (no cookie: an anonymous browser)."""
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


@pytest.fixture
def reviewer(browser_cookie):
    """This test's browser is signed in as alice, a reviewer."""
    at = AppTest.from_file(PAGE)
    browser_cookie.become(ALICE)
    return at


def test_a_guest_cannot_re_run_the_experiment(browser_cookie):
    at = AppTest.from_file(PAGE)
    browser_cookie.become(GUEST)
    at.run(timeout=30)
    assert at.button(key="durability_run").disabled
    assert "Only reviewers can re-run the experiment" in " ".join(c.value for c in at.caption)
    assert at.number_input(key="durability_runs").disabled and not at.exception


def test_run_button_fills_both_tables_and_keeps_them_for_the_next_visit(reviewer):
    at = reviewer.run(timeout=30)
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
