"""The approvals service: starting threads, the queue index, compare-and-set decisions, policy, recovery."""

from __future__ import annotations

import re
import threading

import pytest
from conftest import ALICE, BOB, CAROL, GUEST

from approvals.core.errors import AlreadyDecided, InvalidThreadId, NotAllowed, NotPending, UnknownThread
from approvals.core.hitl import InvalidDecision
from approvals.core.visibility import QueueFilter
from approvals.identity.accounts import check_password
from approvals.service.facade import ApprovalService
from approvals.service.runner import BackgroundRunner
from graphs import build_graph
from graphs.models import ScriptedChatModel, scripted_reply

APPROVE = {"decisions": [{"type": "approve"}]}


def start(service: ApprovalService, text: str, actor=GUEST) -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, actor)
    return thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id


def test_a_request_appears_in_the_queue_with_what_a_reviewer_needs(service, refund_pending):
    thread_id, interrupt_id = refund_pending
    [item] = service.list_pending(viewer=ALICE)
    assert (item.thread_id, item.interrupt_id) == (thread_id, interrupt_id)
    assert (item.tool, item.requester, item.policy) == ("issue_refund", GUEST.name, "self")
    assert item.args_summary == "order_id=1234, amount=25.0"
    assert service.count_pending(viewer=ALICE) == 1
    assert service.recent_threads(viewer=GUEST)[0].awaiting_approval


def test_pending_approval_pairs_the_interrupt_with_the_annotated_message(service, refund_pending):
    thread_id, _ = refund_pending
    pending = service.pending_approval(thread_id, with_messages=True, viewer=ALICE)
    assert pending.payload_matches
    assert pending.request.action_requests[0].args == {"order_id": "1234", "amount": 25.0}
    assert [m.type for m in pending.messages] == ["human", "ai"]


def test_approve_applies_once_records_who_and_clears_the_queue(service, store, refund_pending):
    thread_id, interrupt_id = refund_pending
    record = service.decide(thread_id, interrupt_id, APPROVE, GUEST)

    assert (record.decision, record.decided_by, record.tool) == ("approve", GUEST.name, "issue_refund")
    assert record.applied_at is not None and record.waited_seconds >= 0
    assert [e["tool"] for e in store.ledger.entries(thread_id)] == ["issue_refund"]
    assert service.list_pending(viewer=ALICE) == [] and service.pending_approval(thread_id, viewer=ALICE) is None
    assert service.messages(thread_id, viewer=ALICE)[-1].content.startswith("Done: Refunded $25.00")


class FollowUpModel(ScriptedChatModel):
    """After a refund runs, proposes an email about it: a resume that stops at a second approval."""

    def _reply(self, messages):
        if messages[-1].type == "tool" and messages[-1].name == "issue_refund":
            return scripted_reply("Email jo@example.com about the refund")
        return super()._reply(messages)


def test_a_resume_that_stops_at_a_new_approval_puts_it_in_the_queue(store):
    service = ApprovalService(store, build_graph(store.checkpointer, FollowUpModel(), ledger=store.ledger))
    thread_id, refund = start(service, "Refund order 1234 for $25")
    service.decide(thread_id, refund, APPROVE, GUEST)
    email = service.pending_approval(thread_id, viewer=ALICE)
    assert email is not None and email.interrupt_id != refund
    assert [(i.thread_id, i.interrupt_id, i.tool) for i in service.list_pending(viewer=ALICE)] == [
        (thread_id, email.interrupt_id, "send_email")]
    service.decide(thread_id, email.interrupt_id, APPROVE, ALICE)
    assert service.list_pending(viewer=ALICE) == [] and service.pending_approval(thread_id, viewer=ALICE) is None
    assert [entry["tool"] for entry in store.ledger.entries(thread_id)] == ["issue_refund", "send_email"]


def test_a_second_decision_fails_with_who_decided_and_when(service, store, refund_pending):
    thread_id, interrupt_id = refund_pending
    first = service.decide(thread_id, interrupt_id, APPROVE, ALICE)

    with pytest.raises(AlreadyDecided, match=re.escape(f"Already decided by alice at {first.decided_at}")):
        service.decide(thread_id, interrupt_id, {"decisions": [{"type": "reject", "message": "no"}]}, BOB)
    assert len(store.ledger.entries(thread_id)) == 1
    assert len(service.decisions(thread_id=thread_id, viewer=ALICE)) == 1


