"""A thread's graph is identified, never assumed, and "applied" means the agent got the decision.

Workers here run agents the way LangGraph's docs show it: the standard SqliteSaver / PostgresSaver and a plain
`agent.invoke(..., {"configurable": {"thread_id": ...}})`, with no `graph_id` in the run's metadata. The app must
find the graph from the checkpoint, or refuse with what to do; a resume that does not take stays "decided, not
yet delivered" with its reason until recovery delivers it, once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ALICE, CAROL
from langchain_core.messages import HumanMessage

from approvals.core.errors import AlreadyDecided, UnregisteredGraph
from approvals.core.records import UNKNOWN_GRAPH, DecisionRecord
from approvals.service import delivery
from approvals.service.facade import ApprovalService
from approvals.sources.discovery import discover_all
from approvals.sources.local_graphs import thread_config
from approvals.sources.registry import load_registry
from approvals.store.schema import Store, open_store
from examples import worker
from examples.shipping_agent import make_agent, make_per_call_agent, shipments_db

APPROVE = {"decisions": [{"type": "approve"}]}
SHIP = "Ship order 42 to 1 Main St"


@pytest.fixture
def worker_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Workers and the example's tool write to the test's database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


def plain_worker(make: Callable = make_agent, thread_id: str = "t-plain", metadata: dict | None = None) -> str:
    """The docs' worker: the standard saver, a plain invoke, no graph_id (unless `metadata` says one)."""
    with worker.standard_saver() as saver:
        agent = make().copy(update={"checkpointer": saver})
        config: dict = {"configurable": {"thread_id": thread_id}}
        if metadata:
            config["metadata"] = metadata
        agent.invoke({"messages": [HumanMessage(SHIP)]}, config)
    return thread_id


def shipped() -> list[str]:
    with shipments_db() as (conn, _):
        return [row[0] for row in conn.execute("SELECT order_id FROM shipments").fetchall()]


def app(store: Store, graphs: str = "") -> ApprovalService:
    """The app's service with langgraph.json's graphs (support, shipping) plus `graphs`."""
    return ApprovalService(store, registry=load_registry(env=graphs))


def undelivered_reason(service: ApprovalService, thread_id: str) -> str:
    [record] = [r for r in service.undelivered(viewer=ALICE) if r.thread_id == thread_id]
    return record.delivery_error


def test_a_plain_worker_without_graph_id_is_identified_and_its_tool_runs_exactly_once(store, worker_db):
    service = app(store)
    thread_id = plain_worker()
    discover_all(service)
    [item] = service.list_pending(viewer=ALICE)
    assert (item.thread_id, item.graph, item.tool) == (thread_id, "shipping", "ship_order")
    assert store.db.query("SELECT graph FROM threads WHERE thread_id = ?", (thread_id,)) == [{"graph": "shipping"}]

    record = service.decide(thread_id, item.interrupt_id, APPROVE, ALICE)
    assert record.applied_at is not None and record.delivery_error == ""
    assert shipped() == ["42"]
    assert service.pending_approval(thread_id, viewer=ALICE) is None and service.list_pending(viewer=ALICE) == []
    with pytest.raises(AlreadyDecided):
        service.decide(thread_id, item.interrupt_id, APPROVE, ALICE)
    service.deliver_decision(record.decision_id)  # a repeat (recovery) changes nothing
    assert service.recover() == 0 and shipped() == ["42"]


def wires() -> list[tuple[float, str]]:
    with shipments_db() as (conn, _):
        return [(row[0], row[1]) for row in conn.execute("SELECT amount, to_account FROM wires").fetchall()]


def test_two_create_agent_agents_without_graph_id_are_told_apart_by_their_tools(store, worker_db, monkeypatch):
    """A team's own create_agent agent (wire_funds) beside the shipping example: same nodes, same channels; the
    tool each pending call names says which graph each thread runs on, and each tool runs once."""
    treasury = "treasury=foreign_graphs:make_treasury_agent"
    monkeypatch.setenv("APPROVAL_GRAPHS", treasury)
    service = app(store, treasury)
    worker.run("shipping", SHIP, "t-ship", "dave", graph_id=False)
    worker.run("treasury", "Wire 900 to ACME-1", "t-wire", "dave", graph_id=False)
    discover_all(service)
    items = {item.thread_id: item for item in service.list_pending(viewer=ALICE)}
    assert {t: (i.graph, i.tool) for t, i in items.items()} == {
        "t-ship": ("shipping", "ship_order"), "t-wire": ("treasury", "wire_funds")}
    assert store.db.query("SELECT thread_id, graph FROM threads ORDER BY thread_id") == [
        {"thread_id": "t-ship", "graph": "shipping"}, {"thread_id": "t-wire", "graph": "treasury"}]

    for thread_id, item in items.items():
        record = service.decide(thread_id, item.interrupt_id, APPROVE, ALICE)
        assert record.applied_at is not None and record.delivery_error == ""
    assert shipped() == ["42"] and wires() == [(900.0, "ACME-1")]
    assert service.list_pending(viewer=ALICE) == [] and service.recover() == 0
    assert shipped() == ["42"] and wires() == [(900.0, "ACME-1")]


