"""The /durability page: the shipped results for every visitor from the first visit, and a reviewer's own run
shown beside them, kept for that reviewer alone, never replacing the shipped table."""

from datetime import UTC, datetime
from importlib.metadata import version

import pytest
from conftest import ALICE, BOB, GUEST
from streamlit.testing.v1 import AppTest

from graphs.lab_results import SHIPPED_RESULTS, Experiment

PAGE = "../../pages/durability.py"


@pytest.fixture(autouse=True)
def runs_folder(tmp_path, monkeypatch, page_store, browser_cookie):
    """Runs from the page are kept in a folder of the test's own, not in the repository's data/; the page's
    database and its browser's cookie are the test's own too (no cookie: an anonymous browser)."""
    monkeypatch.setenv("DURABILITY_LAB_RUNS", str(tmp_path / "durability-lab"))


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def shipped_caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Shipped with this release"))


def payload_column(frame) -> dict[tuple[str, str], str]:
    cells = zip(frame["variant"], frame["durability"], strict=True)
    return dict(zip(cells, frame["payload after reload"], strict=True))


def visit(browser_cookie, actor) -> AppTest:
    """A fresh session of the page (a reload, or another person's first visit) in `actor`'s browser."""
    at = AppTest.from_file(PAGE)
    browser_cookie.become(actor)
    return at.run(timeout=30)


def test_first_visit_shows_the_shipped_results_with_when_and_which_langgraph():
    shipped = Experiment.from_json(SHIPPED_RESULTS.read_text())
    at = AppTest.from_file(PAGE).run(timeout=30)
    assert not at.exception
    assert not at.info  # the shipped file is there
    assert at.button(key="durability_run").label == "Run the experiment"
    assert any("def await_approval(" in code.value for code in at.code)
    assert f"on langgraph {shipped.langgraph_version}, {shipped.runs_per_cell} runs per cell" in shipped_caption(at)
    assert shipped.ran_at.replace("T", " ")[:16] in shipped_caption(at)
    matrix, crash = (frame.value for frame in at.dataframe)
    assert len(matrix) == 9 and len(crash) == 3
    assert payload_column(matrix)["two_node", "sync"] == f"✅ kept {shipped.runs_per_cell}/{shipped.runs_per_cell}"
    assert shipped.langgraph_version == version("langgraph")  # re-measure (python -m graphs.lab measure) on upgrade


def test_a_guest_cannot_run_the_experiment(browser_cookie):
    at = visit(browser_cookie, GUEST)
    assert at.button(key="durability_run").disabled
    assert "Only reviewers can run the experiment" in captions(at)
    assert at.number_input(key="durability_runs").disabled and not at.exception


def test_a_reviewers_run_shows_beside_the_shipped_table_for_her_alone(browser_cookie):
    shipped_file = SHIPPED_RESULTS.read_bytes()
    at = visit(browser_cookie, ALICE)
    shipped_said = shipped_caption(at)
    at.number_input(key="durability_runs").set_value(1)
    at.button(key="durability_run").click().run(timeout=120)
    assert not at.exception

    shipped_matrix, mine, _, crash = (frame.value for frame in at.dataframe)  # in the page's order
    payload = payload_column(mine)
    assert payload["inplace", "exit"] == "✅ kept 1/1"
    assert payload["inplace", "sync"] == "❌ kept 0/1"
    assert {payload["copied", d] for d in ("exit", "async", "sync")} == {"❌ kept 0/1"}
    assert {payload["two_node", d] for d in ("exit", "async", "sync")} == {"✅ kept 1/1"}
    continued = dict(zip(crash["durability"], crash["invoke(None) finished the run"], strict=True))
    assert continued == {"exit": "❌", "async": "✅", "sync": "✅"}
    # the shipped table is still on her page, unchanged, above her run
    assert shipped_caption(at) == shipped_said
    assert payload_column(shipped_matrix)["two_node", "sync"].endswith("kept 10/10")
    assert f"Your last run, measured {datetime.now(UTC):%Y-%m-%d}" in captions(at)
    assert f"on langgraph {version('langgraph')}, 1 runs per cell" in captions(at)
    assert SHIPPED_RESULTS.read_bytes() == shipped_file

    again = visit(browser_cookie, ALICE)  # alice reloads: her run is still beside the shipped table
    assert payload_column(again.dataframe[1].value) == payload
    assert shipped_caption(again) == shipped_said

    for other in (BOB, GUEST):  # anyone else sees only the shipped table
        theirs = visit(browser_cookie, other)
        assert shipped_caption(theirs) == shipped_said and "Your last run" not in captions(theirs)
        assert len(theirs.dataframe) == 2 and not theirs.exception
