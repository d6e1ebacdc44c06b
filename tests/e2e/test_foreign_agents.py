"""Agents the app did not start: LangChain's create_agent + HumanInTheLoopMiddleware (examples/shipping_agent.py)
and plain graphs with raw interrupts, run by workers on the standard savers, found, listed and decided here.

"Foreign" runs go through `examples.worker.run`, which opens LangGraph's own SqliteSaver / PostgresSaver on the
database (a connection of its own, as another process would); one test starts the worker as a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import ALICE, BOB, CAROL

from approvals.core.errors import AlreadyDecided, NotAllowed, UnregisteredGraph
from approvals.core.hitl import InvalidDecision
from approvals.service.facade import ApprovalService
from approvals.service.scheduler import Scheduler, discovery_job
from approvals.sources.discovery import discover_all
from approvals.sources.registry import load_registry
from approvals.store.schema import Store
from examples import worker
from examples.shipping_agent import shipments_db

ROOT = Path(__file__).resolve().parents[2]
TEST_GRAPHS = ("shipping_per_call=examples.shipping_agent:make_per_call_agent,question=foreign_graphs:question,"
               "schema_question=foreign_graphs:schema_question,standard_request=foreign_graphs:standard_request")
SHIP = "Ship order 42 to 1 Main St"


@pytest.fixture
def foreign_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Workers in this test write to the test's database and know the test graphs."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("APPROVAL_GRAPHS", TEST_GRAPHS)
    return db_url


@pytest.fixture
def app(store: Store, foreign_env: str) -> ApprovalService:
    """The app's service, with every graph of langgraph.json and the test graphs registered."""
    return ApprovalService(store, registry=load_registry(env=TEST_GRAPHS))


def run_worker(graph: str, text: str = SHIP, thread_id: str = "t-1", requester: str | None = "dave") -> str:
    worker.run(graph, text, thread_id, requester)
    return thread_id


def shipments(store: Store) -> list[dict]:
    """What the example's tool really did, read through its own connection (DATABASE_URL is the test's database)."""
    with shipments_db() as (conn, _):
        rows = conn.execute("SELECT order_id, address FROM shipments ORDER BY order_id").fetchall()
    return [{"order_id": order_id, "address": address} for order_id, address in rows]


def found(app: ApprovalService) -> list:
    discover_all(app)
    return app.list_pending(viewer=ALICE)


def test_the_middlewares_standard_request_is_listed_with_its_graph_and_the_threads_requester(app):
    thread_id = run_worker("shipping")
    [item] = found(app)
    assert (item.thread_id, item.graph, item.kind, item.tool) == (thread_id, "shipping", "hitl", "ship_order")
    assert (item.requester, item.policy, item.args_summary) == ("dave", "reviewer", "order_id=42, address=1 Main St")
    pending = app.pending_approval(thread_id, viewer=ALICE, with_messages=True)
    assert pending.request.review_configs[0].allowed_decisions == ["approve", "edit", "reject", "respond"]
    assert pending.value == pending.review.value and "requested_by" not in pending.value
    assert [m.type for m in pending.messages] == ["human", "ai"]


def test_without_a_requester_in_the_metadata_the_requester_is_unknown(app):
    run_worker("shipping", requester=None)
    assert found(app)[0].requester == "unknown"


@pytest.mark.parametrize(
    ("decision", "shipped", "tool_result"),
    [
        ({"type": "approve"}, [{"order_id": "42", "address": "1 Main St"}], "Order 42 shipped to 1 Main St."),
        ({"type": "edit", "edited_action": {"name": "ship_order", "args": {"order_id": "42", "address": "9 Elm St"}}},
         [{"order_id": "42", "address": "9 Elm St"}], "shipped to 9 Elm St."),
        ({"type": "reject"}, [], "The tool was not executed"),
        ({"type": "reject", "message": "Address is a PO box"}, [], "Address is a PO box"),
        ({"type": "respond", "message": "Already shipped yesterday."}, [], "Already shipped yesterday."),
    ],
    ids=["approve", "edit", "reject", "reject-with-message", "respond"],
)
def test_each_standard_decision_resumes_the_agent_and_its_tool_runs_at_most_once(app, store, decision, shipped,
                                                                                tool_result):
    thread_id = run_worker("shipping")
    [item] = found(app)
    record = app.decide(thread_id, item.interrupt_id, {"decisions": [decision]}, ALICE)
    assert record.decision == decision["type"] and record.applied_at
    app.deliver_decision(record.decision_id)  # a repeat (crash recovery) changes nothing
    assert shipments(store) == shipped
    tool_message = next(m for m in app.messages(thread_id, viewer=ALICE) if m.type == "tool")
    assert tool_result in tool_message.text
    assert app.list_pending(viewer=ALICE) == [] and found(app) == []


