"""Oversight metrics on a fixture of known decisions, and the stop switch, on both backends."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ALICE, BOB, CAROL, GUEST, click_after_reading
from starlette.applications import Starlette
from starlette.testclient import TestClient

from approvals.audit import chain
from approvals.audit.evidence import verify_live
from approvals.core.errors import NotAllowed
from approvals.http.api import api_routes
from approvals.http.oversight_api import oversight_routes
from approvals.identity import api_tokens
from approvals.service import oversight
from approvals.service.metrics import oversight_metrics

T0 = "2026-06-01T10:00:00.000+00:00"


def at(seconds: float) -> str:
    return f"2026-06-01T10:{int(seconds // 60):02d}:{seconds % 60:06.3f}+00:00"


KNOWN = [  # (decided_by, tool, decision, requested after T0, opened, decided) in seconds
    ("alice", "issue_refund", "approve", 0, 10, 12),     # opened 2 s before approving: fast
    ("alice", "issue_refund", "approve", 0, 20, 30),     # 10 s: not fast
    ("alice", "send_email", "reject", 0, 40, 41),        # fast, but a reject is not an approval
    ("alice", "send_email", "edit", 0, None, 60),        # decided without opening (e.g. bulk)
    ("bob", "issue_refund", "approve", 30, 100, 101),    # fast
    ("bob", "issue_refund", "reject", 30, 100, 130),
    ("policy:small-refunds", "issue_refund", "approve", 0, None, 1),  # a rule, not a reviewer
]


@pytest.fixture
def known_decisions(store) -> None:
    _seed(store)


def test_metrics_per_reviewer_and_per_tool_match_the_hand_computed_values(store, known_decisions):
    metrics = oversight_metrics(store.db, ALICE)
    alice, bob = metrics.by_reviewer
    assert (alice.name, alice.decisions, alice.approve_share, alice.edit_share, alice.reject_share) == (
        "alice", 4, 0.5, 0.25, 0.25)
    assert alice.median_request_to_decision_s == 35.5  # waits 12, 30, 41, 60
    assert alice.median_open_to_decision_s == 2.0  # 2, 10, 1 (the edit was never opened)
    assert alice.fast_approvals == 1
    assert (bob.name, bob.decisions, bob.approve_share, bob.reject_share) == ("bob", 2, 0.5, 0.5)
    assert bob.median_request_to_decision_s == 85.5  # waits 71, 100
    assert bob.median_open_to_decision_s == 15.5  # 1, 30
    assert bob.fast_approvals == 1
    refund, email = metrics.by_tool
    assert (refund.name, refund.decisions, refund.approve_share, refund.reject_share) == ("issue_refund", 5, 0.8, 0.2)
    assert refund.median_request_to_decision_s == 30.0  # waits 12, 30, 71, 100, 1
    assert refund.fast_approvals == 2
    assert (email.name, email.decisions, email.median_open_to_decision_s) == ("send_email", 2, 1.0)
    assert oversight_metrics(store.db, ALICE, fast=1.5).by_reviewer[0].fast_approvals == 0
    assert oversight_metrics(store.db, ALICE, since=at(61)).by_reviewer[0].name == "bob"


def test_only_reviewers_read_the_metrics(store, known_decisions):
    with pytest.raises(NotAllowed):
        oversight_metrics(store.db, CAROL)


def test_opening_an_item_then_deciding_it_records_the_time_open(service, refund_pending):
    from approvals.service import claims

    claims.claim(service.db, *refund_pending, ALICE)
    service.decide(*refund_pending, {"decisions": [{"type": "approve"}]}, ALICE)
    [row] = oversight_metrics(service.db, ALICE).by_reviewer
    assert row.name == "alice" and row.median_open_to_decision_s is not None and row.fast_approvals == 1


def test_a_paused_tool_refuses_approval_but_not_reject_until_resumed(service):
    small, large = [], []
    for bucket, text in ((small, "Refund order 1 for $25"), (large, "Refund order 2 for $250")):
        thread_id = service.new_thread_id()
        service.send_message(thread_id, text, GUEST)
        bucket.append((thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id))
    with pytest.raises(NotAllowed):
        oversight.pause(service.db, "tool", "issue_refund", CAROL)
    oversight.pause(service.db, "tool", "issue_refund", ALICE)
    with pytest.raises(oversight.Paused, match="paused .*by alice"):
        service.decide(*small[0], {"decisions": [{"type": "approve"}]}, GUEST)
    assert service.decision(*small[0], viewer=ALICE) is None
    service.decide(*large[0], {"decisions": [{"type": "reject", "message": "stopped"}]}, BOB)  # reject still works
    assert service.decision(*large[0], viewer=ALICE).decision == "reject"
    assert oversight.resume(service.db, "tool", "issue_refund", BOB)
    service.decide(*small[0], {"decisions": [{"type": "approve"}]}, GUEST)
    assert service.decision(*small[0], viewer=ALICE).decision == "approve"
    events = [e["type"] for e in chain.entries_of(chain.stored_entries(service.db))]
    assert events == ["pause", "decision", "delivery", "resume", "decision", "delivery"]
    assert verify_live(service.db) is None


def test_a_paused_graph_refuses_approval_of_its_items(service, refund_pending):
    oversight.pause(service.db, "graph", "support", BOB)
    paused = oversight.paused_targets(service.db)
    assert [(p.kind, p.name, p.paused_by) for p in paused] == [("graph", "support", "bob")]
    with pytest.raises(oversight.Paused):
        service.decide(*refund_pending, {"decisions": [{"type": "approve"}]}, ALICE)
    with pytest.raises(Exception, match="tool or a graph"):
        oversight.pause(service.db, "thread", "x", BOB)


def api_client(service, username: str) -> TestClient:
    _, secret = api_tokens.create_token(service.db, username)
    app = Starlette(routes=[*oversight_routes(lambda: service), *api_routes(lambda: service)])
    return TestClient(app, headers={"Authorization": f"Bearer {secret}"})


def test_the_api_serves_the_metrics_to_reviewers_and_the_stop_switch(service, known_decisions):
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Email jo@example.com about the delay", CAROL)
    item = f"/api/approvals/{thread_id}/{service.pending_approval(thread_id, viewer=ALICE).interrupt_id}/decision"
    with api_client(service, "alice") as alice, api_client(service, "carol") as carol:
        answer = alice.get("/api/metrics")
        assert answer.status_code == 200, answer.text
        assert [(r["name"], r["decisions"], r["fast_approvals"]) for r in answer.json()["by_reviewer"]] == [
            ("alice", 4, 1), ("bob", 2, 1)]
        assert answer.json()["fast_seconds"] == 3.0
        assert alice.get("/api/metrics?since=yesterday").status_code == 422
        assert carol.get("/api/metrics").status_code == 403
        assert carol.post("/api/pauses", json={"kind": "tool", "name": "send_email"}).status_code == 403
        assert alice.post("/api/pauses", json={"kind": "thread", "name": "x"}).status_code == 422
        paused = alice.post("/api/pauses", json={"kind": "tool", "name": "send_email"})
        assert paused.status_code == 200 and paused.json()["paused"][0]["paused_by"] == "alice"
        refused = alice.post(item, json={"decisions": [{"type": "approve"}]})
        assert refused.status_code == 409 and refused.json()["error"] == "paused"
        assert service.decision(thread_id, item.split("/")[4], viewer=ALICE) is None
        assert alice.get("/api/pauses").json()["paused"][0]["name"] == "send_email"
        assert alice.delete("/api/pauses/tool/send_email").status_code == 200
        assert alice.delete("/api/pauses/tool/send_email").status_code == 404
        assert alice.post(item, json={"decisions": [{"type": "approve"}]}).status_code == 200
        document = alice.get("/api/openapi.json").json()
        assert {"/api/metrics", "/api/pauses", "/api/pauses/{kind}/{name}", "/api/approvals"} <= set(document["paths"])
        assert "MetricsOut" in document["components"]["schemas"]


@pytest.mark.usefixtures("db_url")  # on both backends: pauses pressed at once
def test_pauses_are_capped_and_listed_even_when_pressed_in_parallel(service, monkeypatch):
    """Issue 27, finding 7: any reviewer could create unlimited pauses (376 banners after a fuzz run)."""
    monkeypatch.setenv("APPROVAL_MAX_PAUSES", "3")
    names = [f"tool_{n}" for n in range(8)]
    with api_client(service, "alice") as alice, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda name: alice.post("/api/pauses", json={"kind": "tool", "name": name}), names))
        assert sorted(answer.status_code for answer in answers) == [200] * 3 + [409] * 5
        refused = next(answer.json() for answer in answers if answer.status_code == 409)
        assert refused["error"] == "too_many_pauses" and "resume one first" in refused["detail"]
        held = [target["name"] for target in alice.get("/api/pauses").json()["paused"]]
        assert len(held) == 3 and len(service.db.query("SELECT 1 AS n FROM paused_targets")) == 3
        assert alice.post("/api/pauses", json={"kind": "tool", "name": held[0]}).status_code == 200  # still one
        assert alice.post("/api/pauses", json={"kind": "tool", "name": "bad\u202ename"}).status_code == 400
        assert alice.delete(f"/api/pauses/tool/{held[0]}").status_code == 200
        assert alice.post("/api/pauses", json={"kind": "tool", "name": "tool_new"}).status_code == 200


def console_as(actor, **params):
    from conftest import BROWSER
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../../pages/console.py")
    BROWSER.become(actor)
    at.session_state["console_stop_switch"] = True  # open: its widgets run only then
    for name, value in params.items():
        at.query_params[name] = value
    return at.run(timeout=30)


def test_the_console_pauses_a_tool_its_items_refuse_approval_and_it_resumes(page_store):
    from approvals.service.facade import ApprovalService

    seeder = ApprovalService(page_store)
    thread_id = seeder.new_thread_id()
    seeder.send_message(thread_id, "Email jo@example.com about the delay", CAROL)
    at = console_as(ALICE, thread=thread_id)
    at.selectbox(key="console_pause_name").set_value("send_email").run(timeout=30)
    at.button(key="console_pause").click().run(timeout=30)
    assert not at.exception
    assert any("Paused (1): the tool send_email (by alice" in w.value.replace("\\", "") for w in at.warning)
    click_after_reading(at, "console_approve")
    assert any("paused" in e.value.replace("\\", "") for e in at.error)
    interrupt_id = seeder.pending_approval(thread_id, viewer=ALICE).interrupt_id
    assert seeder.decision(thread_id, interrupt_id, viewer=ALICE) is None
    at.button(key="console_resume_tool_send_email").click().run(timeout=30)
    assert not any("Paused (" in w.value.replace("\\", "") for w in at.warning)
    assert oversight.paused_targets(seeder.db) == []
    assert "Stop switch" not in [box.label for box in console_as(CAROL).get("expander")]  # a requester sees none


def test_the_history_tab_shows_the_oversight_numbers(page_store, known_decisions_on_page):
    at = console_as(ALICE, tab="History")
    assert not at.exception
    frames = [frame.value for frame in at.dataframe if "Fast approvals" in frame.value.columns]
    by_reviewer, by_tool = frames
    assert list(by_reviewer["Name"]) == ["alice", "bob"]
    assert list(by_reviewer["Approve %"]) == [50.0, 50.0]
    assert list(by_tool["Fast approvals"]) == [2, 0]


@pytest.fixture
def known_decisions_on_page(page_store) -> None:
    _seed(page_store)


def _seed(store) -> None:
    with store.db.transaction() as tx:
        for n, (who, tool, kind, requested, opened, decided) in enumerate(KNOWN):
            chain.append(tx, {"type": "decision", "decision_id": f"d{n}", "decided_by": who, "tool": tool,
                              "decision": kind, "requested_at": at(requested), "decided_at": at(decided),
                              "opened_at": None if opened is None else at(opened), "recorded_at": at(decided)})
