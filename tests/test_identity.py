"""Who may see and decide what, tried as someone else on both backends; sessions, expiry and sign-in lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from conftest import ALICE, BOB, CAROL, GUEST

from approvals.core.actors import Actor
from approvals.core.errors import NotAllowed, UnknownThread
from approvals.core.visibility import QueueFilter
from approvals.identity import accounts, sessions
from approvals.service import history
from approvals.service.facade import ApprovalService

DAVE = Actor("dave", "requester")
APPROVE = {"decisions": [{"type": "approve"}]}


def start(service: ApprovalService, text: str, actor: Actor) -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, actor)
    return thread_id, service.pending_approval(thread_id, viewer=actor).interrupt_id


def unknown_message(service: ApprovalService, thread_id: str, viewer: Actor) -> str:
    with pytest.raises(UnknownThread) as refused:
        service.require_thread(thread_id, viewer=viewer)
    return str(refused.value)


# -- visibility --------------------------------------------------------------------------------------------


def test_someone_elses_conversation_reads_exactly_like_an_unknown_one(service):
    thread_id, interrupt_id = start(service, "Refund order 1234 for $25", CAROL)
    never_was = "0" * 32
    for outsider in (DAVE, GUEST):
        assert unknown_message(service, thread_id, outsider) == unknown_message(service, never_was, outsider).replace(
            never_was, thread_id
        )
        for read in (
            partial(service.messages, thread_id, viewer=outsider),
            partial(service.pending_approval, thread_id, viewer=outsider),
            partial(service.approval, thread_id, interrupt_id, viewer=outsider),
            partial(service.decision, thread_id, interrupt_id, viewer=outsider),
        ):
            with pytest.raises(UnknownThread):
                read()
    assert service.pending_approval(thread_id, viewer=CAROL).interrupt_id == interrupt_id
    assert service.pending_approval(thread_id, viewer=ALICE).interrupt_id == interrupt_id


def test_an_outsider_can_neither_decide_nor_write_and_nothing_is_saved(service):
    thread_id, interrupt_id = start(service, "Refund order 1234 for $25", CAROL)
    for decide in (service.decide, service.record_decision):
        with pytest.raises(UnknownThread):
            decide(thread_id, interrupt_id, APPROVE, DAVE)
    with pytest.raises(UnknownThread):
        service.send_message(thread_id, "Refund order 99 for $5", DAVE)
    with pytest.raises(NotAllowed, match="carol's"):  # a reviewer reads it, but it is not theirs to write in
        service.send_message(thread_id, "Refund order 99 for $5", ALICE)
    [item] = service.decide_many(service.list_pending(viewer=ALICE), lambda request: APPROVE, DAVE).failed
    assert "There is no conversation" in item[1]
    assert service.decisions(viewer=ALICE) == [] and service.store.ledger.entries() == []
    assert len(service.messages(thread_id, viewer=CAROL)) == 2
    assert service.count_pending(viewer=ALICE) == 1


def test_the_sidebar_lists_only_your_own_conversations(service):
    carols, _ = start(service, "Refund order 1 for $5", CAROL)
    alices, _ = start(service, "Email jo@example.com about the delay", ALICE)
    assert [t.thread_id for t in service.recent_threads(viewer=CAROL)] == [carols]
    assert [t.thread_id for t in service.recent_threads(viewer=ALICE)] == [alices]  # reviewers too: own only
    assert service.recent_threads(viewer=DAVE) == [] and service.recent_threads(viewer=GUEST) == []


def test_a_requesters_queue_and_history_hold_only_their_own_items(service):
    carols, carols_interrupt = start(service, "Refund order 1 for $5", CAROL)
    daves, daves_interrupt = start(service, "Refund order 2 for $6", DAVE)
    start(service, "Delete customer 77", DAVE)
    assert [i.thread_id for i in service.list_pending(viewer=CAROL)] == [carols]
    assert service.count_pending(viewer=CAROL) == 1 and service.count_pending(viewer=BOB) == 3
    # asking for someone else's items by filter does not widen what a requester sees
    assert service.list_pending(QueueFilter(requesters=("dave",)), viewer=CAROL) == []
    assert service.count_pending(QueueFilter(requesters=("dave",)), viewer=CAROL) == 0

    service.decide(carols, carols_interrupt, APPROVE, CAROL)
    service.decide(daves, daves_interrupt, APPROVE, BOB)
    assert [r.thread_id for r in service.decisions(viewer=CAROL)] == [carols]
    assert [r.thread_id for r in history.history(service, CAROL)] == [carols]
    assert service.decisions(thread_id=daves, viewer=CAROL) == []
    assert {r.thread_id for r in service.decisions(viewer=ALICE)} == {carols, daves}
    assert sum(row["pending"] for row in history.pending_by_age(service, CAROL)) == 0
    assert sum(row["pending"] for row in history.pending_by_age(service, BOB)) == 1


# -- sessions ----------------------------------------------------------------------------------------------


def test_each_browser_is_its_own_guest(store):
    first, second = sessions.start_guest(store.db), sessions.start_guest(store.db)
    one, other = sessions.actor_for(store.db, first), sessions.actor_for(store.db, second)
    assert one.name.startswith("guest-") and not one.signed_in and one.role == "requester"
    assert one != other
    assert sessions.actor_for(store.db, first) == one  # the same browser stays the same guest


def test_sign_in_binds_the_browsers_session_and_sign_out_revokes_it(store):
    token = sessions.start_guest(store.db)
    assert sessions.sign_in(store.db, token, " Carol ", "carol-demo") == CAROL
    assert sessions.actor_for(store.db, token) == CAROL and sessions.actor_for(store.db, token).signed_in
    sessions.sign_out(store.db, token)
    assert sessions.actor_for(store.db, token) is None  # every tab sending this cookie is signed out
    with pytest.raises(sessions.SignInRefused, match="reload the page"):
        sessions.sign_in(store.db, token, "carol", "carol-demo")


@pytest.mark.parametrize("cookie", [None, "", "not-a-token", "x" * 43])
def test_a_missing_or_tampered_cookie_is_nobody(store, cookie):
    real = sessions.start_guest(store.db)
    assert sessions.actor_for(store.db, cookie) is None
    with pytest.raises(sessions.SignInRefused):
        sessions.sign_in(store.db, cookie, "alice", "alice-demo")
    assert sessions.actor_for(store.db, real[:-1] + ("A" if real[-1] != "A" else "B")) is None


def test_every_session_of_an_account_can_be_revoked(store):
    laptop, phone = sessions.start_guest(store.db), sessions.start_guest(store.db)
    for token in (laptop, phone):
        sessions.sign_in(store.db, token, "alice", "alice-demo")
    assert sessions.revoke_all(store.db, "alice") == 2
    assert sessions.actor_for(store.db, laptop) is None and sessions.actor_for(store.db, phone) is None


def test_sessions_expire_after_the_idle_time_and_use_keeps_them_alive(store, monkeypatch):
    monkeypatch.delenv("APPROVAL_SESSION_IDLE_HOURS", raising=False)
    token = sessions.start_guest(store.db)
    sessions.sign_in(store.db, token, "alice", "alice-demo")
    now = datetime.now(UTC)
    assert sessions.actor_for(store.db, token, now + timedelta(hours=11)) == ALICE  # used: idle clock restarts
    assert sessions.actor_for(store.db, token, now + timedelta(hours=22)) == ALICE
    assert sessions.actor_for(store.db, token, now + timedelta(hours=34, minutes=1)) is None
    monkeypatch.setenv("APPROVAL_SESSION_IDLE_HOURS", "1")
    other = sessions.start_guest(store.db)
    assert sessions.actor_for(store.db, other, now + timedelta(minutes=61)) is None


def test_five_wrong_passwords_lock_the_username_for_15_minutes(store):
    token = sessions.start_guest(store.db)
    now = datetime.now(UTC)
    for attempt in range(sessions.MAX_FAILURES):
        with pytest.raises(sessions.SignInRefused, match="Wrong username or password"):
            sessions.sign_in(store.db, token, "alice", f"guess-{attempt}", now + timedelta(seconds=attempt))
    with pytest.raises(sessions.SignInRefused, match="Too many wrong passwords for alice. Try again in 15 min"):
        sessions.sign_in(store.db, token, "alice", "alice-demo", now + timedelta(seconds=10))
    assert sessions.actor_for(store.db, token).name.startswith("guest-")  # nothing signed in
    assert sessions.sign_in(store.db, token, "bob", "bob-demo", now) == BOB  # other usernames are not locked
    later = now + timedelta(minutes=15, seconds=5)
    assert sessions.sign_in(store.db, token, "alice", "alice-demo", later) == ALICE


def test_a_locked_out_refusal_costs_the_same_whether_the_account_exists(store, monkeypatch):
    """The same password checks, and the same words, for a real and a made-up username."""
    checks = []
    real_verify = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda *a: checks.append(1) or real_verify(*a))
    token = sessions.start_guest(store.db)
    said = {}
    for username in ("alice", "nobody-here"):
        checks.clear()
        for _ in range(sessions.MAX_FAILURES + 2):
            with pytest.raises(sessions.SignInRefused) as refused:
                sessions.sign_in(store.db, token, username, "wrong")
        said[username] = (len(checks), str(refused.value).replace(username, "NAME"))
    refusal = "Too many wrong passwords for NAME. Try again in 15 min."
    assert said["alice"] == said["nobody-here"] == (sessions.MAX_FAILURES, refusal)
