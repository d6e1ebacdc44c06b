"""The built-in agent on an Agent Server: with APPROVAL_RUNS_ON the conversation's runs go to a real `langgraph dev`
serving this project's `support` graph, its interrupt is the same card and queue item, and a decision runs the
tool once. Unset, runs stay in this process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BOB, CAROL, GUEST, BrowserCookie
from deployment_server import langgraph_dev_support
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from openai_compatible import OpenAICompatibleServer, serve

import resources
from approvals.core.interrupts import read_snapshot
from approvals.service.facade import ApprovalService
from approvals.sources.deployments import Deployment, Remote
from approvals.store.schema import Store
from tests.pages.test_conversation_page import card_args, click, labels, open_page, send, settle, thread_of

REFUND = "Refund order 55 for $250"
APPROVE = {"decisions": [{"type": "approve"}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with langgraph_dev_support(tmp_path_factory.mktemp("support-dev")) as base:
        yield base


def service_on(store: Store, server: str, monkeypatch: pytest.MonkeyPatch, runs_on: str) -> ApprovalService:
    if runs_on:
        monkeypatch.setenv("APPROVAL_RUNS_ON", runs_on)
    else:
        monkeypatch.delenv("APPROVAL_RUNS_ON", raising=False)
    return ApprovalService(store, remotes={"prod": Deployment("prod", server)})


def refunds_on(server: str, thread_id: str) -> list[dict]:
    """The deployed thread's results of issue_refund: the tool's effect, as the server's own thread records it."""
    state = Remote(Deployment("prod", server)).state(thread_id)
    return [m for m in state["values"]["messages"] if m["type"] == "tool" and m["name"] == "issue_refund"]


def converse(service: ApprovalService, text: str = REFUND) -> str:
    thread_id = service.new_thread_id()
    run = service.start_message(thread_id, text, CAROL)
    assert service.execute_run(run.run_id) is None
    return thread_id


def test_a_conversation_runs_on_the_deployment_its_card_is_decided_and_the_tool_runs_once(store, server,
                                                                                         monkeypatch):
    service = service_on(store, server, monkeypatch, "prod")
    thread_id = converse(service)

    assert read_snapshot(store.checkpointer, thread_id) is None  # nothing ran here
    status = service.run_status(thread_id, viewer=CAROL)
    assert status is not None and status.run.state == "done"
    card = service.pending_approval(thread_id, viewer=CAROL)  # the requester's card, from the server's interrupt
    assert card is not None and card.deployment == "prod"
    assert card.request.action_requests[0].args == {"order_id": "55", "amount": 250.0}
    assert [i.thread_id for i in service.list_pending(viewer=BOB)].count(thread_id) == 1
    service.poll_deployment("prod")  # the poller sees the same interrupt: still one item
    assert [i.thread_id for i in service.list_pending(viewer=BOB)].count(thread_id) == 1
    assert [m.text for m in service.messages(thread_id, viewer=CAROL) if isinstance(m, HumanMessage)] == [REFUND]

    decided = service.decide(thread_id, card.interrupt_id, APPROVE, BOB)  # its run row delivers it to the server
    assert decided.delivered

    assert service.pending_approval(thread_id, viewer=CAROL) is None
    assert [i for i in service.list_pending(viewer=BOB) if i.thread_id == thread_id] == []
    refunds = refunds_on(server, thread_id)
    assert len(refunds) == 1 and "Refunded $250.00 on order 55" in refunds[0]["content"]
    shown = service.messages(thread_id, viewer=CAROL)
    assert sum(isinstance(m, ToolMessage) for m in shown) == 1 and isinstance(shown[-1], AIMessage)
    assert service.decision(thread_id, card.interrupt_id, viewer=CAROL).applied_at is not None


def test_the_server_thread_has_the_conversations_id_and_requester(store, server, monkeypatch):
    thread_id = converse(service_on(store, server, monkeypatch, "prod"), "Look up order 12")
    snapshot = Remote(Deployment("prod", server)).snapshot(thread_id)
    assert snapshot.requester == "carol" and snapshot.graph == "support"


