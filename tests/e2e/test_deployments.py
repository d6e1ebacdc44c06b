"""LangGraph Agent Server deployments in the queue, against a real `langgraph dev` started here.

The server runs tests/fixtures/deployed_agent.py (create_agent + HumanInTheLoopMiddleware, nothing of ours); its
tool appends a line per run to a file, so "ran exactly once" is read from the server's own side effect.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ALICE, BOB, CAROL
from deployment_server import free_port, langgraph_dev
from starlette.applications import Starlette
from starlette.testclient import TestClient

from approvals.core.errors import AlreadyDecided
from approvals.core.records import PendingApproval
from approvals.http.api import api_routes
from approvals.identity import api_tokens
from approvals.service.facade import ApprovalService
from approvals.service.policy import PolicySource
from approvals.sources import deployments
from approvals.sources.deployments import AgentServer, Deployment, DeploymentUnavailable, Remote
from approvals.sources.local_graphs import LocalGraphs
from approvals.store.schema import Store, open_store

APPROVE = {"decisions": [{"type": "approve"}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(base URL, side-effect file) of one langgraph dev for the module."""
    workdir = tmp_path_factory.mktemp("langgraph-dev")
    effects = workdir / "effects.txt"
    with langgraph_dev(workdir, effects) as base:
        yield base, effects


@pytest.fixture
def effects(server: tuple[str, Path]) -> Path:
    server[1].write_text("")
    return server[1]


@pytest.fixture
def remote(server: tuple[str, Path]) -> Remote:
    return Remote(Deployment("prod", server[0]))


def app(store: Store, server: tuple[str, Path], **more: str) -> ApprovalService:
    configured = {"prod": Deployment("prod", server[0]), **{n: Deployment(n, url) for n, url in more.items()}}
    return ApprovalService(store, remotes=configured)


def pause(remote: Remote, text: str = "Ship order 42 to 1 Main St", graph: str = "shipper",
          requester: str | None = "dave") -> str:
    """A thread on the server, paused at its approval (as a client of the deployment would start it)."""
    payload = {"messages": [{"role": "user", "content": text}]} if graph == "shipper" else {}
    thread_id, run_id = remote.start_run(graph, payload, {"requester": requester} if requester else None)
    remote.wait(thread_id, run_id)
    return thread_id


def items_of(service: ApprovalService, thread_id: str) -> list:
    service.poll_deployment("prod")
    return [i for i in service.list_pending(viewer=ALICE) if i.thread_id == thread_id]


def shipped(effects: Path) -> list[str]:
    return effects.read_text().splitlines()


def test_configuration_from_the_environment_and_approvals_toml(tmp_path, monkeypatch):
    config = tmp_path / "approvals.toml"
    config.write_text('[[rules]]\nname = "x"\n\n[deployments.cloud]\nurl = "https://agents.example.com/"\n'
                      'api_key_env = "CLOUD_KEY"\nheaders = { "X-Tenant" = "acme" }\n')
    found = deployments.configured("local=http://127.0.0.1:2024", config)
    assert found["cloud"] == Deployment("cloud", "https://agents.example.com", "CLOUD_KEY", {"X-Tenant": "acme"})
    assert found["local"] == Deployment("local", "http://127.0.0.1:2024")
    with pytest.raises(ValueError, match="name=http"):
        deployments.parse_env("just-a-name")
    config.write_text("[[rules]\nname =")  # a file the policy refuses: the app still starts, without its deployments
    assert deployments.configured("", config) == {}
    config.write_text('[deployments.bad]\nurl = "ftp://x"\n')
    with pytest.raises(ValueError, match=r"\[deployments.bad\]"):
        deployments.from_toml(config)