def test_a_bad_edit_or_a_missing_respond_message_is_refused_and_nothing_is_saved(app, store):
    thread_id = run_worker("shipping")
    [item] = found(app)
    for bad in ({"type": "respond"}, {"type": "edit", "edited_action": {"name": "drop_table", "args": {}}}):
        with pytest.raises(InvalidDecision):
            app.decide(thread_id, item.interrupt_id, {"decisions": [bad]}, ALICE)
    assert app.decisions(viewer=ALICE) == []
    assert [i.interrupt_id for i in app.list_pending(viewer=ALICE)] == [item.interrupt_id]


def test_a_requester_cannot_decide_a_foreign_request(app):
    thread_id = run_worker("shipping", requester="carol")
    [item] = found(app)
    with pytest.raises(NotAllowed):
        app.decide(thread_id, item.interrupt_id, {"decisions": [{"type": "approve"}]}, CAROL)


def test_parallel_tool_calls_wait_as_separate_items_and_are_decided_separately(app, store):
    thread_id = run_worker("shipping_per_call", "Ship orders 42 and 43 to 1 Main St")
    items = found(app)
    assert [(i.kind, i.args_summary) for i in items] == [
        ("tool_approval", "order_id=42, address=1 Main St"), ("tool_approval", "order_id=43, address=1 Main St")]
    first, second = items
    app.decide(thread_id, first.interrupt_id, {"decisions": [{"type": "reject", "message": "Hold 42"}]}, ALICE)
    assert [i.interrupt_id for i in app.list_pending(viewer=ALICE)] == [second.interrupt_id]
    edit = {"type": "edit", "edited_action": {"name": "ship_order", "args": {"order_id": "43", "address": "2 Oak St"}}}
    app.decide(thread_id, second.interrupt_id, {"decisions": [edit]}, BOB)
    assert shipments(store) == [{"order_id": "43", "address": "2 Oak St"}]
    assert app.list_pending(viewer=ALICE) == [] and app.pending_approvals(thread_id, viewer=ALICE) == []


def test_two_items_of_one_thread_decided_at_once_are_delivered_one_after_the_other(app, store):
    """The second decision finds the thread busy with the first one's run: its run starts when that one ends."""
    thread_id = run_worker("shipping_per_call", "Ship orders 42 and 43 to 1 Main St")
    first, second = found(app)
    app.record_decision(thread_id, first.interrupt_id, {"decisions": [{"type": "approve"}]}, ALICE)
    app.record_decision(thread_id, second.interrupt_id, {"decisions": [{"type": "approve"}]}, BOB)
    [queued] = app.db.query("SELECT run_id FROM runs WHERE state = 'queued'")  # one run per thread at a time
    assert app.execute_run(queued["run_id"]) is None
    [handed_over] = app.db.query("SELECT run_id, decision_id FROM runs WHERE state = 'queued'")
    assert handed_over["decision_id"] == app.decision(thread_id, second.interrupt_id, viewer=ALICE).decision_id
    assert app.execute_run(handed_over["run_id"]) is None
    assert sorted(s["order_id"] for s in shipments(store)) == ["42", "43"]
    assert app.undelivered(viewer=ALICE) == [] and app.list_pending(viewer=ALICE) == []


def test_per_call_edits_are_checked_against_the_tools_schema_from_the_interrupt(app):
    thread_id = run_worker("shipping_per_call")
    [item] = found(app)
    bad = {"type": "edit", "edited_action": {"name": "ship_order", "args": {"order_id": 42}}}
    with pytest.raises(InvalidDecision, match="address"):
        app.decide(thread_id, item.interrupt_id, {"decisions": [bad]}, ALICE)
    assert app.decisions(viewer=ALICE) == []


