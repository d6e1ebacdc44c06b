"""The one decision command, tried as an attacker would, on SQLite and PostgreSQL: a taken-over item is refused to its
previous holder on every way in, only those who may decide hold a claim, and every way of deciding leaves a run
row that delivers the decision. (The JSON API's side is in test_api.py, the pages' in their own tests.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import ALICE, BOB, CAROL

from approvals.core.errors import NotAllowed
from approvals.service import claims, expiry
from approvals.service.facade import ApprovalService
from approvals.service.policy import PolicySource
from approvals.service.runner import BackgroundRunner
from approvals.store.schema import Store

# On both backends: the one decision command's transaction and compare-and-set, on each.
pytestmark = pytest.mark.usefixtures("db_url")

APPROVE = {"decisions": [{"type": "approve"}]}
LARGE, SMALL = "Refund order 55 for $250", "Refund order 1234 for $25"
Item = tuple[str, str]


def carols(service: ApprovalService, text: str = LARGE) -> Item:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, CAROL)
    return thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id


def assert_nothing_saved(service: ApprovalService, item: Item) -> None:
    assert service.decision(*item, viewer=ALICE) is None
    assert service.pending_approval(item[0], viewer=ALICE).interrupt_id == item[1]
    assert service.store.ledger.entries(item[0]) == []


@pytest.fixture
def taken_over(service: ApprovalService) -> Item:
    """Alice opened carol's $250 refund; bob took it over from her (explicitly, confirmed in his console)."""
    item = carols(service)
    service.claim(*item, ALICE)
    assert service.claim(*item, BOB, take_over=True).claimed_by == "bob"
    return item


@pytest.mark.parametrize("way_in", ["record_decision", "decide"], ids=["pane-or-conversation", "inline"])
def test_the_previous_holder_is_refused_naming_who_took_it_over(service, taken_over, way_in):
    with pytest.raises(claims.TakenOver, match=r"bob took this item over from you at \d\d:\d\d:\d\d UTC; only bob"):
        getattr(service, way_in)(*taken_over, APPROVE, ALICE)
    assert_nothing_saved(service, taken_over)
    service.decide(*taken_over, APPROVE, BOB)  # the holder decides
    assert [e["tool"] for e in service.store.ledger.entries(taken_over[0])] == ["issue_refund"]


def test_a_take_over_is_on_the_audit_record(service, taken_over):
    [entry] = [json.loads(row["entry"]) for row in service.db.query("SELECT entry FROM audit_log WHERE type = ?",
                                                                    (claims.TAKE_OVER,))]
    assert (entry["thread_id"], entry["interrupt_id"]) == taken_over
    assert (entry["decided_by"], entry["taken_from"]) == ("bob", "alice")


def test_bulk_reports_the_taken_over_item_and_decides_the_rest(service, taken_over):
    other = carols(service)
    result = service.decide_many(service.list_pending(viewer=ALICE), lambda request: APPROVE, ALICE)
    assert [(r.thread_id, r.decided_by) for r in result.decided] == [(other[0], "alice")]
    [(item, why)] = result.failed
    assert (item.thread_id, item.interrupt_id) == taken_over and "bob took this item over from you" in why
    assert_nothing_saved(service, taken_over)


def test_anyone_else_is_refused_while_a_reviewer_holds_the_item(service):
    item = carols(service, SMALL)  # carol may approve it herself, and any reviewer may
    service.claim(*item, BOB)
    for actor in (ALICE, CAROL):
        with pytest.raises(claims.Claimed, match="Claimed by bob until .*only bob can decide it"):
            service.record_decision(*item, APPROVE, actor)
    assert_nothing_saved(service, item)


def test_the_requester_cannot_claim_and_so_holds_no_reviewer_off(service):
    item = carols(service)  # needs a reviewer other than carol
    with pytest.raises(NotAllowed, match="Only a reviewer"):
        service.claim(*item, CAROL)
    assert service.claim_holder(*item) is None
    assert service.decide(*item, APPROVE, ALICE).applied_at is not None


def test_the_requester_claims_what_she_may_decide_herself(service):
    item = carols(service, SMALL)
    assert service.claim(*item, CAROL).claimed_by == "carol"


def test_withdrawing_is_not_held_off_by_a_reviewers_claim(service, taken_over):
    record = service.withdraw(*taken_over, CAROL)
    assert (record.decision, record.decided_by) == ("withdraw", "carol")


# -- every way of deciding leaves a run that delivers it ------------------------------------------------------

PARTNER_POLICY = """
[[rules]]
name = "partner-emails"
tool = "send_email"
when = "args.to.endsWith('@partner.example')"
decide = "approve"
"""


def by_pane(service: ApprovalService) -> list[str]:
    return [service.record_decision(*carols(service), APPROVE, ALICE).thread_id]


def by_bulk(service: ApprovalService) -> list[str]:
    carols(service), carols(service)
    return [r.thread_id for r in service.decide_many(service.list_pending(viewer=ALICE), lambda _: APPROVE,
                                                     ALICE).decided]


def by_withdrawal(service: ApprovalService) -> list[str]:
    return [service.withdraw(*carols(service), CAROL).thread_id]


def by_api(service: ApprovalService) -> list[str]:
    return [service.decide(*carols(service), APPROVE, ALICE).thread_id]


def by_expiry(service: ApprovalService) -> list[str]:
    carols(service)
    later = datetime.fromisoformat(service.list_pending(viewer=ALICE)[0].created_at) + timedelta(minutes=61)
    return [r.thread_id for r in expiry.expire_overdue(service, 60, now=later).decided]


def by_policy(service: ApprovalService) -> list[str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Email jo@partner.example about the delay", CAROL)
    return [thread_id]


WAYS: dict[str, Callable[[ApprovalService], list[str]]] = {
    "pane-or-conversation": by_pane, "bulk": by_bulk, "withdraw": by_withdrawal, "api": by_api,
    "expiry": by_expiry, "policy": by_policy,
}


@pytest.mark.parametrize("way", WAYS)
def test_every_way_of_deciding_queues_a_run_that_delivers_it(store: Store, tmp_path: Path, way: str):
    policy = tmp_path / "approvals.toml"
    policy.write_text(PARTNER_POLICY)
    service = ApprovalService(store, policy=PolicySource(policy))
    runner = BackgroundRunner(runs=service)
    try:
        thread_ids = WAYS[way](service)
        for thread_id in thread_ids:
            runner.wait(thread_id, timeout=60)
    finally:
        runner.shutdown()
    decisions = [d for d in service.decisions(viewer=ALICE) if d.thread_id in thread_ids]
    assert len(decisions) == len(thread_ids) >= 1
    for decision in decisions:
        runs = service.db.query("SELECT kind, state, error FROM runs WHERE decision_id = ?", (decision.decision_id,))
        assert runs == [{"kind": "decision", "state": "done", "error": ""}], (way, runs)
        assert decision.applied_at is not None
