"""Approve what you saw: a decision carries the digest of the request its reviewer was shown, and a request that
changed since is refused (409 through the API, an error in the console) with nothing saved, chain included."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ALICE, BROWSER, CAROL, click_after_reading
from langgraph.types import Interrupt
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from approvals.core.digest import request_digest
from approvals.core.errors import TooSoon
from approvals.core.interrupts import INTERRUPT
from approvals.core.reading import READ_SECONDS
from approvals.http.api import api_routes
from approvals.identity import api_tokens
from approvals.service.facade import ApprovalService
from approvals.store.database import iso
from approvals.store.schema import Store

APPROVE = {"decisions": [{"type": "approve"}]}


def ask(service: ApprovalService, text: str = "Email jo@example.com about the delay") -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, CAROL)
    return thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id


def change_request(service: ApprovalService, thread_id: str, interrupt_id: str) -> None:
    """The same interrupt asks something else now (a worker wrote it again): its subject line changed."""
    saver = service.store.checkpointer
    saved = saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    task_id, value = next((task, write[0].value) for task, channel, write in saved.pending_writes
                          if channel == INTERRUPT and write[0].id == interrupt_id)
    changed = json.loads(json.dumps(value))
    changed["action_requests"][0]["args"]["to"] = "everyone@example.com"
    saver.put_writes(saved.config, [(INTERRUPT, [Interrupt(value=changed, id=interrupt_id)])], task_id)
    assert service.approval(thread_id, interrupt_id, viewer=ALICE).request_digest == request_digest(changed)


def assert_nothing_saved(service: ApprovalService, item: tuple[str, str]) -> None:
    assert service.decision(*item, viewer=ALICE) is None
    assert service.db.query("SELECT COUNT(*) AS n FROM audit_log")[0]["n"] == 0
    assert service.store.ledger.entries(item[0]) == []


def test_the_digest_is_sha256_of_the_values_canonical_json(service):
    item = ask(service)
    pending = service.approval(*item, viewer=ALICE)
    canonical = json.dumps(pending.value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert pending.request_digest == hashlib.sha256(canonical.encode()).hexdigest()
    [queued] = service.list_pending(viewer=ALICE)
    assert queued.request_digest == pending.request_digest


def test_a_decision_made_before_the_item_could_be_read_is_refused_and_saves_nothing(service):
    """The console passes when its screen drew the item: a press less than READ_SECONDS later decides nothing."""
    item = ask(service)
    digest = service.approval(*item, viewer=ALICE).request_digest
    just_now = iso(datetime.now(UTC) - timedelta(seconds=READ_SECONDS / 4))
    for shown_at in (just_now, iso(datetime.now(UTC) + timedelta(seconds=5)), "not a time"):
        with pytest.raises(TooSoon):
            service.record_decision(*item, APPROVE, ALICE, digest, shown_at=shown_at)
    assert_nothing_saved(service, item)
    read = iso(datetime.now(UTC) - timedelta(seconds=READ_SECONDS + 0.5))
    assert service.record_decision(*item, APPROVE, ALICE, digest, shown_at=read).decided_by == "alice"


@pytest.fixture
def alice_api(service: ApprovalService) -> Iterator[TestClient]:
    _, secret = api_tokens.create_token(service.db, "alice")
    with TestClient(Starlette(routes=api_routes(lambda: service)),
                    headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client


def test_the_api_refuses_a_stale_digest_and_saves_nothing(service, alice_api):
    item = ask(service)
    url = f"/api/approvals/{item[0]}/{item[1]}"
    seen = alice_api.get(url).json()["request_digest"]
    assert alice_api.get("/api/approvals").json()["items"][0]["request_digest"] == seen
    change_request(service, *item)
    answer = alice_api.post(f"{url}/decision", json={**APPROVE, "request_digest": seen})
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "request_changed"
    assert "the request changed since you opened it" in answer.json()["detail"].lower()
    assert_nothing_saved(service, item)

    assert alice_api.post(f"{url}/decision", json={**APPROVE, "request_digest": 7}).status_code == 422
    fresh = alice_api.get(url).json()["request_digest"]
    assert fresh != seen
    answer = alice_api.post(f"{url}/decision", json={**APPROVE, "request_digest": fresh})
    assert answer.status_code == 200, answer.text
    [entry] = [json.loads(r["entry"]) for r in service.db.query("SELECT entry FROM audit_log WHERE type = 'decision'")]
    assert entry["request_digest"] == fresh
    assert entry["proposed"][0]["args"]["to"] == "everyone@example.com"


def test_an_api_decision_without_a_digest_still_works_for_older_clients(service, alice_api):
    item = ask(service)
    answer = alice_api.post(f"/api/approvals/{item[0]}/{item[1]}/decision", json=APPROVE)
    assert answer.status_code == 200, answer.text
    document = alice_api.get("/api/openapi.json").json()
    assert "request_digest" in document["components"]["schemas"]["DecisionBody"]["properties"]


@pytest.fixture
def seeder(page_store: Store) -> ApprovalService:
    return ApprovalService(page_store)


def test_the_console_refuses_an_approve_of_a_request_that_changed_since_it_was_shown(seeder):
    item = ask(seeder)
    at = AppTest.from_file("../../pages/console.py")
    BROWSER.become(ALICE)
    at.query_params["thread"] = item[0]
    at.run(timeout=30)
    assert "jo@example.com" in " ".join(str(t.value) for t in at.text)
    change_request(seeder, *item)
    click_after_reading(at, "console_approve")
    assert not at.exception
    assert any("request changed since you opened it" in str(e.value) for e in at.error)
    assert_nothing_saved(seeder, item)
    assert "everyone@example.com" in " ".join(str(t.value) for t in at.text)  # the pane shows the new request
    click_after_reading(at, "console_approve")
    assert seeder.decision(*item, viewer=ALICE).decided_by == "alice"