@pytest.mark.usefixtures("db_url")  # on both backends: decisions at once, across connections
def test_concurrent_decisions_on_one_interrupt_apply_exactly_once(service, store, refund_pending):
    thread_id, interrupt_id = refund_pending
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def decide(actor) -> None:
        barrier.wait()
        try:
            service.decide(thread_id, interrupt_id, APPROVE, actor)
            outcomes.append("applied")
        except AlreadyDecided:
            outcomes.append("already decided")

    workers = [threading.Thread(target=decide, args=(a,)) for a in (ALICE, BOB, ALICE, BOB)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == ["already decided"] * 3 + ["applied"]
    assert len(store.ledger.entries(thread_id)) == 1


def test_reject_reaches_the_model_and_nothing_runs(service, store):
    thread_id, interrupt_id = start(service, "Delete customer 77", CAROL)
    reject = {"decisions": [{"type": "reject", "message": "Open orders"}]}
    record = service.decide(thread_id, interrupt_id, reject, ALICE)
    assert record.message == "Open orders"
    assert store.ledger.entries(thread_id) == []
    assert "Open orders" in service.messages(thread_id, viewer=ALICE)[-1].content


def test_edit_is_validated_recorded_with_a_diff_and_run_with_the_new_args(service, store, refund_pending):
    thread_id, interrupt_id = refund_pending
    edited = {"name": "issue_refund", "args": {"order_id": "1234", "amount": 20}}
    edit = {"decisions": [{"type": "edit", "edited_action": edited}]}
    record = service.decide(thread_id, interrupt_id, edit, GUEST)
    assert record.edit_diff == [{"tool": "issue_refund", "changes": {"amount": [25.0, 20.0]}}]
    assert "Refunded $20.00" in store.ledger.entries(thread_id)[0]["result"]


@pytest.mark.parametrize(
    "response",
    [
        {"decisions": []},
        {"decisions": [{"type": "approve"}, {"type": "approve"}]},
        {"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund", "args": {"amount": "lots"}}}]},
        {"verdict": "yes"},
        "approve",
    ],
)
def test_an_invalid_decision_is_refused_and_nothing_is_saved(service, store, refund_pending, response):
    thread_id, interrupt_id = refund_pending
    with pytest.raises(InvalidDecision):
        service.decide(thread_id, interrupt_id, response, GUEST)
    assert service.decisions(viewer=ALICE) == []
    assert service.pending_approval(thread_id, viewer=ALICE).interrupt_id == interrupt_id
    assert service.count_pending(viewer=ALICE) == 1
    assert store.ledger.entries() == []


def test_reviewer_only_requests_need_a_reviewer_other_than_the_requester(service):
    thread_id, interrupt_id = start(service, "Refund order 9 for $250", CAROL)
    with pytest.raises(NotAllowed, match="Only a reviewer"):
        service.decide(thread_id, interrupt_id, APPROVE, CAROL)
    with pytest.raises(UnknownThread, match="There is no conversation"):  # not even visible to someone else
        service.decide(thread_id, interrupt_id, APPROVE, GUEST)
    assert service.decide(thread_id, interrupt_id, APPROVE, ALICE).decided_by == "alice"


def test_a_reviewer_cannot_approve_their_own_reviewer_only_request(service):
    thread_id, interrupt_id = start(service, "Email jo@example.com about the delay", ALICE)
    with pytest.raises(NotAllowed, match="cannot approve your own request"):
        service.decide(thread_id, interrupt_id, APPROVE, ALICE)
    assert service.decide(thread_id, interrupt_id, APPROVE, BOB).decided_by == "bob"


def test_self_approval_is_for_the_requester_or_a_reviewer_only(service):
    thread_id, interrupt_id = start(service, "Refund order 5 for $10", CAROL)
    with pytest.raises(UnknownThread, match="There is no conversation"):
        service.decide(thread_id, interrupt_id, APPROVE, GUEST)
    assert service.decide(thread_id, interrupt_id, APPROVE, CAROL).decided_by == "carol"


def test_a_decision_on_an_interrupt_that_is_not_pending_is_refused(service, refund_pending):
    thread_id, _ = refund_pending
    with pytest.raises(NotPending):
        service.decide(thread_id, "not-the-current-interrupt", APPROVE, GUEST)
    assert service.decisions(viewer=ALICE) == []


@pytest.mark.parametrize("raw", ["", "../etc/passwd", "a b", "x" * 65, "<script>", None])
def test_malformed_thread_ids_are_refused_and_nothing_is_created(service, raw):
    with pytest.raises(InvalidThreadId):
        service.require_thread(raw, viewer=ALICE)
    with pytest.raises(InvalidThreadId):
        service.send_message(raw, "Refund order 1 for $5", GUEST)
    assert service.recent_threads(viewer=GUEST) == []