def test_an_interrupt_on_the_server_is_listed_decided_and_its_tool_runs_once(store, server, remote, effects):
    service = app(store, server)
    thread_id = pause(remote)
    [item] = items_of(service, thread_id)
    assert (item.deployment, item.graph, item.tool, item.requester) == ("prod", "shipper", "ship_order", "dave")
    assert item.source == "prod: shipper" and item.policy == "reviewer"
    pending = service.pending_approval(thread_id, viewer=ALICE, with_messages=True)
    assert [m.type for m in pending.messages] == ["human", "ai"]
    assert service.list_pending(viewer=CAROL) == []  # dave's request: a requester sees only their own

    record = service.decide(thread_id, item.interrupt_id, APPROVE, ALICE)
    assert record.applied_at and shipped(effects) == ["42|1 Main St"]
    assert items_of(service, thread_id) == []
    with pytest.raises(AlreadyDecided):
        service.decide(thread_id, item.interrupt_id, APPROVE, BOB)
    assert service.recover() == 0 and shipped(effects) == ["42|1 Main St"]


def test_a_local_and_a_deployment_thread_are_decided_through_the_same_calls(store, server, remote, effects,
                                                                           monkeypatch):
    """One decision path for both: delivery asks the thread's backend to resume it (approvals/service/ports.py);
    the app's own graph and the server each get their decision once and their tool runs once."""
    service = app(store, server)
    local = service.new_thread_id()
    service.send_message(local, "Refund order 55 for $250", CAROL)
    [local_item] = [i for i in service.list_pending(viewer=ALICE) if i.thread_id == local]
    deployed = pause(remote)
    [deployed_item] = items_of(service, deployed)
    resumed: list[tuple[str, str, str, str]] = []
    for backend in (LocalGraphs, AgentServer):
        monkeypatch.setattr(backend, "resume", noting(backend.resume, resumed))

    for item in (local_item, deployed_item):
        assert service.decide(item.thread_id, item.interrupt_id, APPROVE, ALICE).applied_at
    assert resumed == [("LocalGraphs", "", local, "_attempt_delivery"),
                       ("AgentServer", "prod", deployed, "_attempt_delivery")]
    assert [e["tool"] for e in service.store.ledger.entries(local)] == ["issue_refund"]
    assert shipped(effects) == ["42|1 Main St"]
    assert items_of(service, deployed) == [] and service.list_pending(viewer=ALICE) == []


def noting(resume: Callable[..., None], resumed: list) -> Callable[..., None]:
    """The backend's own resume, noting which backend resumed which thread, called from where."""
    def spied(backend: AgentServer | LocalGraphs, pending: PendingApproval, value: Any, clearance: str) -> None:
        resumed.append((type(backend).__name__, backend.name, pending.thread_id, sys._getframe(1).f_code.co_name))
        return resume(backend, pending, value, clearance)
    return spied


def test_a_quiet_poll_costs_at_most_two_requests(store, server, remote, effects):
    service = app(store, server)
    pause(remote)
    service.poll_deployment("prod")  # the first poll lists everything
    assert service.poll_deployment("prod") == 2  # then: newer than the cursor (none), and a count that adds up
    assert service.poll_deployment("prod") == 2


def test_a_request_with_several_actions_and_a_raw_interrupt_are_items(store, server, remote, effects):
    service = app(store, server)
    batch = pause(remote, "Ship orders 42 and 43 to 1 Main St")
    [item] = items_of(service, batch)
    assert item.args_summary == "order_id=42, address=1 Main St; order_id=43, address=1 Main St"
    both = {"decisions": [{"type": "approve"}, {"type": "reject", "message": "43 is on hold"}]}
    assert service.decide(batch, item.interrupt_id, both, ALICE).applied_at
    assert shipped(effects) == ["42|1 Main St"]

    question = pause(remote, graph="question", requester=None)
    [raw] = items_of(service, question)
    assert (raw.kind, raw.graph, raw.requester) == ("raw", "question", "unknown")
    assert service.decide(question, raw.interrupt_id, "yes, ship it", ALICE).applied_at
    assert remote.state(question)["values"]["answer"] == "yes, ship it"


