"""MCP tools that ask a person: a real MCP server (examples/mcp_server.py, the official `mcp` SDK) and a real
`create_agent` + `MCPAdapter` agent (examples/mcp_agent.py, an async context manager factory), run by a worker on
the app's database, answered through the one decision command and resumed with `ainvoke` by the app.

What the tools did is read back from the `mcp_actions` table their server writes, so "the tool got exactly that
content, once" is checked where the tool put it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from conftest import ALICE, BOB, CAROL
from foreign_graphs import factory_events
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from starlette.applications import Starlette
from starlette.testclient import TestClient

from approvals.audit.chain import entries_of, stored_entries
from approvals.core.actors import Actor
from approvals.core.errors import AwaitingApprovals, NotAllowed, NotInGroup, UnregisteredGraph
from approvals.core.hitl import InvalidDecision
from approvals.http.api import api_routes
from approvals.identity import api_tokens
from approvals.service.facade import ApprovalService
from approvals.service.history import to_csv
from approvals.service.policy import PolicySource
from approvals.sources.async_graphs import invoke_graph, runs_async
from approvals.sources.discovery import discover_all
from approvals.sources.registry import load_registry
from approvals.store.schema import Store
from examples import worker
from examples.mcp_server import recorded_actions

PURGE, MOVE, CONNECT = "Purge the archived orders in eu", "Move 20 units of SKU-7 to Lyon", "Connect the crm account"
CONFIRM_KEY = "examples.mcp_server:ask_purge_confirmation"
CONTENT = {"confirm": True, "reason": "older than the retention", "keep_days": 90, "notify": "ops@example.com"}


@pytest.fixture
def app(store: Store, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApprovalService]:
    """The app's service with langgraph.json's graphs; the worker and the MCP tools write to the test's database."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("APPROVAL_GRAPHS", raising=False)
    service = ApprovalService(store, registry=load_registry(env=""))
    yield service
    service.registry.close()


def ask(app: ApprovalService, text: str, requester: str = "carol", thread_id: str = "t-1") -> tuple[str, str]:
    """The worker runs the agent until the MCP tool asks; the item the app found for it."""
    worker.run("warehouse", text, thread_id, requester)
    discover_all(app)
    [item] = [i for i in app.list_pending(viewer=ALICE) if i.thread_id == thread_id]
    return thread_id, item.interrupt_id


def answer(key: str, action: str, content: dict | None = None) -> dict:
    return {"responses": {key: {"action": action, **({"content": content} if content is not None else {})}}}


def tool_result(app: ApprovalService, thread_id: str) -> str:
    return [m for m in app.messages(thread_id, viewer=ALICE) if m.type == "tool"][-1].text


def test_the_queue_shows_the_mcp_tool_and_the_servers_message(app):
    ask(app, PURGE)
    [item] = app.list_pending(viewer=ALICE)
    assert (item.kind, item.tool, item.graph, item.requester) == ("mcp_elicitation", "purge_orders", "warehouse",
                                                                   "carol")
    assert item.args_summary == "Delete every archived order in eu? This cannot be undone."
    [request] = app.pending_approval(item.thread_id, viewer=ALICE).review.elicitation
    assert (request.key, request.mode) == (CONFIRM_KEY, "form")
    assert request.schema["required"] == ["confirm", "reason"]


def test_accept_gives_the_tool_exactly_that_content_once(app):
    thread_id, interrupt_id = ask(app, PURGE)
    record = app.decide(thread_id, interrupt_id, answer(CONFIRM_KEY, "accept", CONTENT), ALICE)
    assert (record.decision, record.tool) == ("accept", "purge_orders") and record.applied_at
    app.deliver_decision(record.decision_id)  # a repeat (recovery) changes nothing
    assert recorded_actions() == [("purge_orders", {"region": "eu", **CONTENT})]
    assert tool_result(app, thread_id) == "Purged the archived orders of eu, keeping the last 90 days."
    assert app.list_pending(viewer=ALICE) == []
    assert "reason=older than the retention" in record.message  # history, the CSV and the audit show the answer
    assert "reason=older than the retention" in to_csv(app.decisions(viewer=ALICE))


