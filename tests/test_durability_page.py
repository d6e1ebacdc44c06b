"""The /durability page: opens without waiting, and a click re-runs the experiment live and shows the marks."""

from streamlit.testing.v1 import AppTest

PAGE = "../pages/durability.py"


def test_page_opens_with_run_button_and_variant_code():
    at = AppTest.from_file(PAGE).run(timeout=30)
    assert not at.exception
    assert at.button(key="durability_run").label == "Run the experiment"
    assert any("def await_approval(" in code.value for code in at.code)


def test_run_button_fills_both_tables():
    at = AppTest.from_file(PAGE).run(timeout=30)
    at.number_input(key="durability_runs").set_value(1)
    at.button(key="durability_run").click().run(timeout=120)
    assert not at.exception
    matrix, crash = (frame.value for frame in at.dataframe)
    payload = dict(zip(zip(matrix["variant"], matrix["durability"]), matrix["payload after reload"]))
    assert payload["inplace", "exit"] == "✅ kept 1/1"
    assert payload["inplace", "sync"] == "❌ kept 0/1"
    assert {payload["copied", d] for d in ("exit", "async", "sync")} == {"❌ kept 0/1"}
    assert {payload["two_node", d] for d in ("exit", "async", "sync")} == {"✅ kept 1/1"}
    continued = dict(zip(crash["durability"], crash["invoke(None) finished the run"]))
    assert continued == {"exit": "❌", "async": "✅", "sync": "✅"}