def test_edits_of_a_standard_request_are_checked_against_its_args_schema(app):
    thread_id = run_worker("standard_request")
    [item] = found(app)
    assert (item.tool, item.kind) == ("set_discount", "hitl")
    for args, reason in (({"percent": 80}, "80 is greater than the maximum of 50"),
                         ({"percent": 5, "free": True}, "Additional properties are not allowed")):
        edit = {"decisions": [{"type": "edit", "edited_action": {"name": "set_discount", "args": args}}]}
        with pytest.raises(InvalidDecision, match=reason):
            app.decide(thread_id, item.interrupt_id, edit, ALICE)
    ok = {"decisions": [{"type": "edit", "edited_action": {"name": "set_discount", "args": {"percent": 20}}}]}
    assert app.decide(thread_id, item.interrupt_id, ok, ALICE).edit_diff == [
        {"tool": "set_discount", "changes": {"percent": [10, 20]}}]


def test_a_raw_interrupt_is_listed_and_answered_with_any_json_value(app, store):
    thread_id = run_worker("question")
    [item] = found(app)
    assert (item.kind, item.tool, item.args_summary, item.requester) == ("raw", "(question)", "Ship it?", "dave")
    record = app.decide(thread_id, item.interrupt_id, {"ship": "yes, today"}, ALICE)
    assert (record.decision, record.applied_at is not None) == ("answer", True)
    snapshot = store.checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
    assert snapshot.checkpoint["channel_values"]["answer"] == {"ship": "yes, today"}


def test_a_raw_answer_must_fit_the_interrupts_response_schema(app, store):
    thread_id = run_worker("schema_question")
    [item] = found(app)
    pending = app.pending_approval(thread_id, viewer=ALICE)
    assert pending.request is None and pending.review.response_schema["required"] == ["ship"]
    for bad in ({"note": "no ship field"}, {"ship": True, "note": "x" * 41}, "yes"):
        with pytest.raises(InvalidDecision, match="does not fit"):
            app.decide(thread_id, item.interrupt_id, bad, ALICE)
    assert app.decisions(viewer=ALICE) == []
    app.decide(thread_id, item.interrupt_id, {"ship": True, "note": "fragile"}, ALICE)
    snapshot = store.checkpointer.get_tuple({"configurable": {"thread_id": thread_id}})
    assert snapshot.checkpoint["channel_values"]["answer"] == {"ship": True, "note": "fragile"}


def test_bulk_decisions_skip_raw_interrupts_with_a_reason(app):
    run_worker("question")
    [item] = found(app)
    result = app.decide_many([item], lambda request: {"decisions": [{"type": "approve"}]}, ALICE)
    assert result.decided == [] and "answer it on its own" in result.failed[0][1]


def test_an_unregistered_graphs_thread_is_listed_but_not_decided_until_it_is_registered(store, foreign_env):
    thread_id = run_worker("shipping_per_call")
    unaware = ApprovalService(store, registry=load_registry(env=""))
    [item] = found(unaware)
    assert (item.graph, unaware.is_registered(item.graph)) == ("shipping_per_call", False)
    assert unaware.pending_approval(thread_id, viewer=ALICE, with_messages=True).messages  # still readable
    with pytest.raises(UnregisteredGraph, match="'shipping_per_call', which is not registered"):
        unaware.decide(thread_id, item.interrupt_id, {"decisions": [{"type": "approve"}]}, ALICE)
    assert unaware.decisions(viewer=ALICE) == [] and unaware.list_pending(viewer=ALICE) == [item]

    registered = ApprovalService(store, registry=load_registry(env="shipping_per_call=examples.shipping_agent:"
                                                                   "make_per_call_agent"))
    registered.decide(thread_id, item.interrupt_id, {"decisions": [{"type": "approve"}]}, ALICE)
    assert shipments(store) == [{"order_id": "42", "address": "1 Main St"}]


