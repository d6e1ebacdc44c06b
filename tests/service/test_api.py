"""The JSON API over HTTP (Starlette's TestClient on the real routes and service), on both backends.

Every status code the API promises, nothing saved on any error, and two clients deciding one item at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import jsonschema
import pytest
from conftest import ALICE, BOB, CAROL, GUEST
from starlette.applications import Starlette
from starlette.testclient import TestClient

from approvals.core.actors import Actor
from approvals.core.errors import NotAllowed
from approvals.http.api import api_routes
from approvals.identity import api_tokens
from approvals.service import claims
from approvals.service.facade import ApprovalService

APPROVE = {"decisions": [{"type": "approve"}]}
SMALL, LARGE, EMAIL = "Refund order 1234 for $25", "Refund order 55 for $250", "Email jo@example.com about the delay"

Client = Callable[[Actor], TestClient]


@pytest.fixture
def client(service: ApprovalService) -> Iterator[Client]:
    """`client(actor)`: an HTTP client carrying a fresh API token of that account."""
    app = Starlette(routes=api_routes(lambda: service))
    opened: list[TestClient] = []

    def make(actor: Actor) -> TestClient:
        _, secret = api_tokens.create_token(service.db, actor.name)
        opened.append(TestClient(app, headers={"Authorization": f"Bearer {secret}"}))
        return opened[-1].__enter__()

    yield make
    for http in opened:
        http.__exit__(None, None, None)


def request(service: ApprovalService, text: str, actor: Actor = GUEST) -> tuple[str, str]:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, text, actor)
    return thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id


def decision_url(item: tuple[str, str]) -> str:
    return f"/api/approvals/{item[0]}/{item[1]}/decision"


def assert_nothing_saved(service: ApprovalService, item: tuple[str, str]) -> None:
    assert service.decision(*item, viewer=ALICE) is None
    assert service.pending_approval(item[0], viewer=ALICE).interrupt_id == item[1]
    assert [q.thread_id for q in service.list_pending(viewer=ALICE)].count(item[0]) == 1
    assert service.store.ledger.entries(item[0]) == []


def test_the_queue_is_the_consoles_with_its_filters_and_paging(service, client):
    small, large, email = request(service, SMALL), request(service, LARGE), request(service, EMAIL)
    alice = client(ALICE)

    def threads(query: str = "") -> list[str]:
        answer = alice.get(f"/api/approvals{query}")
        assert answer.status_code == 200, answer.text
        return [item["thread_id"] for item in answer.json()["items"]]

    assert threads() == [small[0], large[0], email[0]]
    assert threads("?tool=send_email") == [email[0]]
    assert threads("?tool=send_email&tool=issue_refund") == [small[0], large[0], email[0]]
    assert threads("?policy=self") == [small[0]]
    assert threads("?requester=guest-test&policy=reviewer") == [large[0], email[0]]
    assert threads("?requester=carol") == []
    assert threads("?min_age=60") == []
    page = alice.get("/api/approvals?limit=1&offset=1").json()
    assert [i["thread_id"] for i in page["items"]] == [large[0]] and (page["total"], page["limit"]) == (3, 1)
    first = alice.get("/api/approvals").json()["items"][0]
    assert first["args_summary"] == "order_id=1234, amount=25.0" and first["claimed_by"] is None
    assert first["url"] == f"http://localhost:8501/console?thread={small[0]}&interrupt={small[1]}"  # the default


def test_links_use_approval_base_url_when_set(service, client, monkeypatch):
    item = request(service, SMALL)
    monkeypatch.setenv("APPROVAL_BASE_URL", "https://approvals.example.com/")
    answer = client(ALICE).get(f"/api/approvals/{item[0]}/{item[1]}").json()
    assert answer["url"] == f"https://approvals.example.com/console?thread={item[0]}&interrupt={item[1]}"


@pytest.mark.parametrize("query, reason", [
    ("?limit=0", "limit: Input should be greater than or equal to 1"),
    ("?min_age=soon", "min_age: Input should be a valid number, unable to parse string as a number"),
    ("?policy=anyone", "policy.0: Input should be 'self' or 'reviewer'"),
    ("?tools=issue_refund", "tools: Extra inputs are not permitted"),
])
def test_a_bad_query_is_422_with_the_reason(service, client, query, reason):
    answer = client(ALICE).get(f"/api/approvals{query}")
    assert answer.status_code == 422
    assert answer.json() == {"error": "invalid_query", "detail": reason}


def test_one_item_shows_the_request_while_pending_and_the_decision_after(service, client):
    item = request(service, LARGE)
    alice = client(ALICE)
    pending = alice.get(f"/api/approvals/{item[0]}/{item[1]}").json()
    assert pending["status"] == "pending" and pending["decision"] is None
    action = pending["request"]["action_requests"][0]
    assert (action["name"], action["args"]) == ("issue_refund", {"order_id": "55", "amount": 250.0})
    assert pending["request"]["review_configs"][0]["allowed_decisions"] == ["approve", "edit", "reject"]

    assert alice.post(decision_url(item), json=APPROVE).status_code == 200
    decided = alice.get(f"/api/approvals/{item[0]}/{item[1]}").json()
    assert decided["status"] == "decided" and decided["request"] is None
    assert (decided["decision"]["decided_by"], decided["decision"]["decision"]) == ("alice", "approve")


def test_a_decision_resumes_the_agent_once_and_is_audited(service, client):
    item = request(service, LARGE)
    edit = {"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund",
                                                             "args": {"order_id": "55", "amount": "200"}}}]}
    answer = client(ALICE).post(decision_url(item), json=edit)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["decided_by"], body["decision"], body["requested_by"]) == ("alice", "edit", "guest-test")
    assert body["edit_diff"] == [{"tool": "issue_refund", "changes": {"amount": [250.0, 200.0]}}]
    assert body["applied_at"], "the agent was resumed before the answer"
    assert [e["result"][:23] for e in service.store.ledger.entries(item[0])] == ["Refunded $200.00 on ord"]
    assert service.decisions(viewer=ALICE)[0].decided_by == "alice" and service.list_pending(viewer=ALICE) == []


@pytest.mark.parametrize("authorization", [None, "Basic YWxpY2U6YWxpY2UtZGVtbw==", "Bearer", "Bearer apr_made-up"])
def test_no_or_a_bad_token_is_401_and_decides_nothing(service, client, authorization):
    item = request(service, SMALL)
    anonymous = client(ALICE)
    anonymous.headers.pop("Authorization")
    headers = {"Authorization": authorization} if authorization else {}
    for answer in (anonymous.get("/api/approvals", headers=headers),
                   anonymous.get(f"/api/approvals/{item[0]}/{item[1]}", headers=headers),
                   anonymous.post(decision_url(item), json=APPROVE, headers=headers)):
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="approvals"')
        assert answer.json()["error"] in {"unauthorized", "invalid_token"}
    assert_nothing_saved(service, item)


def test_a_revoked_token_is_401_at_once(service, client):
    item = request(service, SMALL)
    alice = client(ALICE)
    assert alice.get("/api/approvals").status_code == 200
    [token] = api_tokens.list_tokens(service.db, "alice")
    api_tokens.revoke_token(service.db, token.token_id, "alice")
    answer = alice.post(decision_url(item), json=APPROVE)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"
    assert_nothing_saved(service, item)


def test_what_the_policy_forbids_is_403_and_saves_nothing(service, client):
    carols = request(service, LARGE, CAROL)
    alices = request(service, LARGE, ALICE)
    answer = client(CAROL).post(decision_url(carols), json=APPROVE)
    assert answer.status_code == 403
    assert answer.json() == {"error": "not_allowed", "detail": "Only a reviewer can decide this request."}
    answer = client(ALICE).post(decision_url(alices), json=APPROVE)
    assert answer.status_code == 403 and "cannot approve your own request" in answer.json()["detail"]
    assert_nothing_saved(service, carols)
    assert_nothing_saved(service, alices)


def test_unknown_items_are_404(service, client):
    item = request(service, SMALL)
    alice = client(ALICE)
    for thread_id, interrupt_id in [("0" * 32, item[1]), (item[0], "f" * 32), ("not a valid id!", item[1])]:
        for answer in (alice.get(f"/api/approvals/{thread_id}/{interrupt_id}"),
                       alice.post(f"/api/approvals/{thread_id}/{interrupt_id}/decision", json=APPROVE)):
            assert answer.status_code == 404, answer.text
            assert answer.json()["error"] == "not_found"
    assert_nothing_saved(service, item)


def test_other_api_paths_and_methods_answer_json_404_and_405(service, client):
    alice = client(ALICE)
    missing = alice.get("/api/approval")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = alice.get("/api/approvals/a/b/decision")
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert wrong.json() == {"error": "method_not_allowed", "detail": "Use POST here."}


def test_a_second_decision_is_409_with_who_and_when(service, client):
    item = request(service, LARGE)
    first = client(ALICE).post(decision_url(item), json=APPROVE).json()
    answer = client(BOB).post(decision_url(item), json={"decisions": [{"type": "reject", "message": "no"}]})
    assert answer.status_code == 409
    assert answer.json() == {
        "error": "already_decided", "decided_by": "alice", "decided_at": first["decided_at"],
        "detail": f"Already decided by alice at {first['decided_at']} (approve).",
    }
    assert [d.decision for d in service.decisions(viewer=ALICE)] == ["approve"]


def test_an_item_claimed_by_someone_else_is_409_until_the_claim_is_gone(service, client):
    item = request(service, LARGE)
    claims.claim(service.db, *item, BOB)
    alice = client(ALICE)
    assert alice.get("/api/approvals").json()["items"][0]["claimed_by"] == "bob"
    answer = alice.post(decision_url(item), json=APPROVE)
    assert answer.status_code == 409
    assert (answer.json()["error"], answer.json()["claimed_by"]) == ("claimed", "bob")
    assert answer.json()["detail"].startswith("Claimed by bob until ")
    assert_nothing_saved(service, item)
    claims.release(service.db, *item, BOB)
    assert alice.post(decision_url(item), json=APPROVE).status_code == 200


def test_a_taken_over_item_is_409_to_its_previous_holder_naming_who_holds_it(service, client):
    item = request(service, LARGE)
    service.claim(*item, ALICE)  # alice has it open in the console
    service.claim(*item, BOB, take_over=True)
    answer = client(ALICE).post(decision_url(item), json=APPROVE)
    assert answer.status_code == 409, answer.text
    assert (answer.json()["error"], answer.json()["claimed_by"]) == ("claimed", "bob")
    assert answer.json()["detail"].startswith("bob took this item over from you at ")
    assert_nothing_saved(service, item)
    assert client(BOB).post(decision_url(item), json=APPROVE).status_code == 200


def test_a_requester_looking_at_her_item_holds_no_reviewer_off(service, client):
    item = request(service, LARGE, CAROL)
    with pytest.raises(NotAllowed):
        service.claim(*item, CAROL)  # what the console does when she opens it
    assert client(ALICE).post(decision_url(item), json=APPROVE).status_code == 200


@pytest.mark.parametrize("body, reason", [
    ({"decisions": [{"type": "approve"}, {"type": "approve"}]}, "expected 1 decision(s), got 2"),
    ({"decisions": [{"type": "edit", "edited_action": {"name": "issue_refund",
                                                       "args": {"order_id": "55", "amount": "lots"}}}]},
     "invalid args for issue_refund: amount: Input should be a valid number, unable to parse string as a number"),
    ({"decisions": [{"type": "maybe"}]}, "decisions.0: Input tag 'maybe' found using 'type' does not match any of the"
     " expected tags: 'approve', 'edit', 'reject', 'respond'"),
    ([], "Input should be a valid dictionary or instance of RequestResponse"),
])
def test_an_invalid_decision_is_422_with_the_reason_and_saves_nothing(service, client, body, reason):
    item = request(service, LARGE)
    answer = client(ALICE).post(decision_url(item), json=body)
    assert answer.status_code == 422
    assert answer.json() == {"error": "invalid_decision", "detail": reason}
    assert_nothing_saved(service, item)


def test_a_body_that_is_not_json_is_422(service, client):
    item = request(service, LARGE)
    answer = client(ALICE).post(decision_url(item), content=b'{"decisions": [',
                                headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_json"
    assert answer.json()["detail"].startswith("The body is not valid JSON: ")
    assert_nothing_saved(service, item)


# -- issue 27, findings 7, and issue 26, finding 8: what the API reads, and what it answers ---------------------


def test_links_never_come_from_the_requests_host(service, client, monkeypatch):
    item = request(service, SMALL)
    monkeypatch.delenv("APPROVAL_BASE_URL", raising=False)
    alice = client(ALICE)
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    urls = [alice.get("/api/approvals", headers=forged).json()["items"][0]["url"],
            alice.get(f"/api/approvals/{item[0]}/{item[1]}", headers=forged).json()["url"]]
    assert urls == [f"http://localhost:8501/console?thread={item[0]}&interrupt={item[1]}"] * 2
    monkeypatch.setenv("APPROVAL_BASE_URL", "https://approvals.example.com")
    assert alice.get("/api/approvals", headers=forged).json()["items"][0]["url"].startswith(
        "https://approvals.example.com/console?")


@pytest.mark.parametrize("body", [
    b'{"decisions": [{"type": "reject", "type": "approve"}]}',
    b'{"decisions": [{"type": "reject"}], "decisions": [{"type": "approve"}]}',
])
def test_a_key_repeated_in_one_object_is_422_and_saves_nothing(service, client, body):
    item = request(service, LARGE)
    answer = client(ALICE).post(decision_url(item), content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_json" and "repeats the key" in answer.json()["detail"]
    assert_nothing_saved(service, item)


def test_a_form_encoded_body_is_415_naming_content_type(service, client):
    item = request(service, LARGE)
    answer = client(ALICE).post(decision_url(item), data={"decisions": "approve"})
    assert answer.status_code == 415
    assert answer.json()["error"] == "unsupported_media_type"
    assert "Content-Type: application/json" in answer.json()["detail"]
    assert "application/x-www-form-urlencoded" in answer.json()["detail"]
    assert_nothing_saved(service, item)


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "a" * 65, 7])
def test_a_malformed_request_digest_is_422_not_a_changed_request(service, client, digest):
    item = request(service, LARGE)
    answer = client(ALICE).post(decision_url(item), json={**APPROVE, "request_digest": digest})
    assert (answer.status_code, answer.json()["error"]) == (422, "invalid_decision")
    assert "64 hex digits" in answer.json()["detail"]
    assert_nothing_saved(service, item)


def test_a_decide_answer_does_not_promise_a_retry_of_what_was_applied(service, client):
    item = request(service, LARGE)
    body = client(ALICE).post(decision_url(item), json=APPROVE).json()
    assert body["applied_at"] is not None
    assert (body["next_delivery_at"], body["delivery_error"]) == (None, "")
    assert client(ALICE).get(f"/api/approvals/{item[0]}/{item[1]}").json()["decision"]["next_delivery_at"] is None


@pytest.mark.usefixtures("db_url")  # on both backends: two decisions at once
def test_two_clients_deciding_one_item_at_once_get_one_200_and_one_409_and_the_tool_runs_once(service, client):
    item = request(service, LARGE)
    clients = [client(ALICE), client(BOB)]
    start = threading.Barrier(2)
    statuses: list[int] = []

    def decide(http: TestClient) -> None:
        start.wait(30)
        statuses.append(http.post(decision_url(item), json=APPROVE).status_code)

    workers = [threading.Thread(target=decide, args=(http,)) for http in clients]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert sorted(statuses) == [200, 409]
    assert len(service.store.ledger.entries(item[0])) == 1
    assert len(service.decisions(thread_id=item[0], viewer=ALICE)) == 1


def test_the_openapi_document_describes_what_the_api_accepts(service, client):
    document = client(ALICE).get("/api/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {"/api/approvals", "/api/approvals/{thread_id}/{interrupt_id}",
                                      "/api/approvals/{thread_id}/{interrupt_id}/decision"}
    decide = document["paths"]["/api/approvals/{thread_id}/{interrupt_id}/decision"]["post"]
    assert set(decide["responses"]) == {"200", "202", "401", "403", "404", "409", "413", "415", "422"}
    assert "exactly one decision per action request" in decide["description"]
    body_schema = {**decide["requestBody"]["content"]["application/json"]["schema"],
                   "components": document["components"]}
    jsonschema.validate({"decisions": [{"type": "reject", "message": "too much"}]}, body_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"decisions": [{"type": "maybe"}]}, body_schema)
    assert {p["name"] for p in document["paths"]["/api/approvals"]["get"]["parameters"]} == {
        "tool", "policy", "requester", "min_age", "limit", "offset"}


# -- visibility: the service's rules seen through the API --------------------------------------

def test_a_requester_lists_only_their_own_items(service, client):
    mine, _ = request(service, SMALL, CAROL), request(service, SMALL)
    page = client(CAROL).get("/api/approvals").json()
    assert [i["thread_id"] for i in page["items"]] == [mine[0]] and page["total"] == 1


def test_someone_elses_item_is_404_like_an_unknown_one_and_cannot_be_decided(service, client):
    guests = request(service, SMALL)
    carol = client(CAROL)
    unknown = carol.get(f"/api/approvals/{'0' * 32}/{guests[1]}").json()
    for answer in (carol.get(f"/api/approvals/{guests[0]}/{guests[1]}"),
                   carol.post(decision_url(guests), json=APPROVE)):
        assert answer.status_code == 404
        assert answer.json() == {**unknown, "detail": unknown["detail"].replace("0" * 32, guests[0])}
    assert_nothing_saved(service, guests)
