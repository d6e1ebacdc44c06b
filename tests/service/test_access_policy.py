"""The policy judges what will run (issue 19, finding 1): an edit is checked as if the agent had proposed it.

Carol's own $25 refund is hers to approve; edited to $10000 it needs a reviewer, through the service, the API
and the conversation page alike; and the graph itself refuses to run a call its decider was not cleared for, so a
decision recorded by an older replica (checked against the proposed args only) cannot slip through.
"""

from __future__ import annotations

import pytest
from conftest import ALICE, CAROL
from langgraph.types import Command
from starlette.applications import Starlette
from starlette.testclient import TestClient

from approvals.core.decisions import checked_decision
from approvals.core.errors import NotAllowed
from approvals.http.api import api_routes
from approvals.identity import api_tokens
from approvals.service.facade import ApprovalService
from graphs.tools import ARGS_MODELS

SMALL = "Refund order 12 for $25"


def edit_to(amount: float, order_id: str = "9999") -> dict:
    return {"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund",
                                                             "args": {"order_id": order_id, "amount": amount}}}]}


def carols_small_refund(service: ApprovalService) -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, SMALL, CAROL)
    return thread_id, service.pending_approval(thread_id, viewer=CAROL).interrupt_id


def assert_nothing_saved(service: ApprovalService, item: tuple[str, str]) -> None:
    assert service.decision(*item, viewer=ALICE) is None
    assert service.pending_approval(item[0], viewer=ALICE).interrupt_id == item[1]
    assert service.store.ledger.entries(item[0]) == []


def test_an_edit_that_needs_a_reviewer_is_refused_to_the_requester(service: ApprovalService):
    item = carols_small_refund(service)
    with pytest.raises(NotAllowed, match="Only a reviewer can decide this request as edited"):
        service.decide(*item, edit_to(10000), CAROL)
    assert_nothing_saved(service, item)
    service.decide(*item, edit_to(90, "12"), CAROL)  # still within her own limit: hers to approve
    assert "Refunded $90.00 on order 12" in service.store.ledger.entries(item[0])[0]["result"]


def test_a_reviewer_may_raise_an_amount_and_it_runs(service: ApprovalService):
    item = carols_small_refund(service)
    service.decide(*item, edit_to(500), ALICE)
    assert "Refunded $500.00 on order 9999" in service.store.ledger.entries(item[0])[0]["result"]


def test_the_api_refuses_carols_edit_to_10000_with_403(service: ApprovalService):
    item = carols_small_refund(service)
    _, secret = api_tokens.create_token(service.db, "carol")
    with TestClient(Starlette(routes=api_routes(lambda: service)),
                    headers={"Authorization": f"Bearer {secret}"}) as http:
        answer = http.post(f"/api/approvals/{item[0]}/{item[1]}/decision", json=edit_to(10000))
    assert answer.status_code == 403
    assert answer.json()["detail"] == "Only a reviewer can decide this request as edited."
    assert_nothing_saved(service, item)


def test_the_graph_refuses_an_edit_its_decider_was_not_cleared_for(service: ApprovalService):
    """An older replica checked only the proposed args and resumed without a clearance: the tool must not run."""
    thread_id, interrupt_id = carols_small_refund(service)
    graph = service.graph_for("support")
    config = {"configurable": {"thread_id": thread_id}}
    graph.invoke(Command(resume={interrupt_id: edit_to(10000)}), config, durability="sync")
    assert service.store.ledger.entries(thread_id) == []
    refusal = next(m for m in graph.get_state(config).values["messages"] if m.type == "tool")
    assert refusal.status == "error" and "needs a reviewer's approval" in refusal.content


@pytest.mark.usefixtures("db_url")  # on both backends: another replica's decision
def test_an_old_replicas_unapplied_decision_is_refused_on_recovery(service: ApprovalService):
    item = carols_small_refund(service)
    pending = service.approval(*item, viewer=CAROL)
    decision = checked_decision(pending.review, edit_to(10000), ARGS_MODELS)
    verdict = service._verdict(pending, decision, service._tally(pending))
    service._insert_decision(pending, decision, CAROL, "self", verdict, held_off=False, deliver_now=False)
    service.db.execute("UPDATE decisions SET clearance = NULL")  # what a replica without clearances wrote
    assert service.recover() == 1
    assert service.store.ledger.entries(item[0]) == []

