"""Who may see and decide what, tried as someone else on both backends; sessions, expiry and sign-in lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from conftest import ALICE, BOB, CAROL, GUEST

from approvals.core.actors import Actor
from approvals.core.errors import NotAllowed, UnknownThread
from approvals.core.visibility import QueueFilter
from approvals.identity import accounts, sessions, throttle
from approvals.service import history
from approvals.service.facade import ApprovalService

# On both backends: sessions and the sign-in throttle's named lock differ between them.
pytestmark = pytest.mark.usefixtures("db_url")

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


def sign_in(db, token: str, username: str, password: str, now: datetime | None = None, *,
            client: str = "", device: str | None = None) -> tuple[str, str]:
    """Both halves of a browser's sign-in: the password check, then the hand-off for (new token, device cookie)."""
    code = sessions.begin_sign_in(db, token, username, password, client=client, device=device, now=now)
    traded = sessions.finish_sign_in(db, token, code, device, now)
    assert traded is not None
    return traded


def test_sign_in_gives_a_new_session_and_sign_out_revokes_it(store):
    token = sessions.start_guest(store.db)
    signed_in, _ = sign_in(store.db, token, " Carol ", "carol-demo")
    assert sessions.actor_for(store.db, token) is None  # the token from before the sign-in is dead
    assert sessions.actor_for(store.db, signed_in) == CAROL and sessions.actor_for(store.db, signed_in).signed_in
    sessions.sign_out(store.db, signed_in)
    assert sessions.actor_for(store.db, signed_in) is None  # every tab sending this cookie is signed out
    with pytest.raises(sessions.SignInRefused, match="reload the page"):
        sessions.begin_sign_in(store.db, signed_in, "carol", "carol-demo")


@pytest.mark.parametrize("cookie", [None, "", "not-a-token", "x" * 43])
def test_a_missing_or_tampered_cookie_is_nobody(store, cookie):
    real = sessions.start_guest(store.db)
    assert sessions.actor_for(store.db, cookie) is None
    with pytest.raises(sessions.SignInRefused):
        sessions.begin_sign_in(store.db, cookie, "alice", "alice-demo")
    assert sessions.actor_for(store.db, real[:-1] + ("A" if real[-1] != "A" else "B")) is None


def test_every_session_of_an_account_can_be_revoked(store):
    laptop, phone = (sign_in(store.db, sessions.start_guest(store.db), "alice", "alice-demo")[0] for _ in range(2))
    assert sessions.revoke_all(store.db, "alice") == 2
    assert sessions.actor_for(store.db, laptop) is None and sessions.actor_for(store.db, phone) is None


def test_sessions_expire_after_the_idle_time_and_use_keeps_them_alive(store, monkeypatch):
    monkeypatch.delenv("APPROVAL_SESSION_IDLE_HOURS", raising=False)
    now = datetime.now(UTC)
    token, _ = sign_in(store.db, sessions.start_guest(store.db), "alice", "alice-demo", now)
    assert sessions.actor_for(store.db, token, now + timedelta(hours=11)) == ALICE  # used: idle clock restarts
    assert sessions.actor_for(store.db, token, now + timedelta(hours=22)) == ALICE
    assert sessions.actor_for(store.db, token, now + timedelta(hours=34, minutes=1)) is None
    monkeypatch.setenv("APPROVAL_SESSION_IDLE_HOURS", "1")
    other = sessions.start_guest(store.db)
    assert sessions.actor_for(store.db, other, now + timedelta(minutes=61)) is None


def test_a_refusal_costs_the_same_whether_the_account_exists(store, monkeypatch):
    """The same password checks, and the same words, for a real and a made-up username, throttled or not."""
    checks = []
    real_verify = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda *a: checks.append(1) or real_verify(*a))
    token = sessions.start_guest(store.db)
    now = datetime.now(UTC)
    said = {}
    for offset, username in enumerate(("alice", "nobody-here")):
        checks.clear()
        answers = []
        for _ in range(throttle.FREE_TRIES + 2):
            with pytest.raises(sessions.SignInRefused) as refused:
                sessions.begin_sign_in(store.db, token, username, "wrong", client=f"10.0.0.{offset}",
                                       now=now + timedelta(hours=2 * offset))
            answers.append(str(refused.value))
        said[username] = (len(checks), answers)
    assert said["alice"] == said["nobody-here"]
    assert said["alice"][0] == throttle.FREE_TRIES and said["alice"][1][-1].startswith("Too many failed sign-ins")