def test_a_thread_resumed_directly_on_the_server_leaves_the_queue(store, server, remote, effects):
    service = app(store, server)
    thread_id = pause(remote)
    [item] = items_of(service, thread_id)
    remote.resume(thread_id, "shipper", item.interrupt_id, APPROVE)  # Studio, or another client
    assert items_of(service, thread_id) == []
    assert shipped(effects) == ["42|1 Main St"]


SHIPPING_POLICY = """
[[rules]]
name = "no-po-boxes"
tool = "ship_order"
when = "args.address.startsWith('PO Box')"
decide = "deny"
message = "We never ship to PO boxes."

[[rules]]
name = "house-addresses"
tool = "ship_order"
graph = "shipper"
when = "args.order_id == '4242'"
decide = "approve"
"""


def test_a_policy_auto_decision_for_a_deployment_item_resumes_its_thread(store, server, remote, effects,
                                                                         tmp_path):
    policy_file = tmp_path / "approvals.toml"
    policy_file.write_text(SHIPPING_POLICY)
    service = ApprovalService(store, remotes={"prod": Deployment("prod", server[0])},
                              policy=PolicySource(policy_file))
    # order 4242 only: the module's server still holds other tests' paused threads, which this poll lists too
    approved, denied = pause(remote, "Ship order 4242 to 1 Main St"), pause(remote, "Ship order 43 to PO Box 9")
    service.poll_deployment("prod")
    [shipping] = service.decisions(thread_id=approved, viewer=ALICE)
    assert (shipping.decided_by, shipping.decision, shipping.tool) == ("policy:house-addresses", "approve",
                                                                       "ship_order")
    [refused] = service.decisions(thread_id=denied, viewer=ALICE)
    assert (refused.decided_by, refused.decision, refused.message) == (
        "policy:no-po-boxes", "reject", "We never ship to PO boxes.")
    assert shipping.applied_at and refused.applied_at
    assert shipped(effects) == ["4242|1 Main St"]  # the server's own tool ran for the approved thread only
    assert items_of(service, approved) == [] and items_of(service, denied) == []
    assert remote.snapshot(approved).interrupts == [] and remote.snapshot(denied).interrupts == []


def test_a_down_deployment_is_named_with_the_reason_and_the_others_keep_working(store, server, remote, effects):
    service = app(store, server, staging=f"http://127.0.0.1:{free_port()}")
    thread_id = pause(remote)
    service.poll_deployments()
    health = {h.name: h for h in service.deployment_health()}
    assert health["prod"].status == "ok" and health["staging"].status == "down"
    assert "Deployment 'staging'" in health["staging"].error and "unreachable" in health["staging"].error
    assert thread_id in [i.thread_id for i in service.list_pending(viewer=ALICE)]


def test_a_decision_while_the_deployment_is_unreachable_stays_undelivered(store, server, remote, effects):
    service = app(store, server)
    thread_id = pause(remote)
    [item] = items_of(service, thread_id)
    service.remotes["prod"] = Remote(Deployment("prod", f"http://127.0.0.1:{free_port()}"))  # the server is gone
    with pytest.raises(DeploymentUnavailable):  # the item cannot even be read: nothing is recorded
        service.decide(thread_id, item.interrupt_id, APPROVE, ALICE)
    assert service.decisions(viewer=ALICE) == []
    service.remotes["prod"] = remote
    recorded = service.record_decision(thread_id, item.interrupt_id, APPROVE, ALICE)  # recorded, then the server
    service.remotes["prod"] = Remote(Deployment("prod", f"http://127.0.0.1:{free_port()}"))  # goes down
    record = service.deliver_decision(recorded.decision_id)
    assert record.applied_at is None and "unreachable" in record.delivery_error
    assert shipped(effects) == []

    service.remotes["prod"] = remote  # back
    service.db.execute("UPDATE decisions SET next_delivery_at = NULL")
    assert service.deliver_due() == 1
    assert service.decisions(viewer=ALICE)[0].applied_at and shipped(effects) == ["42|1 Main St"]