def test_decline_lets_the_call_go_on_without_acting(app):
    thread_id, interrupt_id = ask(app, PURGE)
    record = app.decide(thread_id, interrupt_id, answer(CONFIRM_KEY, "decline"), ALICE)
    assert record.decision == "decline" and record.applied_at
    assert recorded_actions() == []
    assert tool_result(app, thread_id) == "Not purged: the reviewer declined to purge eu."


def test_cancel_abandons_the_call_and_the_agent_asks_once_more(app):
    thread_id, interrupt_id = ask(app, PURGE)
    record = app.decide(thread_id, interrupt_id, answer(CONFIRM_KEY, "cancel"), ALICE)
    assert record.decision == "cancel" and record.applied_at
    [again] = app.list_pending(viewer=ALICE)
    assert (again.thread_id, again.tool) == (thread_id, "purge_orders") and again.interrupt_id != interrupt_id
    assert recorded_actions() == []
    app.decide(thread_id, again.interrupt_id, answer(CONFIRM_KEY, "accept", CONTENT), ALICE)
    assert recorded_actions() == [("purge_orders", {"region": "eu", **CONTENT})]


def test_two_requests_in_one_round_are_answered_together(app):
    thread_id, interrupt_id = ask(app, MOVE)
    requests = app.pending_approval(thread_id, viewer=ALICE).review.elicitation
    assert [r.message for r in requests] == ["Move 20 units of SKU-7 to Lyon: does the stock manager approve?",
                                             "Which carrier takes the stock to Lyon?"]
    sign_off, carrier = {"approved": True, "max_units": 50}, {"carrier": "rail"}
    response = {"responses": {requests[0].key: {"action": "accept", "content": sign_off},
                              requests[1].key: {"action": "accept", "content": carrier}}}
    with pytest.raises(InvalidDecision, match="missing"):
        app.decide(thread_id, interrupt_id, answer(requests[0].key, "accept", sign_off), ALICE)
    app.decide(thread_id, interrupt_id, response, ALICE)
    assert recorded_actions() == [("transfer_stock", {"sku": "SKU-7", "units": 20, "destination": "Lyon",
                                                      **sign_off, **carrier})]


def test_a_url_request_is_shown_with_its_host_and_accepted_without_content(app):
    thread_id, interrupt_id = ask(app, CONNECT)
    [request] = app.pending_approval(thread_id, viewer=ALICE).review.elicitation
    assert (request.mode, request.url) == ("url", "https://accounts.example.com/oauth/authorize?service=crm")
    assert request.host == "accounts.example.com" and request.linkable
    app.decide(thread_id, interrupt_id, {"responses": {"sign_in": {"action": "accept"}}}, ALICE)
    assert recorded_actions() == [("connect_account", {"service": "crm"})]
    assert tool_result(app, thread_id) == "Connected crm."


@pytest.mark.parametrize(("content", "reason"), [
    ({**CONTENT, "confirm": "yes"}, "'yes' is not of type 'boolean'"),
    ({"confirm": True}, "'reason' is a required property"),
    ({**CONTENT, "keep_days": 999}, "999 is greater than the maximum of 365"),
    ({**CONTENT, "notify": "not an address"}, "is not a 'email'"),
], ids=["wrong-type", "missing-required", "out-of-bounds", "bad-format"])
def test_an_answer_that_breaks_the_form_is_refused_and_nothing_is_saved(app, content, reason):
    thread_id, interrupt_id = ask(app, PURGE)
    with pytest.raises(InvalidDecision, match=reason):
        app.decide(thread_id, interrupt_id, answer(CONFIRM_KEY, "accept", content), ALICE)
    assert app.decisions(viewer=ALICE) == [] and recorded_actions() == []
    assert [i.interrupt_id for i in app.list_pending(viewer=ALICE)] == [interrupt_id]


