"""Work in progress kept across a reload (an open edit form, ticked rows, an open bulk confirmation): per browser
session and person, per item, never a decision by itself, and gone once the item is decided, withdrawn or taken
over; on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from conftest import ALICE, BOB, CAROL

from approvals.core.actors import Actor
from approvals.core.records import PendingApproval, QueueItem
from approvals.identity import housekeeping, sessions
from approvals.service.facade import ApprovalService

EDIT = {"mode": "edit", "fields": [{"order_id": "55", "amount": 120.0}]}


def carols_refund(service: ApprovalService, order: int = 55) -> PendingApproval:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, f"Refund order {order} for $250", CAROL)  # needs a reviewer
    return service.pending_approval(thread_id, viewer=ALICE)


def queued(service: ApprovalService, pending: PendingApproval) -> QueueItem:
    return next(item for item in service.list_pending(viewer=ALICE) if item.thread_id == pending.thread_id)


def browser(service: ApprovalService, actor: Actor) -> str:
    """A signed-in browser session of `actor`: its cookie's token."""
    return sessions.start(service.db, actor, signed_in=True)


def test_an_edit_draft_comes_back_to_its_own_session_only_and_decides_nothing(service: ApprovalService):
    pending = carols_refund(service)
    alices, bobs = browser(service, ALICE), browser(service, BOB)
    service.keep_edit_draft(alices, pending, EDIT, viewer=ALICE)
    assert service.edit_draft(alices, pending, viewer=ALICE) == EDIT  # the reload: a new page run, the same cookie
    assert service.edit_draft(bobs, pending, viewer=BOB) is None  # another person
    assert service.edit_draft(alices, pending, viewer=BOB) is None  # not even with alice's cookie
    assert service.edit_draft(browser(service, ALICE), pending, viewer=ALICE) is None  # alice's other browser
    assert service.decision(pending.thread_id, pending.interrupt_id, viewer=ALICE) is None
    assert service.pending_approval(pending.thread_id, viewer=ALICE).request.action_requests[0].args["amount"] == 250

    service.drop_edit_draft(alices, pending.thread_id, pending.interrupt_id, viewer=ALICE)  # cancelled
    assert service.edit_draft(alices, pending, viewer=ALICE) is None


def test_a_draft_of_a_request_that_changed_since_is_dropped_not_shown(service: ApprovalService):
    pending = carols_refund(service)
    alices = browser(service, ALICE)
    service.keep_edit_draft(alices, pending, EDIT, viewer=ALICE)
    changed = replace(pending, review=replace(pending.review, value={**pending.value, "changed": True}))
    assert changed.request_digest != pending.request_digest
    assert service.edit_draft(alices, changed, viewer=ALICE) is None
    assert service.edit_draft(alices, pending, viewer=ALICE) is None  # dropped, not kept for later


def test_deciding_drops_every_open_edit_of_the_item_and_the_deciders_own_ticks(service: ApprovalService):
    pending, other = carols_refund(service), carols_refund(service, 56)
    alices, bobs = browser(service, ALICE), browser(service, BOB)
    for session, actor in ((alices, ALICE), (bobs, BOB)):
        service.keep_edit_draft(session, pending, EDIT, viewer=actor)
        service.keep_ticks(session, [queued(service, pending), queued(service, other)], viewer=actor)
    service.keep_edit_draft(alices, other, EDIT, viewer=ALICE)

    service.record_decision(pending.thread_id, pending.interrupt_id, {"decisions": [{"type": "approve"}]}, ALICE)

    assert service.edit_draft(alices, pending, viewer=ALICE) is None
    assert service.edit_draft(bobs, pending, viewer=BOB) is None
    assert service.edit_draft(alices, other, viewer=ALICE) == EDIT  # another item's draft stays
    alices_ticks = service.bulk_draft(alices, viewer=ALICE)
    assert [item.thread_id for item in alices_ticks.ticked] == [other.thread_id]
    assert alices_ticks.unticked == []  # she decided it herself: nothing to explain
    bobs_ticks = service.bulk_draft(bobs, viewer=BOB)
    assert [item.thread_id for item in bobs_ticks.ticked] == [other.thread_id]
    assert bobs_ticks.unticked == ["issue_refund for carol (order_id=55, amount=250.0)"]
    assert service.bulk_draft(bobs, viewer=BOB).unticked == []  # said once, then gone


