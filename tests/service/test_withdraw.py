"""A requester withdraws their own pending request: recorded as such, the agent told, nobody else may do it for
them; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from conftest import ALICE, BOB, CAROL, GUEST

from approvals.core.errors import AlreadyDecided, NotAllowed, UnknownThread
from approvals.core.visibility import QueueFilter
from approvals.service.facade import ApprovalService


def carols_refund(service: ApprovalService) -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Refund order 55 for $250", CAROL)  # needs a reviewer
    return thread_id, service.pending_approval(thread_id, viewer=CAROL).interrupt_id


def test_withdrawing_is_recorded_and_the_agent_is_told(service: ApprovalService, store):
    thread_id, interrupt_id = carols_refund(service)
    record = service.withdraw(thread_id, interrupt_id, CAROL)
    told = "The requester (carol) withdrew this request; issue_refund did not run."
    assert (record.decision, record.decided_by, record.message) == ("withdraw", "carol", told)
    assert service.count_pending(QueueFilter(), viewer=ALICE) == 0  # gone from every reviewer's queue at once
    service.deliver_decision(record.decision_id)
    messages = service.messages(thread_id, viewer=CAROL)
    assert [m for m in messages if m.type == "tool"][-1].text == told
    assert messages[-1].text == f"Not done: {told}"  # the agent's answer says who withdrew it, not "the reviewer"
    assert "reviewer" not in messages[-1].text
    assert store.ledger.entries(thread_id) == []  # the refund never ran
    assert service.pending_approval(thread_id, viewer=CAROL) is None


@pytest.mark.parametrize("other", [ALICE, BOB], ids=["reviewer", "another-reviewer"])
def test_nobody_but_the_requester_may_withdraw(service: ApprovalService, store, other):
    thread_id, interrupt_id = carols_refund(service)
    with pytest.raises(NotAllowed, match="Only the person who asked can withdraw"):
        service.withdraw(thread_id, interrupt_id, other)
    assert service.decisions(thread_id=thread_id, viewer=ALICE) == []
    assert service.count_pending(QueueFilter(), viewer=ALICE) == 1


def test_a_stranger_gets_the_unknown_thread_answer(service: ApprovalService):
    thread_id, interrupt_id = carols_refund(service)
    with pytest.raises(UnknownThread):
        service.withdraw(thread_id, interrupt_id, GUEST)
    assert service.decisions(thread_id=thread_id, viewer=ALICE) == []


def test_a_decided_request_cannot_be_withdrawn(service: ApprovalService):
    thread_id, interrupt_id = carols_refund(service)
    service.record_decision(thread_id, interrupt_id, {"decisions": [{"type": "approve"}]}, ALICE)
    with pytest.raises(AlreadyDecided, match="Already decided by alice"):
        service.withdraw(thread_id, interrupt_id, CAROL)
    assert [r.decision for r in service.decisions(thread_id=thread_id, viewer=ALICE)] == ["approve"]