def test_two_reviewers_deciding_a_foreign_item_at_once_one_applies_the_other_is_told_who(app, store):
    thread_id = run_worker("shipping")
    [item] = found(app)
    barrier, outcomes = threading.Barrier(2), {}

    def decide(actor) -> None:
        barrier.wait()
        try:
            outcomes[actor.name] = app.decide(thread_id, item.interrupt_id, {"decisions": [{"type": "approve"}]}, actor)
        except AlreadyDecided as refused:
            outcomes[actor.name] = refused

    threads = [threading.Thread(target=decide, args=(actor,)) for actor in (ALICE, BOB)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refusals = [o for o in outcomes.values() if isinstance(o, AlreadyDecided)]
    [applied] = [o for o in outcomes.values() if not isinstance(o, AlreadyDecided)]
    assert len(refusals) == 1 and refusals[0].decided_by == applied.decided_by
    assert str(refusals[0]).startswith(f"Already decided by {applied.decided_by} at")
    assert len(shipments(store)) == 1


def test_a_worker_process_interrupt_reaches_the_queue_through_the_discovery_loop(app, store, foreign_env):
    loop = Scheduler(app.db, [discovery_job(app)], app.replica).start()
    try:
        env = {**os.environ, "DATABASE_URL": foreign_env}
        done = subprocess.run([sys.executable, "-m", "examples.worker", SHIP, "--requester", "erin"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120, check=True)
        thread_id = json.loads(done.stdout)["thread_id"]
        deadline = time.monotonic() + 30  # generous on a shared machine: this waits, it does not time anything
        while not app.list_pending(viewer=ALICE) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        loop.stop()
    [item] = app.list_pending(viewer=ALICE)
    assert (item.thread_id, item.requester, item.graph) == (thread_id, "erin", "shipping")
    # A worker's thread is not a chat of the built-in agent.
    assert [t.thread_id for t in app.recent_threads(viewer=ALICE)] == []


def test_threads_a_worker_wrote_before_the_app_ever_opened_the_database_are_found(tmp_path, monkeypatch):
    db = str(tmp_path / "early.db")
    monkeypatch.setenv("DATABASE_URL", db)
    thread_id = run_worker("shipping")
    from approvals.store.schema import open_store

    store = open_store(db)
    try:
        app = ApprovalService(store)
        assert [i.thread_id for i in found(app)] == [thread_id]
    finally:
        store.close()


def test_reconcile_rebuilds_foreign_items_too(app, store):
    thread_id = run_worker("shipping")
    store.db.execute("DELETE FROM thread_changes")
    assert app.list_pending(viewer=ALICE) == []
    app.reconcile()
    assert [(i.thread_id, i.graph) for i in app.list_pending(viewer=ALICE)] == [(thread_id, "shipping")]


def test_two_replicas_draining_the_change_log_at_once_index_every_item_once(postgres_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    from approvals.store.schema import open_store

    stores = [open_store(postgres_url) for _ in range(2)]
    try:
        replicas = [ApprovalService(store, registry=load_registry(env="")) for store in stores]
        thread_ids = [run_worker("shipping", f"Ship order {n} to 1 Main St", thread_id=f"t-{n}") for n in range(6)]
        barrier = threading.Barrier(2)

        def drain(replica: ApprovalService) -> None:
            barrier.wait()
            discover_all(replica)

        workers = [threading.Thread(target=drain, args=(replica,)) for replica in replicas]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        assert sorted(i.thread_id for i in replicas[0].list_pending(viewer=ALICE)) == sorted(thread_ids)
        assert replicas[1].list_pending(viewer=ALICE) == replicas[0].list_pending(viewer=ALICE)
        assert stores[0].db.query("SELECT COUNT(*) AS n FROM thread_changes")[0]["n"] == 0
    finally:
        for store in stores:
            store.close()


def test_another_graphs_tool_named_like_ours_is_not_checked_with_our_tools_schema():
    from langgraph.types import Interrupt

    from approvals.core.hitl import parse_response
    from approvals.core.interrupts import review_request
    from graphs.tools import ARGS_MODELS

    value = {"action_requests": [{"name": "issue_refund", "args": {"invoice": "A-1"}}],
             "review_configs": [{"action_name": "issue_refund", "allowed_decisions": ["edit"]}]}
    review = review_request(Interrupt(value, "i-1"), None, "2026-01-01T00:00:00+00:00")
    edit = {"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund", "args": {"invoice": "A-2"}}}]}
    assert parse_response(edit, review.request, ARGS_MODELS).decisions[0].edited_action.args == {"invoice": "A-2"}