def test_a_withdrawn_item_drops_the_drafts_and_a_take_over_the_previous_holders(service: ApprovalService):
    withdrawn, taken = carols_refund(service), carols_refund(service, 56)
    alices, bobs = browser(service, ALICE), browser(service, BOB)
    service.keep_edit_draft(alices, withdrawn, EDIT, viewer=ALICE)
    service.withdraw(withdrawn.thread_id, withdrawn.interrupt_id, CAROL)
    assert service.edit_draft(alices, withdrawn, viewer=ALICE) is None

    service.claim(taken.thread_id, taken.interrupt_id, ALICE)
    service.keep_edit_draft(alices, taken, EDIT, viewer=ALICE)
    service.keep_edit_draft(bobs, taken, EDIT, viewer=BOB)
    service.claim(taken.thread_id, taken.interrupt_id, BOB, take_over=True)
    assert service.edit_draft(alices, taken, viewer=ALICE) is None
    assert service.edit_draft(bobs, taken, viewer=BOB) == EDIT  # the new holder's own stays


def test_ticks_and_an_open_bulk_confirmation_come_back_until_nothing_ticked_is_pending(service: ApprovalService):
    first, second = carols_refund(service), carols_refund(service, 56)
    alices = browser(service, ALICE)
    service.keep_ticks(alices, [queued(service, first), queued(service, second)], viewer=ALICE)
    service.keep_bulk_confirmation(alices, ("rejected", "Not this week"), viewer=ALICE)
    draft = service.bulk_draft(alices, viewer=ALICE)
    assert ([item.thread_id for item in draft.ticked], draft.unticked, draft.confirming) == (
        [first.thread_id, second.thread_id], [], ("rejected", "Not this week"))
    assert draft.ticked[0].request_digest == first.request_digest  # bound to the request as it was ticked
    assert service.bulk_draft(browser(service, BOB), viewer=BOB).ticked == []

    service.withdraw(first.thread_id, first.interrupt_id, CAROL)
    draft = service.bulk_draft(alices, viewer=ALICE)
    assert ([item.thread_id for item in draft.ticked], draft.confirming) == ([second.thread_id],
                                                                             ("rejected", "Not this week"))
    assert draft.unticked == ["issue_refund for carol (order_id=55, amount=250.0)"]

    service.record_decision(second.thread_id, second.interrupt_id, {"decisions": [{"type": "approve"}]}, BOB)
    draft = service.bulk_draft(alices, viewer=ALICE)
    assert (draft.ticked, draft.confirming, len(draft.unticked)) == ([], None, 1)
    service.keep_ticks(alices, [queued(service, carols_refund(service, 57))], viewer=ALICE)
    assert service.bulk_draft(alices, viewer=ALICE).confirming is None  # the old confirmation went with its ticks


def test_guests_and_cookie_less_runs_keep_no_drafts(service: ApprovalService):
    pending = carols_refund(service)
    guest = Actor("guest-1", "requester", signed_in=False)
    service.keep_edit_draft(None, pending, EDIT, viewer=ALICE)
    assert service.edit_draft(None, pending, viewer=ALICE) is None
    assert service.bulk_draft("any-token", viewer=guest) is None


def test_housekeeping_purges_the_drafts_of_ended_sessions(service: ApprovalService):
    pending = carols_refund(service)
    alices, bobs = browser(service, ALICE), browser(service, BOB)
    service.keep_edit_draft(alices, pending, EDIT, viewer=ALICE)
    service.keep_edit_draft(bobs, pending, EDIT, viewer=BOB)
    sessions.sign_out(service.db, bobs)
    assert housekeeping.purge(service.db, datetime.now(UTC))["drafts"] == 1
    assert service.edit_draft(alices, pending, viewer=ALICE) == EDIT
