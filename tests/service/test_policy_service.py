"""The approval policy enforced by the service, on SQLite and PostgreSQL: first match, every outcome, four-eyes
(two replicas at once, reject after one approval, an edit after one), groups, escalation, a foreign graph."""

from __future__ import annotations

import json
import multiprocessing
from datetime import datetime, timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from conftest import ALICE, BOB, CAROL
from langchain_core.messages import ToolMessage

from approvals.core.actors import Actor
from approvals.core.errors import (
    AlreadyApproved,
    AlreadyDecided,
    ApprovalError,
    AwaitingApprovals,
    NotAllowed,
    NotInGroup,
)
from approvals.core.records import QueueItem
from approvals.service import escalation, expiry
from approvals.service.facade import ApprovalService
from approvals.service.policy import PolicySource
from approvals.sources.local_graphs import thread_config
from approvals.sources.registry import load_registry
from approvals.store.schema import Store, open_store

FINANCE_ALICE = Actor("alice", "reviewer", groups=frozenset({"finance"}))
SUPPORT_BOB = Actor("bob", "reviewer", groups=frozenset({"support"}))
DAVE = Actor("dave", "reviewer", groups=frozenset({"finance"}))
APPROVE = {"decisions": [{"type": "approve"}]}
REJECT = {"decisions": [{"type": "reject", "message": "No."}]}
SPAWN = multiprocessing.get_context("spawn")
TIMEOUT_S = 120

POLICY = """
[[rules]]
name = "never-delete"
tool = "delete_customer"
decide = "deny"
message = "Agents never delete customers."

[[rules]]
name = "big-refunds"
tool = "issue_refund"
when = "args.amount > 1000.0"
approvers = 2

[[rules]]
name = "small-refunds"
tool = "issue_refund"
when = "args.amount <= 100.0"
decide = "self"

[[rules]]
name = "finance-refunds"
tool = "issue_refund"
groups = ["finance"]
remind_after_minutes = 10
reassign_after_minutes = 20
reassign_to = ["support"]
expire_after_minutes = 30
expire_message = "Nobody in finance or support decided in time."

[[rules]]
name = "partner-emails"
tool = "send_email"
when = "args.to.endsWith('@partner.example')"
decide = "approve"

[[rules]]
name = "discounts"
tool = "set_discount"
when = "args.percent <= 10.0"
decide = "approve"
"""


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "approvals.toml"
    path.write_text(POLICY)
    return path


@pytest.fixture
def app(store: Store, policy_file: Path) -> ApprovalService:
    return ApprovalService(store, registry=load_registry(env="standard_request=foreign_graphs:standard_request"),
                           policy=PolicySource(policy_file))


def ask(service: ApprovalService, text: str, actor: Actor = CAROL) -> QueueItem:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, actor)
    return next(item for item in service.list_pending(viewer=ALICE) if item.thread_id == thread_id)


def tool_results(service: ApprovalService, thread_id: str) -> list[ToolMessage]:
    return [m for m in service.messages(thread_id, viewer=ALICE) if isinstance(m, ToolMessage)]


def approval_rows(service: ApprovalService, item: QueueItem) -> list[dict]:
    return service.db.query("SELECT approver, generation FROM approvals WHERE thread_id = ? AND interrupt_id = ?"
                            " ORDER BY approver", (item.thread_id, item.interrupt_id))


def test_the_first_matching_rule_is_on_the_queue_item_and_on_the_decision(app):
    small, big, medium = ask(app, "Refund order 1 for $50"), ask(app, "Refund order 2 for $5000"), \
        ask(app, "Refund order 3 for $500")
    assert [(i.rule, i.policy, i.approvers) for i in (small, big, medium)] == [
        ("small-refunds", "self", 1), ("big-refunds", "reviewer", 2), ("finance-refunds", "reviewer", 1)]
    record = app.decide(small.thread_id, small.interrupt_id, APPROVE, CAROL)
    version = app.policy.current().version
    row = app.db.query("SELECT rule, policy_version FROM decisions WHERE decision_id = ?", (record.decision_id,))[0]
    assert row == {"rule": "small-refunds", "policy_version": version}


