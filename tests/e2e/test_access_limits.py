"""Limits before work (issue 19, findings 5 and 8) and frame/cookie headers (finding 11).

In-process with Starlette's TestClient for the status codes, and against `streamlit run app.py` for what only the
real server shows: its resident memory under a 500 MB body without a token, and headers on Streamlit's own pages.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import ALICE, CAROL
from harness import start_streamlit, stop
from starlette.applications import Starlette
from starlette.testclient import TestClient

from approvals.http.api import api_routes
from approvals.identity import api_tokens
from approvals.identity.accounts import seed_demo_accounts
from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

APPROVE = {"decisions": [{"type": "approve"}]}


@pytest.fixture
def alice(service: ApprovalService) -> Iterator[TestClient]:
    _, secret = api_tokens.create_token(service.db, "alice")
    with TestClient(Starlette(routes=api_routes(lambda: service)), raise_server_exceptions=False,
                    headers={"Authorization": f"Bearer {secret}"}) as http:
        yield http


def pending_item(service: ApprovalService) -> str:
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Refund order 55 for $250", CAROL)
    return f"/api/approvals/{thread_id}/{service.pending_approval(thread_id, viewer=ALICE).interrupt_id}/decision"


@pytest.mark.parametrize("query, reason", [
    ("?min_age=inf", "min_age: Input should be a finite number"),
    ("?min_age=1e12", "min_age: Input should be less than or equal to 5270400"),
    ("?offset=9223372036854775808", "offset: Input should be less than or equal to 1000000"),
    ("?limit=9223372036854775808", "limit: Input should be less than or equal to 200"),
])
def test_out_of_range_numbers_are_422_with_the_reason(alice: TestClient, query: str, reason: str):
    answer = alice.get(f"/api/approvals{query}")
    assert (answer.status_code, answer.json()) == (422, {"error": "invalid_query", "detail": reason})


def test_a_body_over_the_cap_is_413_while_streaming_and_saves_nothing(service: ApprovalService, alice: TestClient):
    url = pending_item(service)
    padding = {"decisions": [{"type": "reject", "message": "x" * 100}], "pad": "y" * 70_000}
    declared = alice.post(url, json=padding)
    streamed = alice.post(url, content=(b"x" * 8192 for _ in range(20)),
                          headers={"Content-Type": "application/json"})  # chunked: no Content-Length to trust
    for answer in (declared, streamed):
        assert answer.status_code == 413 and answer.json()["error"] == "too_large"
    assert service.decisions(viewer=ALICE) == []


def test_json_nested_past_the_limit_is_422(service: ApprovalService, alice: TestClient, monkeypatch):
    url = pending_item(service)
    monkeypatch.setenv("APPROVAL_API_MAX_BODY", str(1_000_000))
    for depth in (40, 100_000):
        answer = alice.post(url, content=b"[" * depth + b"]" * depth, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422 and "nests deeper than 32 levels" in answer.json()["detail"]
    assert service.decisions(viewer=ALICE) == []


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def stream_without_token(base: str, total: int, chunk: bytes) -> int | None:
    """POST `total` bytes chunk by chunk (never held whole); the status if the server answered, else None."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.putrequest("POST", "/api/approvals/t/i/decision")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(total))
        connection.endheaders()
        sent = 0
        while sent < total:
            connection.send(chunk)
            sent += len(chunk)
        return connection.getresponse().status
    except OSError:  # the server answered 401 and closed the connection while we were still sending
        return None
    finally:
        connection.close()


def served_get(base: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request("GET", path, headers=headers)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def test_the_served_app_guards_frames_cookies_and_its_memory(tmp_path: Path):
    database = str(tmp_path / "app.db")
    store = open_store(database)
    seed_demo_accounts(store.db)
    tokens = {name: api_tokens.create_token(store.db, name)[1] for name in ("alice", "carol")}
    store.close()
    process, base = start_streamlit({"DATABASE_URL": database}, tmp_path / "app.log")
    try:
        for path in ("/", "/console", "/_stcore/health", "/api/approvals", "/static/index.html"):
            answer = served_get(base, path, {"Accept": "text/html", "X-Forwarded-Proto": "https"})
            assert answer.getheader("Content-Security-Policy") == "frame-ancestors 'none'", path
            assert answer.getheader("X-Frame-Options") == "DENY", path
            assert answer.getheader("X-Content-Type-Options") == "nosniff", path  # issue 27, finding 7
            assert answer.getheader("Referrer-Policy") == "same-origin", path
            if path == "/":
                assert "Secure" in answer.getheader("Set-Cookie", "")  # behind a TLS proxy
            if path.startswith("/api/"):
                assert answer.getheader("Cache-Control") == "no-store", path
        # Streamlit's metrics (sessions, memory) for a reviewer's token only; anyone else: not found
        assert [served_get(base, "/_stcore/metrics", {"Authorization": f"Bearer {secret}"} if secret else {}).status
                for secret in (None, "apr_made-up", tokens["carol"], tokens["alice"])] == [404, 404, 404, 200]
        assert store_sessions(database) == 0  # the page loads above wrote no session row: no page ran

        stream_without_token(base, 1024, b"x" * 1024)  # warm the route up before measuring
        before = rss_kib(process.pid)
        status = stream_without_token(base, 500 * 1024 * 1024, b"x" * (1024 * 1024))
        time.sleep(1)
        after = rss_kib(process.pid)
        assert status in (401, None)
        assert after - before < 50 * 1024, f"resident memory grew from {before} KiB to {after} KiB"
    finally:
        stop(process)


def store_sessions(database: str) -> int:
    store = open_store(database)
    try:
        return len(store.db.query("SELECT 1 AS found FROM sessions"))
    finally:
        store.close()


def test_what_schemathesis_found_is_fixed(service: ApprovalService, alice: TestClient):
    """bench/api_fuzz.py: OPTIONS on a route named the wrong methods, and a schema-valid null digest was 422."""
    url = pending_item(service)
    answer = alice.options(url)
    assert (answer.status_code, answer.headers["allow"]) == (405, "POST")
    assert alice.post(url, json={**APPROVE, "request_digest": None}).status_code == 200


def test_a_405_names_the_methods_of_routes_other_modules_add(service: ApprovalService):
    async def extra(request):
        raise AssertionError("not called")

    from starlette.routing import Route

    app = Starlette(routes=[Route("/api/extra", extra, methods=["GET"]), *api_routes(lambda: service)])
    with TestClient(app) as http:
        answer = http.request("TRACE", "/api/extra")
    assert (answer.status_code, answer.headers["allow"]) == (405, "GET, HEAD")


def test_what_schemathesis_found_in_the_oversight_routes_is_fixed(service: ApprovalService):
    from approvals.http.oversight_api import oversight_routes

    _, secret = api_tokens.create_token(service.db, "alice")
    app = Starlette(routes=[*oversight_routes(lambda: service), *api_routes(lambda: service)])
    with TestClient(app, headers={"Authorization": f"Bearer {secret}"}) as http:
        assert http.get("/api/metrics?since=").status_code == 422
        assert http.delete("/api/pauses/0/0").status_code == 404
