"""The MCP warehouse agent (an async context manager factory holding an MCP session) served by a real
`langgraph dev`: its tools' questions join the queue like any deployment item and are answered through the one
decision command; the server resumes the tool call with exactly the answer given."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ALICE
from deployment_server import langgraph_dev_warehouse

from approvals.core.hitl import InvalidDecision
from approvals.service.facade import ApprovalService
from approvals.sources.deployments import Deployment
from approvals.store.schema import Store
from examples.mcp_server import recorded_actions

CONFIRM_KEY = "examples.mcp_server:ask_purge_confirmation"
CONTENT = {"confirm": True, "reason": "older than the retention", "keep_days": 90, "notify": "ops@example.com"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, the database its tools record into) of one langgraph dev for the module."""
    workdir = tmp_path_factory.mktemp("langgraph-dev-mcp")
    with langgraph_dev_warehouse(workdir) as base:
        yield base, workdir / "data" / "app.db"


@pytest.fixture
def app(store: Store, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> ApprovalService:
    monkeypatch.setenv("DATABASE_URL", str(server[1]))  # where recorded_actions reads the server's tools
    return ApprovalService(store, remotes={"dev": Deployment("dev", server[0])})


def ask(app: ApprovalService, text: str) -> tuple[str, str]:
    remote = app.remote("dev")
    thread_id, run_id = remote.start_run("warehouse", {"messages": [{"role": "user", "content": text}]},
                                         {"requester": "carol"})
    remote.wait(thread_id, run_id)
    app.poll_deployment("dev")
    [item] = [i for i in app.list_pending(viewer=ALICE) if i.thread_id == thread_id]
    assert (item.kind, item.deployment, item.graph) == ("mcp_elicitation", "dev", "warehouse")
    return thread_id, item.interrupt_id


def actions(tool: str) -> list[dict]:
    return [details for name, details in recorded_actions() if name == tool]


def test_a_form_answer_reaches_the_tool_on_the_server_exactly_as_given(app):
    before = actions("purge_orders")
    thread_id, interrupt_id = ask(app, "Purge the archived orders in north")
    with pytest.raises(InvalidDecision, match="greater than the maximum"):
        app.decide(thread_id, interrupt_id, {"responses": {CONFIRM_KEY: {
            "action": "accept", "content": {**CONTENT, "keep_days": 400}}}}, ALICE)
    record = app.decide(thread_id, interrupt_id, {"responses": {CONFIRM_KEY: {"action": "accept",
                                                                              "content": CONTENT}}}, ALICE)
    assert record.applied_at and record.decision == "accept"
    assert actions("purge_orders") == [*before, {"region": "north", **CONTENT}]


def test_decline_cancel_two_requests_and_a_url_request_on_the_server(app):
    thread_id, interrupt_id = ask(app, "Purge the archived orders in south")
    assert app.decide(thread_id, interrupt_id, {"responses": {CONFIRM_KEY: {"action": "decline"}}}, ALICE).applied_at
    thread_id, interrupt_id = ask(app, "Purge the archived orders in west")
    assert app.decide(thread_id, interrupt_id, {"responses": {CONFIRM_KEY: {"action": "cancel"}}}, ALICE).applied_at
    app.poll_deployment("dev")
    [again] = [i for i in app.list_pending(viewer=ALICE) if i.thread_id == thread_id]  # the agent asks once more
    assert again.interrupt_id != interrupt_id and again.tool == "purge_orders"
    assert not [a for a in actions("purge_orders") if a["region"] in ("south", "west")]

    thread_id, interrupt_id = ask(app, "Move 5 units of SKU-9 to Oslo")
    first, second = (r.key for r in app.pending_approval(thread_id, viewer=ALICE).review.elicitation)
    both = {"responses": {first: {"action": "accept", "content": {"approved": True, "max_units": 5}},
                          second: {"action": "accept", "content": {"carrier": "air"}}}}
    assert app.decide(thread_id, interrupt_id, both, ALICE).applied_at
    assert actions("transfer_stock")[-1] == {"sku": "SKU-9", "units": 5, "destination": "Oslo", "approved": True,
                                             "max_units": 5, "carrier": "air"}

    thread_id, interrupt_id = ask(app, "Connect the erp account")
    [request] = app.pending_approval(thread_id, viewer=ALICE).review.elicitation
    assert request.host == "accounts.example.com"
    assert app.decide(thread_id, interrupt_id, {"responses": {"sign_in": {"action": "accept"}}}, ALICE).applied_at
    assert actions("connect_account")[-1] == {"service": "erp"}