def test_self_lets_the_requester_approve_and_review_does_not(app):
    small, medium = ask(app, "Refund order 1 for $50"), ask(app, "Refund order 3 for $500")
    app.decide(small.thread_id, small.interrupt_id, APPROVE, CAROL)
    assert "Refunded $50.00" in tool_results(app, small.thread_id)[0].content
    with pytest.raises(NotAllowed, match="Only a reviewer"):
        app.record_decision(medium.thread_id, medium.interrupt_id, APPROVE, CAROL)


def test_an_edit_that_makes_a_self_request_bigger_needs_the_stricter_rule(app):
    small = ask(app, "Refund order 1 for $50")
    edit = {"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund",
                                                             "args": {"order_id": "1", "amount": 5000}}}]}
    with pytest.raises(NotAllowed, match="Only a reviewer"):
        app.record_decision(small.thread_id, small.interrupt_id, edit, CAROL)
    assert app.decision(small.thread_id, small.interrupt_id, viewer=ALICE) is None


def test_groups_only_a_reviewer_in_the_rules_group_decides_and_the_refusal_names_it(app):
    medium = ask(app, "Refund order 3 for $500")
    with pytest.raises(NotInGroup, match="Only a reviewer in finance can decide this request"):
        app.record_decision(medium.thread_id, medium.interrupt_id, APPROVE, SUPPORT_BOB)
    with pytest.raises(NotInGroup):
        app.record_decision(medium.thread_id, medium.interrupt_id, APPROVE, BOB)  # no groups at all
    assert app.decision(medium.thread_id, medium.interrupt_id, viewer=ALICE) is None
    assert app.decide(medium.thread_id, medium.interrupt_id, APPROVE, FINANCE_ALICE).decided_by == "alice"


def test_deny_and_approve_are_decided_by_the_policy_itself_at_once(app):
    thread_id = app.new_thread_id()
    app.send_message(thread_id, "Delete customer 77", CAROL)
    [denied] = app.decisions(thread_id=thread_id, viewer=ALICE)
    assert (denied.decided_by, denied.decision, denied.message) == (
        "policy:never-delete", "reject", "Agents never delete customers.")
    assert tool_results(app, thread_id)[0].content == "Agents never delete customers."
    emailed = app.new_thread_id()
    app.send_message(emailed, "Email jo@partner.example about the delay", CAROL)
    [approved] = app.decisions(thread_id=emailed, viewer=ALICE)
    assert (approved.decided_by, approved.decision) == ("policy:partner-emails", "approve")
    assert "Email sent to jo@partner.example" in tool_results(app, emailed)[0].content
    assert app.count_pending(viewer=ALICE) == 0
    other = ask(app, "Email jo@example.com about the delay")
    assert (other.rule, other.policy) == ("default", "reviewer")


def test_a_policy_auto_decision_for_a_foreign_graph(app):
    graph = app.graph_for("standard_request")
    graph.invoke({}, thread_config("f-1", "standard_request", "dave"), durability="sync")
    app.sync_index("f-1")
    [decided] = app.decisions(thread_id="f-1", viewer=ALICE)
    assert (decided.decided_by, decided.decision, decided.tool) == ("policy:discounts", "approve", "set_discount")
    assert decided.applied_at and app.pending_approvals("f-1", viewer=ALICE) == []
    assert graph.get_state({"configurable": {"thread_id": "f-1"}}).values["answer"] == {
        "decisions": [{"type": "approve"}]}


def test_four_eyes_counts_distinct_reviewers_never_the_requester_nor_the_same_one_twice(app):
    big = ask(app, "Refund order 2 for $5000", ALICE)
    with pytest.raises(NotAllowed, match="cannot approve your own request"):
        app.record_decision(big.thread_id, big.interrupt_id, APPROVE, ALICE)
    with pytest.raises(AwaitingApprovals, match=r"1 of 2 approvals \(bob\)") as waiting:
        app.decide(big.thread_id, big.interrupt_id, APPROVE, BOB)
    assert waiting.value.approved_by == ("bob",) and waiting.value.required == 2
    with pytest.raises(AlreadyApproved):
        app.decide(big.thread_id, big.interrupt_id, APPROVE, BOB)
    [item] = app.list_pending(viewer=BOB)
    assert item.progress == "1 of 2 approvals (bob)"
    assert app.decision(big.thread_id, big.interrupt_id, viewer=BOB) is None and tool_results(app, big.thread_id) == []
    record = app.decide(big.thread_id, big.interrupt_id, APPROVE, DAVE)
    assert (record.decided_by, record.decision) == ("dave", "approve") and record.applied_at
    assert [r["approver"] for r in approval_rows(app, big)] == ["bob", "dave"]
    assert len(app.store.ledger.entries(big.thread_id)) == 1 and app.count_pending(viewer=ALICE) == 0


