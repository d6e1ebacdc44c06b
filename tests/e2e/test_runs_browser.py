"""Runs that survive a crash, in a real browser: SIGKILL the app in the middle of a model call, start it again,
reload, and the card arrives with the request asked once; the same with two replicas on PostgreSQL, where the
survivor takes the run over and a reload on it shows the run working (and no second run can start) meanwhile.

The model is ChatOpenAI against a slow OpenAI-compatible server in this test process, so the kill lands while
the agent's step is in flight, as it would with a real model.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import start_streamlit, stop, wait_ready
from openai_compatible import OpenAICompatibleServer, serve
from playwright.sync_api import Page, expect
from test_conversation_browser import card, open_conversation, send, thread_in

from approvals.store.schema import open_store

pytestmark = pytest.mark.browser

REFUND = "Refund order 55 for $250"
WORKING = "The agent is working…"
LEASE = {"APPROVAL_RUN_LEASE_S": "2"}


@pytest.fixture
def slow_model() -> Iterator[OpenAICompatibleServer]:
    with serve(delay=60.0) as server:
        yield server


def kill_mid_model_call(process: subprocess.Popen, model: OpenAICompatibleServer) -> None:
    """SIGKILL once the agent's model call is in flight; the model answers at once from now on."""
    assert model.started.wait(30), "the agent never called the model"
    process.kill()
    process.wait(10)
    model.delay = 0.0


def ask_for_refund(page: Page, base: str) -> str:
    """The requester asks; the page shows the run working. Returns the conversation's id."""
    open_conversation(page, base)
    send(page, REFUND)
    expect(page.get_by_text(WORKING)).to_be_visible()
    return thread_in(page)


def expect_card_after_reload(page: Page, url: str) -> None:
    page.goto(url)
    wait_ready(page)
    expect(card(page).get_by_text("Waiting for a reviewer")).to_be_visible(timeout=45_000)
    expect(page.get_by_text(REFUND, exact=True)).to_have_count(1)


def asked_once(url: str, thread_id: str) -> None:
    """One pending refund of order 55, one run record that ended done (the cut one, finished by its taker)."""
    store = open_store(url)
    try:
        pending = store.db.query("SELECT tool, status FROM pending WHERE thread_id = ?", (thread_id,))
        assert pending == [{"tool": "issue_refund", "status": "pending"}]
        runs = store.db.query("SELECT state, attempts FROM runs WHERE thread_id = ?", (thread_id,))
        assert runs == [{"state": "done", "attempts": 2}]
    finally:
        store.close()


def test_sigkill_mid_model_call_then_restart_and_reload_shows_the_card(
        slow_model: OpenAICompatibleServer, tmp_path: Path, new_page: Callable[[], Page]):
    env = {"DATABASE_URL": str(tmp_path / "app.db"), **slow_model.env(), **LEASE}
    process, base = start_streamlit(env, tmp_path / "before.log")
    try:
        page = new_page()
        thread_id = ask_for_refund(page, base)
        kill_mid_model_call(process, slow_model)
    finally:
        stop(process)

    process, base = start_streamlit(env, tmp_path / "after.log")
    try:
        expect_card_after_reload(page, f"{base}/?thread={thread_id}")
        asked_once(env["DATABASE_URL"], thread_id)
    finally:
        stop(process)


def test_replica_b_shows_the_run_working_refuses_another_and_finishes_it_when_a_dies(
        slow_model: OpenAICompatibleServer, postgres_url: str, tmp_path: Path, new_page: Callable[[], Page]):
    env = {"DATABASE_URL": postgres_url, **slow_model.env(), **LEASE}
    first, first_url = start_streamlit(env, tmp_path / "first.log")
    second, second_url = start_streamlit(env, tmp_path / "second.log")
    try:
        page = new_page()
        thread_id = ask_for_refund(page, first_url)
        assert slow_model.started.wait(30)

        on_b = open_conversation(page.context.new_page(), f"{second_url}/?thread={thread_id}")  # same person
        expect(on_b.get_by_text(WORKING)).to_be_visible()
        expect(on_b.get_by_test_id("stChatInputTextArea")).to_be_disabled()  # no second run from B

        kill_mid_model_call(first, slow_model)
        expect_card_after_reload(on_b, f"{second_url}/?thread={thread_id}")
        asked_once(postgres_url, thread_id)
    finally:
        stop(first)
        stop(second)