def test_unknown_thread_is_refused(service):
    with pytest.raises(UnknownThread, match="There is no conversation"):
        service.require_thread("0123abc", viewer=ALICE)
    with pytest.raises(UnknownThread):
        service.decide("0123abc", "x", APPROVE, ALICE)
    assert service.recent_threads(viewer=GUEST) == []


def test_no_new_message_while_an_approval_is_pending(service, refund_pending):
    thread_id, _ = refund_pending
    with pytest.raises(NotPending, match="waiting for an approval"):
        service.send_message(thread_id, "Refund order 2 for $5", GUEST)
    assert len(service.messages(thread_id, viewer=ALICE)) == 2


def test_queue_is_oldest_first_and_filters_by_tool_policy_and_requester(service):
    refund, _ = start(service, "Refund order 1 for $5", CAROL)
    email, _ = start(service, "Email jo@example.com about the delay", GUEST)
    delete, _ = start(service, "Delete customer 77", CAROL)

    assert [i.thread_id for i in service.list_pending(viewer=ALICE)] == [refund, email, delete]
    assert [i.thread_id for i in service.list_pending(QueueFilter(tools=("send_email",)), viewer=ALICE)] == [email]
    assert [i.thread_id for i in service.list_pending(QueueFilter(policies=("reviewer",)), viewer=ALICE)] == [
        email, delete
    ]
    assert [i.thread_id for i in service.list_pending(QueueFilter(requesters=("carol",)), viewer=ALICE)] == [
        refund, delete
    ]
    assert service.count_pending(QueueFilter(requesters=("carol",), policies=("reviewer",)), viewer=ALICE) == 1
    assert [i.thread_id for i in service.list_pending(limit=1, offset=1, viewer=ALICE)] == [email]
    newest = service.list_pending(viewer=ALICE)[-1].created_at
    assert [i.thread_id for i in service.list_pending(QueueFilter(created_before=newest), viewer=ALICE)] == [
        refund, email
    ]


def test_reconcile_rebuilds_the_index_from_the_checkpoints(service, store):
    pending, interrupt_id = start(service, "Refund order 1 for $5", CAROL)
    done, done_interrupt = start(service, "Refund order 2 for $6", CAROL)
    service.decide(done, done_interrupt, APPROVE, CAROL)
    store.db.execute("DELETE FROM pending")
    store.db.execute("DELETE FROM threads")

    assert service.reconcile() == 2
    assert [(i.thread_id, i.interrupt_id) for i in service.list_pending(viewer=ALICE)] == [(pending, interrupt_id)]
    assert {t.thread_id for t in service.recent_threads(viewer=CAROL)} == {pending, done}


def test_recover_applies_a_recorded_but_unapplied_decision_exactly_once(service, store, refund_pending):
    thread_id, interrupt_id = refund_pending
    record = service.record_decision(thread_id, interrupt_id, APPROVE, GUEST)  # ...and the process dies here
    assert service.list_pending(viewer=ALICE) == []  # decided items leave the queue at once

    restarted = ApprovalService(store)
    assert restarted.recover() == 1
    assert restarted.recover() == 0
    assert restarted.decision(thread_id, interrupt_id, viewer=ALICE).applied_at is not None
    assert len(store.ledger.entries(thread_id)) == 1
    assert record.decision_id == restarted.decisions(viewer=ALICE)[0].decision_id


def test_demo_accounts_sign_in_with_their_password_only(store):
    assert check_password(store.db, "alice", "alice-demo").role == "reviewer"
    assert check_password(store.db, "carol", "carol-demo").role == "requester"
    assert check_password(store.db, "alice", "bob-demo") is None
    assert check_password(store.db, "mallory", "x") is None
    stored = store.db.query("SELECT password_hash FROM accounts WHERE username = 'alice'")[0]["password_hash"]
    assert "alice-demo" not in stored and stored.startswith("scrypt$")


def test_runner_reports_a_job_error_once():
    runner = BackgroundRunner(max_workers=2)

    def fail() -> None:
        raise ValueError("model unavailable")

    runner.enqueue("t", fail)
    runner.wait("t", timeout=5)
    assert str(runner.take_error("t")) == "model unavailable"
    assert runner.take_error("t") is None
    runner.shutdown()


def test_runner_queues_a_decision_behind_the_run_in_progress():
    runner = BackgroundRunner(max_workers=1)
    gate, order = threading.Event(), []
    runner.enqueue("t", lambda: (gate.wait(5), order.append("agent run")))
    runner.enqueue("t", order.append, "apply decision")
    assert order == []
    gate.set()
    runner.wait("t", timeout=5)
    assert order == ["agent run", "apply decision"]
    runner.shutdown()