def test_one_reject_after_one_approval_resolves_the_item(app):
    big = ask(app, "Refund order 2 for $5000")
    with pytest.raises(AwaitingApprovals):
        app.decide(big.thread_id, big.interrupt_id, APPROVE, ALICE)
    record = app.decide(big.thread_id, big.interrupt_id, REJECT, BOB)
    assert (record.decided_by, record.decision) == ("bob", "reject")
    assert app.store.ledger.entries(big.thread_id) == [] and app.count_pending(viewer=ALICE) == 0
    with pytest.raises(AlreadyDecided, match="Already decided by bob"):
        app.decide(big.thread_id, big.interrupt_id, APPROVE, DAVE)
    assert len(approval_rows(app, big)) == 1


def test_an_edit_after_one_approval_resets_the_count_to_the_editor(app):
    big = ask(app, "Refund order 2 for $5000")
    with pytest.raises(AwaitingApprovals):
        app.decide(big.thread_id, big.interrupt_id, APPROVE, ALICE)
    edit = {"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund",
                                                             "args": {"order_id": "2", "amount": 4000}}}]}
    with pytest.raises(AwaitingApprovals, match=r"1 of 2 approvals \(bob\)"):
        app.decide(big.thread_id, big.interrupt_id, edit, BOB)
    record = app.decide(big.thread_id, big.interrupt_id, APPROVE, ALICE)  # alice approves the edited refund
    assert (record.decided_by, record.decision, record.edit_diff) == (
        "alice", "edit", [{"tool": "issue_refund", "changes": {"amount": [5000.0, 4000]}}])
    [entry] = app.store.ledger.entries(big.thread_id)
    assert json.loads(entry["args"])["amount"] == 4000
    assert "Refunded $4000.00" in tool_results(app, big.thread_id)[0].content
    assert [(r["approver"], r["generation"]) for r in approval_rows(app, big)] == [("alice", 2), ("bob", 2)]


def approve_as(url: str, policy_path: str, reviewer: str, item: tuple[str, str], start: Barrier,
               outcomes: multiprocessing.Queue) -> None:
    """A replica of the app: its own store and service on the shared database, approving when both are ready."""
    store = open_store(url)
    service = ApprovalService(store, policy=PolicySource(Path(policy_path)))
    start.wait(TIMEOUT_S)
    try:
        service.decide(*item, APPROVE, Actor(reviewer, "reviewer"))
        outcomes.put((reviewer, "applied"))
    except ApprovalError as error:
        outcomes.put((reviewer, type(error).__name__))
    finally:
        store.close()


def test_two_replicas_approving_a_four_eyes_item_at_once_resume_it_exactly_once(app, db_url, policy_file):
    big = ask(app, "Refund order 2 for $5000")
    start, outcomes = SPAWN.Barrier(2), SPAWN.Queue()
    workers = [SPAWN.Process(target=approve_as, args=(db_url, str(policy_file), name, (big.thread_id, big.interrupt_id),
                                                      start, outcomes)) for name in ("alice", "bob")]
    for worker in workers:
        worker.start()
    results = dict(outcomes.get(timeout=TIMEOUT_S * 2) for _ in workers)
    for worker in workers:
        worker.join(TIMEOUT_S)
    assert sorted(results.values()) == ["AwaitingApprovals", "applied"], results
    decision = app.decision(big.thread_id, big.interrupt_id, viewer=ALICE)
    assert results[decision.decided_by] == "applied" and decision.applied_at
    assert len(approval_rows(app, big)) == 2
    assert len(app.store.ledger.entries(big.thread_id)) == 1 and len(tool_results(app, big.thread_id)) == 1