def test_a_choice_outside_the_enum_or_an_unknown_action_is_refused(app):
    thread_id, interrupt_id = ask(app, MOVE)
    first, second = (r.key for r in app.pending_approval(thread_id, viewer=ALICE).review.elicitation)
    for bad in ({first: {"action": "accept", "content": {"approved": True, "max_units": 5}},
                 second: {"action": "accept", "content": {"carrier": "zeppelin"}}},
                {first: {"action": "maybe"}, second: {"action": "decline"}},
                {first: {"action": "decline"}, second: {"action": "decline"}, "other": {"action": "decline"}}):
        with pytest.raises(InvalidDecision):
            app.decide(thread_id, interrupt_id, {"responses": bad}, ALICE)
    assert app.decisions(viewer=ALICE) == [] and recorded_actions() == []


POLICY = """
[[rules]]
name = "purges-by-legal"
tool = "purge_orders"
when = "args.message.contains('archived')"
groups = ["legal"]

[[rules]]
name = "sign-ins-by-the-requester"
tool = "connect_account"
decide = "self"

[[rules]]
name = "stock-moves-four-eyes"
tool = "transfer_stock"
approvers = 2
"""


@pytest.fixture
def ruled(app: ApprovalService, tmp_path: Path) -> ApprovalService:
    path = tmp_path / "approvals.toml"
    path.write_text(POLICY)
    app.policy = PolicySource(path)
    return app


def test_policy_rules_match_the_mcp_tool_and_its_message(ruled):
    thread_id, interrupt_id = ask(ruled, PURGE)
    with pytest.raises(NotInGroup, match="legal"):
        ruled.decide(thread_id, interrupt_id, answer(CONFIRM_KEY, "accept", CONTENT), ALICE)
    legal = Actor("lee", "reviewer", groups=frozenset({"legal"}))
    assert ruled.decide(thread_id, interrupt_id, answer(CONFIRM_KEY, "accept", CONTENT), legal).decided_by == "lee"


def test_a_self_rule_lets_the_requester_answer_and_a_review_rule_does_not(ruled):
    thread_id, interrupt_id = ask(ruled, CONNECT)
    assert ruled.decide(thread_id, interrupt_id, {"responses": {"sign_in": {"action": "accept"}}}, CAROL).applied_at
    thread_id, interrupt_id = ask(ruled, PURGE, thread_id="t-2")
    with pytest.raises(NotAllowed):
        ruled.decide(thread_id, interrupt_id, answer(CONFIRM_KEY, "accept", CONTENT), CAROL)
    assert ruled.decisions(viewer=ALICE)[0].thread_id == "t-1"  # only the sign-in was answered


def test_two_approvers_must_give_the_same_answer(ruled):
    thread_id, interrupt_id = ask(ruled, MOVE)
    first, second = (r.key for r in ruled.pending_approval(thread_id, viewer=ALICE).review.elicitation)
    response = {"responses": {first: {"action": "accept", "content": {"approved": True, "max_units": 50}},
                              second: {"action": "accept", "content": {"carrier": "air"}}}}
    with pytest.raises(AwaitingApprovals):
        ruled.decide(thread_id, interrupt_id, response, ALICE)
    assert recorded_actions() == []
    pending = ruled.pending_approval(thread_id, viewer=BOB)
    assert ruled.approved_so_far(pending) == response  # the next approver's form starts from it
    other = {"responses": {**response["responses"], second: {"action": "accept", "content": {"carrier": "road"}}}}
    with pytest.raises(AwaitingApprovals):  # a different answer starts the count again, with bob's
        ruled.decide(thread_id, interrupt_id, other, BOB)
    assert ruled.approved_so_far(pending) == other and recorded_actions() == []
    record = ruled.decide(thread_id, interrupt_id, other, ALICE)
    assert record.applied_at and [d["carrier"] for tool, d in recorded_actions()] == ["road"]


# -- what langgraph.json can name ----------------------------------------------------------------------------