def test_unset_the_runs_stay_in_this_process(store, server, monkeypatch):
    service = service_on(store, server, monkeypatch, "")
    thread_id = converse(service)
    assert read_snapshot(store.checkpointer, thread_id) is not None
    assert Remote(Deployment("prod", server)).find(thread_id) is None
    card = service.pending_approval(thread_id, viewer=CAROL)
    assert card is not None and card.deployment == ""


def test_an_unknown_deployment_fails_the_run_with_its_name_and_changes_nothing_remote(store, server, monkeypatch):
    service = service_on(store, server, monkeypatch, "staging")
    thread_id = service.new_thread_id()
    run = service.start_message(thread_id, REFUND, CAROL)
    assert service.execute_run(run.run_id) is not None
    status = service.run_status(thread_id, viewer=CAROL)
    assert status is not None and status.run.state == "failed" and "'staging' is not configured" in status.run.error
    assert read_snapshot(store.checkpointer, thread_id) is None
    assert Remote(Deployment("prod", server)).find(thread_id) is None


def test_a_reviewer_reads_the_remote_conversation_as_its_requester_wrote_it(store, server, monkeypatch):
    service = service_on(store, server, monkeypatch, "prod")
    thread_id = converse(service)
    assert [m.text for m in service.messages(thread_id, viewer=BOB) if isinstance(m, HumanMessage)] == [REFUND]



@pytest.fixture
def page_on_deployment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: str,
                       browser_cookie: BrowserCookie) -> Iterator[None]:
    """The page's own service (resources) configured as an operator would: the deployment, and runs on it."""
    monkeypatch.setenv("DATABASE_URL", str(tmp_path / "app.db"))
    monkeypatch.setenv("APPROVAL_DEPLOYMENTS", f"prod={server}")
    monkeypatch.setenv("APPROVAL_RUNS_ON", "prod")
    resources.approval_service.clear()
    browser_cookie.become(GUEST)
    yield
    resources.approval_service.clear()


def test_the_conversation_page_draws_the_deployments_card_and_approving_it_refunds_once(page_on_deployment, server):
    at = send(open_page(), "Refund order 1234 for $25")
    assert "Approve" in labels(at) and card_args(at)["Order Id"].strip() == "1234"
    thread_id = thread_of(at)
    assert read_snapshot(resources.approval_service().store.checkpointer, thread_id) is None

    at = settle(click(at, "Approve"))
    assert not at.exception and "Approve" not in labels(at)
    assert len(refunds_on(server, thread_id)) == 1
    assert any("Refunded $25.00 on order 1234" in m.value for m in at.markdown) or \
        any("Refunded $25.00 on order 1234" in t.value for t in at.text)


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, OpenAICompatibleServer]]:
    """A deployment whose support graph calls ChatOpenAI against a server on 127.0.0.1 (that the test can take down)."""
    with serve() as model, langgraph_dev_support(tmp_path_factory.mktemp("model-dev"), model.env()) as base:
        yield base, model


def test_a_run_that_fails_on_the_deployment_shows_failed_and_retry_reaches_the_card(store, model_server,
                                                                                 monkeypatch):
    server, model = model_server
    service = service_on(store, server, monkeypatch, "prod")
    thread_id = service.new_thread_id()
    model.failing = True
    try:
        run = service.start_message(thread_id, REFUND, CAROL)
        assert service.execute_run(run.run_id) is not None
    finally:
        model.failing = False
    status = service.run_status(thread_id, viewer=CAROL)
    assert status is not None and status.run.state == "failed" and "'prod'" in status.run.error
    assert service.pending_approval(thread_id, viewer=CAROL) is None

    retry = service.start_retry(thread_id, CAROL)
    assert service.execute_run(retry.run_id) is None
    card = service.pending_approval(thread_id, viewer=CAROL)
    assert card is not None and card.request.action_requests[0].args == {"order_id": "55", "amount": 250.0}
    assert [m.text for m in service.messages(thread_id, viewer=CAROL) if isinstance(m, HumanMessage)] == [REFUND]