@pytest.fixture
def http(store: Store, server: tuple[str, Path]) -> Iterator[tuple[ApprovalService, TestClient]]:
    service = app(store, server)
    _, secret = api_tokens.create_token(service.db, "alice")
    with TestClient(Starlette(routes=api_routes(lambda: service)), headers={"Authorization": f"Bearer {secret}"}) as c:
        yield service, c


@pytest.mark.parametrize(("decision", "expected"), [
    ({"type": "approve"}, ["42|1 Main St"]),
    ({"type": "edit", "edited_action": {"name": "ship_order", "args": {"order_id": "42", "address": "9 Elm St"}}},
     ["42|9 Elm St"]),
    ({"type": "reject", "message": "No stock"}, []),
    ({"type": "respond", "message": "Ask the customer first"}, []),
])
def test_the_api_decides_a_deployments_interrupt_and_a_stale_second_decision_is_409(http, remote, effects,
                                                                                     decision, expected):
    service, client = http
    thread_id = pause(remote)
    [item] = items_of(service, thread_id)
    listed = [i for i in client.get("/api/approvals").json()["items"] if i["thread_id"] == thread_id]
    assert [(i["deployment"], i["graph"], i["requester"]) for i in listed] == [("prod", "shipper", "dave")]
    answer = client.post(f"/api/approvals/{thread_id}/{item.interrupt_id}/decision", json={"decisions": [decision]})
    assert answer.status_code == 200 and answer.json()["applied_at"], answer.text
    assert shipped(effects) == expected
    again = client.post(f"/api/approvals/{thread_id}/{item.interrupt_id}/decision", json=APPROVE)
    assert again.status_code == 409 and again.json()["decided_by"] == "alice"
    assert client.get(f"/api/approvals/{thread_id}/{item.interrupt_id}").json()["status"] == "decided"


def test_two_replicas_polling_one_deployment_index_each_interrupt_once_and_apply_each_decision_once(
        postgres_url, server, remote, effects, monkeypatch):
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # count approval.pending events
    stores = [open_store(postgres_url) for _ in range(2)]
    try:
        replicas = [app(s, server) for s in stores]
        threads = [pause(remote, f"Ship order {n} to 1 Main St") for n in (1, 2, 3)]
        start = threading.Barrier(2)

        def poll(service: ApprovalService) -> None:
            start.wait()
            for _ in range(3):
                service.poll_deployments()
                service.poll_deployment("prod")  # even a replica ignoring the lease indexes nothing twice

        workers = [threading.Thread(target=poll, args=(r,)) for r in replicas]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        rows = stores[0].db.query("SELECT body FROM outbox WHERE event = 'approval.pending'")
        indexed = [json.loads(r["body"])["thread_id"] for r in rows]
        assert sorted(t for t in indexed if t in threads) == sorted(threads)  # once each
        items = [i for i in replicas[1].list_pending(viewer=ALICE) if i.thread_id in threads]
        assert sorted(i.thread_id for i in items) == sorted(threads)

        outcomes: list[str] = []

        def decide(service: ApprovalService, item) -> None:
            start.wait()
            try:
                service.decide(item.thread_id, item.interrupt_id, APPROVE, ALICE)
                outcomes.append("applied")
            except AlreadyDecided:
                outcomes.append("already decided")

        for item in items:
            both = [threading.Thread(target=decide, args=(r, item)) for r in replicas]
            for t in both:
                t.start()
            for t in both:
                t.join(60)
        assert sorted(outcomes) == ["already decided"] * 3 + ["applied"] * 3
        assert sorted(shipped(effects)) == ["1|1 Main St", "2|1 Main St", "3|1 Main St"]
    finally:
        for s in stores:
            s.close()