def test_a_thread_no_single_graph_matches_is_listed_as_graph_unknown_and_refused(store, worker_db):
    # create_agent's two modes have the same nodes, channels and tool: the checkpoint cannot tell them apart
    service = app(store, "shipping_per_call=examples.shipping_agent:make_per_call_agent")
    thread_id = plain_worker(make_per_call_agent)
    discover_all(service)
    [item] = service.list_pending(viewer=ALICE)
    assert item.graph == UNKNOWN_GRAPH
    with pytest.raises(UnregisteredGraph, match="Set graph_id in the run's metadata") as refused:
        service.decide(thread_id, item.interrupt_id, APPROVE, ALICE)
    assert "register the graph" in str(refused.value)
    assert store.db.query("SELECT COUNT(*) AS n FROM decisions")[0]["n"] == 0
    assert shipped() == [] and len(service.list_pending(viewer=ALICE)) == 1


def test_a_resume_with_the_wrong_graph_is_not_marked_applied(store, worker_db):
    """The issue's failure: the metadata names the built-in graph, the thread is a create_agent one."""
    service = app(store)
    thread_id = plain_worker(metadata={"graph_id": "support", "requester": "dave"})
    discover_all(service)
    [item] = service.list_pending(viewer=ALICE)
    record = service.decide(thread_id, item.interrupt_id, APPROVE, ALICE)
    assert record.applied_at is None and record.delivery_error
    assert undelivered_reason(service, thread_id) == record.delivery_error
    assert shipped() == []
    assert store.db.query("SELECT applied_at FROM decisions") == [{"applied_at": None}]


@pytest.fixture
def flaky(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(fail flag, side effects): the flaky graph raises on resume while the flag file exists."""
    fail, effects = tmp_path / "warehouse-down", tmp_path / "effects.txt"
    monkeypatch.setenv("FLAKY_FAIL", str(fail))
    monkeypatch.setenv("FLAKY_EFFECTS", str(effects))
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # only the outbox is read here
    fail.touch()
    return fail, effects


def start_flaky(service: ApprovalService, thread_id: str = "t-flaky") -> str:
    """The app's own run of the flaky graph (graph_id recorded), waiting at its question."""
    graph = service.graph_for("flaky")
    graph.invoke({}, thread_config(thread_id, "flaky", "carol"))
    service.sync_index(thread_id)
    return service.list_pending(viewer=ALICE)[0].interrupt_id


def decided_events(store: Store) -> list[dict]:
    rows = store.db.query("SELECT body FROM outbox WHERE event = 'approval.decided'")
    return [json.loads(row["body"]) for row in rows]


def effects_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def deliver_until_applied(service: ApprovalService, thread_id: str, timeout: float = 15.0) -> DecisionRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        service.deliver_due()
        record = service.decision(thread_id, service.decisions(viewer=ALICE)[0].interrupt_id, viewer=ALICE)
        if record and record.applied_at:
            return record
        time.sleep(0.2)
    raise AssertionError("recovery never delivered the decision")


def test_a_resume_that_fails_stays_undelivered_and_visible_then_recovery_applies_it_once(store, flaky):
    fail, effects = flaky
    service = app(store, "flaky=foreign_graphs:flaky_shipment")
    thread_id = "t-flaky"
    interrupt_id = start_flaky(service, thread_id)

    record = service.decide(thread_id, interrupt_id, "yes", ALICE)
    assert record.applied_at is None and record.delivery_attempts == 1
    assert record.delivery_error == "RuntimeError: the warehouse is offline"
    assert undelivered_reason(service, thread_id) == record.delivery_error
    assert [r.thread_id for r in service.undelivered(viewer=CAROL)] == [thread_id]  # the requester sees it too
    assert effects_of(effects) == [] and decided_events(store) == []  # not delivered: no "approval.decided"
    with pytest.raises(AlreadyDecided):  # decided all the same: nobody decides it twice meanwhile
        service.approval(thread_id, interrupt_id, viewer=ALICE)
    assert service.deliver_due() == 0  # backing off: not due yet

    fail.unlink()  # the warehouse is back
    applied = deliver_until_applied(service, thread_id)
    assert applied.delivery_error == "" and effects_of(effects) == ["shipped 'yes'"]
    assert [e["decided_by"] for e in decided_events(store)] == ["alice"]
    assert service.deliver_due() == 0 and service.recover() == 0
    assert service.undelivered(viewer=ALICE) == [] and effects_of(effects) == ["shipped 'yes'"]


def test_two_replicas_retrying_one_decision_apply_it_once(postgres_url, flaky, monkeypatch):
    fail, effects = flaky
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    stores = [open_store(postgres_url) for _ in range(2)]
    try:
        replicas = [app(store, "flaky=foreign_graphs:flaky_shipment") for store in stores]
        interrupt_id = start_flaky(replicas[0])
        assert replicas[0].decide("t-flaky", interrupt_id, "yes", ALICE).applied_at is None
        fail.unlink()
        stores[0].db.execute("UPDATE decisions SET next_delivery_at = ?", (delivery.later(-1),))  # due now
        start = threading.Barrier(2)

        def retry(service: ApprovalService) -> None:
            start.wait()
            service.deliver_due()

        threads = [threading.Thread(target=retry, args=(replica,)) for replica in replicas]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert effects_of(effects) == ["shipped 'yes'"]
        assert len(decided_events(stores[0])) == 1
        assert replicas[1].decisions(viewer=ALICE)[0].applied_at
    finally:
        for store in stores:
            store.close()
