"""The rules behind the reviewer console, through the service on a real SQLite file: policy, claims, bulk
decisions, audit and CSV, chart series, SLA and TTL expiry."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

import pytest
from conftest import ALICE, BOB, CAROL, GUEST
from langchain_core.messages import ToolMessage

from approvals.core.actors import EXPIRY, Actor
from approvals.core.errors import NotAllowed, UnknownThread
from approvals.core.hitl import HITLRequest
from approvals.core.records import DecisionRecord, QueueItem
from approvals.service import claims, expiry, history
from approvals.service.facade import ApprovalService

APPROVE = {"decisions": [{"type": "approve"}]}


def approve_all(request: HITLRequest) -> dict:
    return {"decisions": [{"type": "approve"} for _ in request.action_requests]}


def ask(service: ApprovalService, text: str, actor=CAROL) -> QueueItem:
    """Start a conversation that stops for approval; its queue row."""
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, actor)
    pending = service.pending_approval(thread_id, viewer=ALICE)
    return next(item for item in service.list_pending(viewer=ALICE) if item.interrupt_id == pending.interrupt_id)


def emails(service: ApprovalService, count: int) -> list[QueueItem]:
    return [ask(service, f"Email jo{n}@example.com about the delay") for n in range(count)]


def tool_results(service: ApprovalService, item: QueueItem) -> list[ToolMessage]:
    return [m for m in service.messages(item.thread_id, viewer=ALICE) if isinstance(m, ToolMessage)]


def at(item: QueueItem, minutes: float) -> datetime:
    return datetime.fromisoformat(item.created_at) + timedelta(minutes=minutes)


# -- policy ------------------------------------------------------------------------------------------------


def test_requester_cannot_approve_own_reviewer_only_request(service):
    item = ask(service, "Email jo@example.com about the delay", CAROL)
    with pytest.raises(NotAllowed, match="Only a reviewer can decide this request"):
        service.record_decision(item.thread_id, item.interrupt_id, APPROVE, CAROL)
    assert service.decision(item.thread_id, item.interrupt_id, viewer=ALICE) is None


def test_reviewer_cannot_approve_own_reviewer_only_request_but_another_reviewer_can(service):
    item = ask(service, "Refund order 1234 for $250", ALICE)
    with pytest.raises(NotAllowed, match="cannot approve your own request"):
        service.record_decision(item.thread_id, item.interrupt_id, APPROVE, ALICE)
    assert service.record_decision(item.thread_id, item.interrupt_id, APPROVE, BOB).decided_by == "bob"


def test_only_reviewers_decide_reviewer_only_requests(service):
    item = ask(service, "Delete customer 77", GUEST)
    with pytest.raises(NotAllowed, match="Only a reviewer"):
        service.record_decision(item.thread_id, item.interrupt_id, APPROVE, GUEST)
    with pytest.raises(UnknownThread, match="There is no conversation"):
        service.record_decision(item.thread_id, item.interrupt_id, APPROVE, CAROL)
    assert service.count_pending(viewer=ALICE) == 1


def test_self_policy_request_is_decided_by_its_requester_or_a_reviewer_only(service):
    item = ask(service, "Refund order 1234 for $25", CAROL)
    with pytest.raises(UnknownThread, match="There is no conversation"):
        service.record_decision(item.thread_id, item.interrupt_id, APPROVE, GUEST)
    assert service.record_decision(item.thread_id, item.interrupt_id, APPROVE, CAROL).decided_by == "carol"


# -- claims ------------------------------------------------------------------------------------------------


def test_claim_blocks_others_until_it_expires(service):
    start = datetime.fromisoformat("2026-01-01T10:00:00+00:00")
    held = claims.claim(service.db, "t1", "i1", ALICE, minutes=5, now=start)
    assert held.claimed_by == "alice"
    with pytest.raises(claims.Claimed, match="Claimed by alice until 10:05:00 UTC"):
        claims.claim(service.db, "t1", "i1", BOB, now=start + timedelta(minutes=4))
    assert claims.holder(service.db, "t1", "i1", now=start + timedelta(minutes=4)).claimed_by == "alice"

    later = start + timedelta(minutes=6)
    assert claims.holder(service.db, "t1", "i1", now=later) is None
    assert claims.claim(service.db, "t1", "i1", BOB, now=later).claimed_by == "bob"


def test_opening_again_renews_own_claim(service):
    start = datetime.fromisoformat("2026-01-01T10:00:00+00:00")
    claims.claim(service.db, "t1", "i1", ALICE, minutes=5, now=start)
    renewed = claims.claim(service.db, "t1", "i1", ALICE, minutes=5, now=start + timedelta(minutes=4))
    assert renewed.expires_at.startswith("2026-01-01T10:09:00")


def test_timeline_keeps_who_opened_and_claimed_after_the_claim_is_gone(service):
    item = ask(service, "Email jo@example.com about the delay")
    start = datetime.fromisoformat("2026-01-01T10:00:00+00:00")
    claims.claim(service.db, item.thread_id, item.interrupt_id, ALICE, minutes=5, now=start)
    claims.claim(service.db, item.thread_id, item.interrupt_id, ALICE, minutes=5, now=start + timedelta(minutes=4))
    claims.release(service.db, item.thread_id, item.interrupt_id, ALICE)
    claims.claim(service.db, item.thread_id, item.interrupt_id, BOB, now=start + timedelta(minutes=6))
    steps = service.item_steps(item.thread_id, item.interrupt_id, viewer=ALICE)
    assert [(s.step, s.by) for s in steps] == [("claimed", "alice"), ("claimed", "bob"), ("opened", "alice"),
                                               ("opened", "bob")]  # the claims' own times; opens are "now"
    assert steps[0].at.startswith("2026-01-01T10:00:00")  # a renewal does not move the claim's start
    assert service.item_steps(item.thread_id, item.interrupt_id, viewer=CAROL)  # the requester sees their own


def test_timeline_is_refused_to_someone_who_may_not_see_the_item(service):
    item = ask(service, "Email jo@example.com about the delay")
    claims.claim(service.db, item.thread_id, item.interrupt_id, ALICE)
    with pytest.raises(UnknownThread):
        service.item_steps(item.thread_id, item.interrupt_id, viewer=Actor("dave", "requester"))
    with pytest.raises(UnknownThread):  # an edited thread id reads nothing either
        service.item_steps(item.thread_id + "x", item.interrupt_id, viewer=ALICE)


def test_take_over_moves_the_claim_and_the_old_holder_is_told(service):
    claims.claim(service.db, "t1", "i1", ALICE)
    assert claims.claim(service.db, "t1", "i1", BOB, take_over=True).claimed_by == "bob"
    with pytest.raises(claims.Claimed, match="Claimed by bob"):
        claims.claim(service.db, "t1", "i1", ALICE)


def test_release_drops_only_own_claim(service):
    claims.claim(service.db, "t1", "i1", ALICE)
    claims.release(service.db, "t1", "i1", BOB)
    assert claims.holder(service.db, "t1", "i1").claimed_by == "alice"
    claims.release(service.db, "t1", "i1", ALICE)
    assert claims.holder(service.db, "t1", "i1") is None
    assert claims.active_claims(service.db) == {}


# -- bulk --------------------------------------------------------------------------------------------------


def test_bulk_approve_reports_successes_and_why_others_failed(service):
    """The page the reviewer selected from is stale: bob decided one item and claimed another meanwhile."""
    first, second, decided_by_bob, claimed_by_bob = emails(service, 4)
    service.record_decision(decided_by_bob.thread_id, decided_by_bob.interrupt_id, APPROVE, BOB)
    claims.claim(service.db, claimed_by_bob.thread_id, claimed_by_bob.interrupt_id, BOB)

    result = service.decide_many([first, second, decided_by_bob, claimed_by_bob], approve_all, ALICE)

    assert [(r.thread_id, r.decided_by) for r in result.decided] == [
        (first.thread_id, "alice"), (second.thread_id, "alice")
    ]
    reasons = {item.thread_id: reason for item, reason in result.failed}
    assert reasons.keys() == {decided_by_bob.thread_id, claimed_by_bob.thread_id}
    assert reasons[decided_by_bob.thread_id].startswith("Already decided by bob at")
    assert reasons[claimed_by_bob.thread_id].startswith("Claimed by bob until")
    for record in result.decided:
        service.deliver_decision(record.decision_id)
    assert sorted(e["thread_id"] for e in service.store.ledger.entries()) == sorted([first.thread_id, second.thread_id])


def test_bulk_reject_sends_the_one_message_to_each_agent(service):
    items = emails(service, 2)
    result = service.decide_many(
        items, lambda r: {"decisions": [{"type": "reject", "message": "Not during the freeze."}]}, BOB
    )
    for record in result.decided:
        service.deliver_decision(record.decision_id)
    assert not result.failed
    assert all(tool_results(service, item)[-1].content == "Not during the freeze." for item in items)
    assert service.store.ledger.entries() == []


def test_bulk_by_a_requester_fails_each_reviewer_only_item_with_the_policy_reason(service):
    items = emails(service, 2)
    result = service.decide_many(items, approve_all, CAROL)
    assert result.decided == []
    assert [reason for _, reason in result.failed] == ["Only a reviewer can decide this request."] * 2
    assert service.count_pending(viewer=ALICE) == 2


def test_second_bulk_over_the_same_items_decides_nothing_again(service):
    items = emails(service, 2)
    service.decide_many(items, approve_all, ALICE)
    again = service.decide_many(items, approve_all, BOB)
    assert again.decided == []
    assert all(reason.startswith("Already decided by alice") for _, reason in again.failed)


# -- audit -------------------------------------------------------------------------------------------------


@pytest.fixture
def decided(service) -> list[QueueItem]:
    """Three decisions: alice approves an email, bob edits a $250 refund to $200, bob rejects a deletion."""
    email, refund, deletion = (ask(service, text) for text in (
        "Email jo@example.com about the delay", "Refund order 1234 for $250", "Delete customer 77"))
    service.decide(email.thread_id, email.interrupt_id, APPROVE, ALICE)
    edit = {"type": "edit", "edited_action": {"name": "issue_refund", "args": {"order_id": "1234", "amount": 200}}}
    service.decide(refund.thread_id, refund.interrupt_id, {"decisions": [edit]}, BOB)
    service.decide(deletion.thread_id, deletion.interrupt_id, {"decisions": [{"type": "reject", "message": "No."}]},
                   BOB)
    return [email, refund, deletion]


def test_history_filters_by_decider_decision_and_tool(service, decided):
    def shown(**filters: tuple[str, ...]) -> list[DecisionRecord]:
        return history.history(service, ALICE, history.AuditFilter(**filters))

    assert [r.decision for r in shown(deciders=("bob",))] == ["reject", "edit"]
    assert [r.tool for r in shown(decisions=("approve",))] == ["send_email"]
    assert [r.decided_by for r in shown(tools=("issue_refund",))] == ["bob"]
    assert len(history.history(service, ALICE)) == 3


def test_csv_export_has_who_what_when_and_the_edit_diff(service, decided):
    rows = list(csv.DictReader(io.StringIO(history.to_csv(history.history(service, ALICE)))))
    assert [row["decided by"] for row in rows] == ["bob", "bob", "alice"]
    edited = next(row for row in rows if row["decision"] == "edit")
    assert edited["edit"] == "issue_refund.amount: $250.00 → $200.00"
    assert edited["requested by"] == "carol" and edited["decided at"] and float(edited["waited (min)"]) >= 0
    assert next(row for row in rows if row["decision"] == "reject")["message"] == "No."


def test_csv_export_says_what_was_proposed_and_what_ran(service, decided):
    records = history.history(service, ALICE)
    rows = list(csv.DictReader(io.StringIO(history.to_csv(records, history.proposed_arguments(service, records)))))
    edited = next(row for row in rows if row["decision"] == "edit")
    assert json.loads(edited["arguments"])["amount"] == 250.0 and json.loads(edited["ran with"])["amount"] == 200.0
    rejected = next(row for row in rows if row["decision"] == "reject")
    assert rejected["arguments"] and rejected["ran with"] == ""  # nothing ran
    approved = next(row for row in rows if row["decision"] == "approve")
    assert approved["arguments"] == approved["ran with"]


def test_csv_export_of_nothing_is_just_the_header():
    assert history.to_csv([]).strip() == ",".join(history.HISTORY_COLUMNS)


def test_decisions_per_hour_and_median_wait(service, decided):
    records = history.history(service, ALICE)
    hours = history.hourly(records)
    assert sum(h["decisions"] for h in hours) == 3
    assert hours[0]["hour"] == records[0].decided_at[:13].replace("T", " ") + ":00"
    assert history.median_wait_minutes(records) == sorted(round(r.waited_seconds / 60, 2) for r in records)[1]
    assert history.median_wait_minutes([]) is None


def test_pending_by_age_buckets(service):
    first, second = emails(service, 2)
    buckets = {row["age"]: row["pending"] for row in history.pending_by_age(service, ALICE, now=at(first, 20))}
    assert buckets["15–30 min"] == 2 and sum(buckets.values()) == 2
    buckets = {row["age"]: row["pending"] for row in history.pending_by_age(service, ALICE, now=at(first, 3 * 24 * 60))}
    assert buckets["> 1 day"] == 2


# -- SLA and TTL -------------------------------------------------------------------------------------------


def test_sla_flags_items_older_than_the_configured_minutes(monkeypatch, service):
    item = ask(service, "Email jo@example.com about the delay")
    assert expiry.sla_minutes() == 30
    assert not expiry.past_sla(item.created_at, 30, now=at(item, 29))
    assert expiry.past_sla(item.created_at, 30, now=at(item, 31))
    monkeypatch.setenv("APPROVAL_SLA_MINUTES", "10")
    assert expiry.sla_minutes() == 10


def test_ttl_is_off_unless_configured(monkeypatch, service):
    item = ask(service, "Email jo@example.com about the delay")
    assert expiry.ttl_minutes() is None
    assert expiry.expire_overdue(service, None, now=at(item, 10_000)).decided == []
    monkeypatch.setenv("APPROVAL_TTL_MINUTES", "45")
    assert expiry.ttl_minutes() == 45
    assert service.count_pending(viewer=ALICE) == 1


def test_ttl_auto_rejects_expired_items_as_system_expired(service):
    old, young = emails(service, 2)
    claims.claim(service.db, old.thread_id, old.interrupt_id, ALICE)  # a claim does not hold expiry off

    assert expiry.expire_overdue(service, 60, now=at(old, 59)).decided == []
    result = expiry.expire_overdue(service, 60, now=at(old, 61))

    assert {r.thread_id for r in result.decided} == {old.thread_id, young.thread_id}
    for record in result.decided:
        service.deliver_decision(record.decision_id)
    record = service.decision(old.thread_id, old.interrupt_id, viewer=ALICE)
    assert (record.decided_by, record.decision) == (EXPIRY.name, "reject") == ("system (expired)", "reject")
    assert tool_results(service, old)[-1].content == expiry.expiry_message(60)
    assert "60 minutes" in record.message
    assert service.count_pending(viewer=ALICE) == 0 and service.store.ledger.entries() == []


def test_ttl_leaves_alone_what_a_reviewer_decided_first(service):
    item = ask(service, "Email jo@example.com about the delay")
    service.record_decision(item.thread_id, item.interrupt_id, APPROVE, ALICE)
    assert expiry.expire_overdue(service, 1, now=at(item, 5)).decided == []
    assert service.decision(item.thread_id, item.interrupt_id, viewer=ALICE).decided_by == "alice"
