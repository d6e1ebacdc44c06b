"""The /console page in AppTest with items of other graphs: a raw question answered through a form built from its
response_schema, a JSON answer box when there is none, a standard request's Respond, and an unregistered graph."""

from __future__ import annotations

import time

import pytest
from conftest import ALICE, BROWSER, as_read
from streamlit.testing.v1 import AppTest

from approvals.service.facade import ApprovalService
from approvals.sources.discovery import discover_all
from approvals.sources.registry import load_registry
from approvals.store.schema import Store
from examples import worker

PAGE = "../../pages/console.py"
TEST_GRAPHS = "question=foreign_graphs:question,schema_question=foreign_graphs:schema_question"


@pytest.fixture
def store(page_store: Store, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The page's database; workers and the page both see it through DATABASE_URL."""
    monkeypatch.setenv("APPROVAL_GRAPHS", TEST_GRAPHS)
    return page_store


def worker_item(store: Store, graph: str, text: str = "Ship order 42 to 1 Main St") -> str:
    """A worker's thread, found by discovery; returns its id."""
    worker.run(graph, text, f"{graph}-1", "dave")
    discover_all(ApprovalService(store, registry=load_registry()))
    return f"{graph}-1"


def opened(thread_id: str) -> AppTest:
    at = AppTest.from_file(PAGE)
    BROWSER.become(ALICE)
    at.query_params["thread"] = thread_id
    return at.run(timeout=30)


def answer(store: Store, thread_id: str) -> object:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        saved = store.checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
        if "answer" in saved.checkpoint["channel_values"]:
            return saved.checkpoint["channel_values"]["answer"]
        time.sleep(0.05)
    raise AssertionError("the answer never reached the graph")


def test_a_raw_question_with_a_response_schema_gets_a_form_of_its_fields(store):
    thread_id = worker_item(store, "schema_question")
    at = opened(thread_id)
    assert not at.exception
    assert "Ship it?" in at.json[0].value
    form = "console_answer_form_" + at.query_params["interrupt"]
    at.checkbox(key=f"{form}_ship").check()
    at.text_input(key=f"{form}_note").input("fragile")
    at = as_read(at).button(key=f"FormSubmitter:{form}-Send answer").click()
    at = at.run(timeout=30)
    assert not at.exception
    assert answer(store, thread_id) == {"ship": True, "note": "fragile"}


def test_a_raw_question_without_a_schema_takes_json_and_explains_bad_json(store):
    thread_id = worker_item(store, "question")
    at = opened(thread_id)
    assert "Ship it?" in [t.value for t in at.text]
    form = "console_answer_form_" + at.query_params["interrupt"]
    at.text_area(key=f"{form}_json").input("{not json")
    at = as_read(at).button(key=f"FormSubmitter:{form}-Send answer").click().run(timeout=30)
    assert any("not valid JSON" in e.value for e in at.error)
    at.text_area(key=f"{form}_json").input('{"ship": "today"}')
    as_read(at).button(key=f"FormSubmitter:{form}-Send answer").click().run(timeout=30)
    assert answer(store, thread_id) == {"ship": "today"}


def test_a_standard_request_offers_respond_and_sends_the_answer_as_the_tools_result(store):
    thread_id = worker_item(store, "shipping")
    at = opened(thread_id)
    labels = [b.label for b in at.button]
    assert {"Approve", "Edit", "Reject", "Respond"} <= set(labels)
    at = at.button(key="console_respond").click().run(timeout=30)
    at.text_area[0].input("Already on its way.")
    interrupt_id = at.query_params["interrupt"]
    as_read(at).button(key=f"FormSubmitter:console_respond_form_{interrupt_id}-Send response").click().run(timeout=30)
    service = ApprovalService(store)
    deadline = time.monotonic() + 30
    while not ((record := service.decision(thread_id, interrupt_id, viewer=ALICE)) and record.applied_at):
        assert time.monotonic() < deadline, "the response was never applied"
        time.sleep(0.05)
    assert record.decision == "respond" and record.message == "Already on its way."
    assert any(m.type == "tool" and m.text == "Already on its way." for m in service.messages(thread_id, viewer=ALICE))


def test_an_unregistered_graphs_item_is_shown_but_has_no_decision_buttons(store, monkeypatch):
    thread_id = worker_item(store, "question")
    monkeypatch.setenv("APPROVAL_GRAPHS", "")  # the app does not know the graph the worker ran
    at = opened(thread_id)
    assert not at.exception
    assert any("'question', which is not registered" in e.value.replace("\\", "") for e in at.error)
    assert "Send answer" not in [b.label for b in at.button]
    assert table_graphs(at) == ["question (not registered)"]


def table_graphs(at: AppTest) -> list[str]:
    frame = next(f.value for f in at.dataframe if "Graph" in getattr(f.value, "columns", []))
    return list(frame["Graph"])