def test_escalation_reminds_then_reassigns_then_expires_as_the_policy(app, monkeypatch):
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "http://127.0.0.1:9/hook")  # events are queued, never sent here
    medium = ask(app, "Refund order 3 for $500")
    created = datetime.fromisoformat(medium.created_at)
    assert expiry.expire_overdue(app, None, created + timedelta(minutes=5)).decided == []
    expiry.expire_overdue(app, None, created + timedelta(minutes=11))
    expiry.expire_overdue(app, None, created + timedelta(minutes=12))  # once only
    events = [json.loads(r["body"]) for r in app.db.query("SELECT body FROM outbox ORDER BY created_at")]
    reminders = [e for e in events if e["event"] == "approval.reminder"]
    assert len(reminders) == 1 and reminders[0]["age"] == "11 min" and reminders[0]["thread_id"] == medium.thread_id
    with pytest.raises(NotInGroup):
        app.record_decision(medium.thread_id, medium.interrupt_id, APPROVE, SUPPORT_BOB)
    expiry.expire_overdue(app, None, created + timedelta(minutes=21))
    assert [s.step for s in escalation.steps(app.db, medium.thread_id)] == ["reassigned", "reminder"]
    with pytest.raises(NotInGroup, match="in support"):
        app.record_decision(medium.thread_id, medium.interrupt_id, APPROVE, FINANCE_ALICE)
    result = expiry.expire_overdue(app, None, created + timedelta(minutes=31))
    [expired] = result.decided
    assert (expired.decided_by, expired.decision, expired.message) == (
        "policy:finance-refunds", "reject", "Nobody in finance or support decided in time.")


def test_the_default_ttl_still_expires_items_whose_rule_sets_no_expiry(app):
    big = ask(app, "Refund order 2 for $5000")
    result = expiry.expire_overdue(app, 60, datetime.fromisoformat(big.created_at) + timedelta(minutes=61))
    assert [r.decided_by for r in result.decided] == ["system (expired)"]


def test_a_changed_policy_file_is_used_for_the_next_decision(app, policy_file):
    medium = ask(app, "Refund order 3 for $500")
    policy_file.write_text(POLICY.replace('groups = ["finance"]', 'groups = ["support"]'))
    app.policy.reload()
    assert app.decide(medium.thread_id, medium.interrupt_id, APPROVE, SUPPORT_BOB).decided_by == "bob"
    row = app.db.query("SELECT policy_version FROM decisions")[0]
    assert row["policy_version"] == app.policy.current().version != ""


def test_a_reload_re_evaluates_the_queue_and_the_policy_decides_what_it_now_approves(app, policy_file):
    medium, big = ask(app, "Refund order 3 for $500"), ask(app, "Refund order 2 for $5000")
    policy_file.write_text(POLICY.replace('groups = ["finance"]', 'decide = "approve"')
                           .replace("approvers = 2", "approvers = 3"))
    app.policy.reload()
    assert app.follow_policy() == 1
    [decided] = app.decisions(thread_id=medium.thread_id, viewer=ALICE)
    assert (decided.decided_by, decided.decision) == ("policy:finance-refunds", "approve")
    [still] = app.list_pending(viewer=ALICE)
    assert (still.thread_id, still.approvers, still.progress) == (big.thread_id, 3, "0 of 3 approvals (none yet)")
    assert app.follow_policy() == 0  # once per version


def test_each_waiting_approval_is_a_webhook_event_saying_how_far_it_got(app, monkeypatch):
    monkeypatch.setenv("APPROVAL_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    big = ask(app, "Refund order 2 for $5000")
    with pytest.raises(AwaitingApprovals):
        app.decide(big.thread_id, big.interrupt_id, APPROVE, ALICE)
    events = [json.loads(r["body"]) for r in app.db.query("SELECT body FROM outbox")]
    [progress] = [e for e in events if e["event"] == "approval.progress"]
    assert progress["progress"] == "1 of 2 approvals (alice)" and progress["decided_by"] == "alice"
    assert "1 of 2 approvals (alice)" in progress["text"]
