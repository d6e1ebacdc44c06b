"""The ChatOpenAI path for real: langchain-openai talking HTTP to a small OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ALICE, GUEST
from langchain_openai import ChatOpenAI
from openai_compatible import completion

from approvals.service.facade import ApprovalService
from graphs import build_graph
from graphs.models import ScriptedChatModel, load_model

REFUND_CALL = completion(
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_refund_1",
                "type": "function",
                "function": {"name": "issue_refund", "arguments": json.dumps({"order_id": "1234", "amount": 25})},
            }
        ],
    },
    "tool_calls",
)
SUMMARY = completion({"role": "assistant", "content": "The refund went through."}, "stop")


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers chat completions: a tool call for a fresh request, a summary once a tool result is in the prompt."""

    requests: list[dict] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        answered = any(m["role"] == "tool" for m in body["messages"])
        payload = json.dumps(SUMMARY if answered else REFUND_CALL).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def openai_server(monkeypatch) -> Iterator[list[dict]]:
    FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("OPENAI_MODEL", "test-model")
    yield FakeOpenAI.requests
    server.shutdown()


def test_without_a_key_the_offline_scripted_model_is_used(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert isinstance(load_model(), ScriptedChatModel)


def test_chatopenai_tool_call_stops_for_approval_and_the_result_goes_back(openai_server, store):
    model = load_model()
    assert isinstance(model, ChatOpenAI)
    service = ApprovalService(store, build_graph(store.checkpointer, model, ledger=store.ledger))
    thread_id = service.new_thread_id()

    service.send_message(thread_id, "Please refund order 1234, $25", GUEST)

    pending = service.pending_approval(thread_id, viewer=ALICE)
    assert pending is not None and pending.payload_matches
    assert pending.request.action_requests[0].args == {"order_id": "1234", "amount": 25}
    first = openai_server[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "test-model"
    assert {t["function"]["name"] for t in first["body"]["tools"]} == {
        "issue_refund", "send_email", "delete_customer", "lookup_order"
    }

    service.decide(thread_id, pending.interrupt_id, {"decisions": [{"type": "approve"}]}, GUEST)

    tool_turn = [m for m in openai_server[1]["body"]["messages"] if m["role"] == "tool"]
    assert tool_turn[0]["tool_call_id"] == "call_refund_1"
    assert tool_turn[0]["content"].startswith("Refunded $25.00 on order 1234")
    assert service.messages(thread_id, viewer=ALICE)[-1].content == "The refund went through."
    assert len(store.ledger.entries(thread_id)) == 1
