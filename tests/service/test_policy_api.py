"""The JSON API under a four-eyes, group-restricted policy, on both backends: 202 while more approvers are
needed, 409 for the same approver twice, 403 naming the groups, and nothing saved on a refusal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ALICE, CAROL
from starlette.applications import Starlette
from starlette.testclient import TestClient

from approvals.http.api import api_routes
from approvals.identity import accounts, api_tokens
from approvals.service.facade import ApprovalService
from approvals.service.policy import PolicySource
from approvals.store.schema import Store

APPROVE = {"decisions": [{"type": "approve"}]}
POLICY = """
[[rules]]
name = "big-refunds"
tool = "issue_refund"
when = "args.amount > 1000.0"
approvers = 2
groups = ["finance", "treasury"]
"""


@pytest.fixture
def app(store: Store, tmp_path: Path) -> ApprovalService:
    (tmp_path / "approvals.toml").write_text(POLICY)
    accounts.add_account(store.db, "dave", "reviewer", "dave-password", ["treasury"])
    return ApprovalService(store, policy=PolicySource(tmp_path / "approvals.toml"))


@pytest.fixture
def http(app: ApprovalService) -> Iterator[dict[str, TestClient]]:
    """A client per account (alice: finance, bob: support, dave: treasury), each with its own API token."""
    routes = Starlette(routes=api_routes(lambda: app))
    clients = {}
    for name in ("alice", "bob", "dave"):
        _, secret = api_tokens.create_token(app.db, name)
        clients[name] = TestClient(routes, headers={"Authorization": f"Bearer {secret}"}).__enter__()
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def big_refund(app: ApprovalService) -> str:
    thread_id = app.new_thread_id()
    app.send_message(thread_id, "Refund order 2 for $5000", CAROL)
    item = app.pending_approval(thread_id, viewer=ALICE)
    return f"/api/approvals/{thread_id}/{item.interrupt_id}/decision"


def saved(app: ApprovalService) -> tuple[int, int, int]:
    return (len(app.db.query("SELECT 1 FROM approvals")), len(app.db.query("SELECT 1 FROM decisions")),
            len(app.store.ledger.entries()))


def test_202_then_409_for_the_same_approver_then_200_for_the_last_required_one(app, http):
    url = big_refund(app)
    first = http["alice"].post(url, json=APPROVE)
    assert first.status_code == 202, first.text
    assert first.json() | {"thread_id": "", "interrupt_id": ""} == {
        "thread_id": "", "interrupt_id": "", "status": "waiting", "approved_by": ["alice"], "required": 2,
        "progress": "1 of 2 approvals (alice)"}
    [entry] = http["dave"].get("/api/approvals").json()["items"]
    assert (entry["progress"], entry["rule"], entry["approvers"]) == ("1 of 2 approvals (alice)", "big-refunds", 2)
    again = http["alice"].post(url, json=APPROVE)
    assert again.status_code == 409 and again.json()["error"] == "already_approved"
    assert saved(app) == (1, 0, 0)
    last = http["dave"].post(url, json=APPROVE)
    assert last.status_code == 200, last.text
    assert (last.json()["decided_by"], last.json()["applied_at"] is not None) == ("dave", True)
    assert saved(app) == (2, 1, 1)


def test_403_names_the_groups_and_saves_nothing(app, http):
    url = big_refund(app)
    refused = http["bob"].post(url, json=APPROVE)
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"] == "not_in_group" and body["groups"] == ["finance", "treasury"]
    assert "finance or treasury" in body["detail"]
    assert saved(app) == (0, 0, 0)
    assert http["alice"].post(url, json=APPROVE).status_code == 202
    assert http["bob"].post(url, json=APPROVE).status_code == 403 and saved(app) == (1, 0, 0)