def test_async_factories_are_opened_once_kept_open_and_closed_with_the_registry():
    factory_events.clear()
    registry = load_registry(Path("no-langgraph.json"), env="in_context=foreign_graphs:question_in_context,"
                                                         "made_async=foreign_graphs:question_made_async")
    saver = InMemorySaver()
    for name in ("in_context", "made_async"):
        graph = registry.load(name, saver)
        assert registry.load(name, saver) is graph and runs_async(graph)
        config = {"configurable": {"thread_id": f"t-{name}"}}
        [waiting] = invoke_graph(graph, {}, config)["__interrupt__"]
        assert invoke_graph(graph, Command(resume={waiting.id: "yes"}), config) == {"answer": "yes"}
    assert factory_events == ["opened for in_context"]  # called with a config, still open while the graph is used
    registry.close()
    assert factory_events == ["opened for in_context", "closed"]


def test_a_factory_that_gives_no_graph_is_refused_with_a_reason():
    registry = load_registry(Path("no-langgraph.json"), env="broken=foreign_graphs:factory_events")
    with pytest.raises(UnregisteredGraph, match="list"):
        registry.load("broken", InMemorySaver())


def test_the_json_api_takes_the_answer_and_its_openapi_document_describes_it(app):
    thread_id, interrupt_id = ask(app, PURGE)
    _, secret = api_tokens.create_token(app.db, "alice")
    url = f"/api/approvals/{thread_id}/{interrupt_id}/decision"
    with TestClient(Starlette(routes=api_routes(lambda: app)), headers={"Authorization": f"Bearer {secret}"}) as http:
        document = http.get("/api/openapi.json").json()
        listed = http.get("/api/approvals").json()["items"]
        refused = http.post(url, json=answer(CONFIRM_KEY, "accept", {"confirm": True}))
        assert app.decisions(viewer=ALICE) == []
        accepted = http.post(url, json=answer(CONFIRM_KEY, "accept", CONTENT))
    assert [(i["kind"], i["tool"]) for i in listed] == [("mcp_elicitation", "purge_orders")]
    assert refused.status_code == 422 and "'reason' is a required property" in refused.json()["detail"]
    assert accepted.status_code == 200 and accepted.json()["decision"] == "accept"
    assert recorded_actions() == [("purge_orders", {"region": "eu", **CONTENT})]
    body = document["paths"]["/api/approvals/{thread_id}/{interrupt_id}/decision"]["post"]["requestBody"]
    assert {"$ref": "#/components/schemas/ElicitationBody"} in body["content"]["application/json"]["schema"]["oneOf"]
    schema = {**document["components"]["schemas"]["ElicitationBody"], "components": document["components"]}
    jsonschema.validate(answer(CONFIRM_KEY, "accept", CONTENT), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer(CONFIRM_KEY, "maybe"), schema)


def test_the_answer_is_chained_in_the_audit_and_sent_to_the_webhook(app, store, monkeypatch):
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # queued in the outbox, not sent here
    thread_id, interrupt_id = ask(app, PURGE)
    shown = app.pending_approval(thread_id, viewer=ALICE)
    app.decide(thread_id, interrupt_id, answer(CONFIRM_KEY, "accept", CONTENT), ALICE,
               request_digest=shown.request_digest)
    [decision] = [e for e in entries_of(stored_entries(store.db)) if e.get("type") == "decision"]
    assert (decision["decision"], decision["tool"], decision["request_digest"]) == ("accept", "purge_orders",
                                                                                   shown.request_digest)
    assert decision["approved"] == answer(CONFIRM_KEY, "accept", CONTENT)
    events = [json.loads(r["body"]) for r in store.db.query("SELECT body FROM outbox ORDER BY created_at")]
    kinds = {e["event"]: e for e in events if e["event"].startswith("approval.")}
    assert kinds["approval.pending"]["tool"] == kinds["approval.decided"]["tool"] == "purge_orders"
    assert kinds["approval.decided"]["decided_by"] == "alice"
