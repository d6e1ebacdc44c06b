"""A slow OpenAI-compatible chat server on 127.0.0.1 for runs that must outlive a crash, and for bench/runs.py.

Speaks the chat-completions protocol that ChatOpenAI uses (built on test_openai's `completion`): "Refund order N
for $X" gets an `issue_refund` tool call with a fresh call id per request (the ledger keys side effects by it),
a prompt with a tool result gets a summary. Each answer waits `delay` seconds first, as a real model does; with
`failing` set it answers 503, the way a provider that is down does.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def completion(message: dict, finish_reason: str) -> dict:
    """One chat completion as the OpenAI API answers it (the stand-in's replies and test_openai's)."""
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


REFUND = re.compile(r"refund order (\w+) for \$(\d+(?:\.\d+)?)", re.IGNORECASE)


class OpenAICompatibleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, delay: float):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        self.failing = False
        self.started = threading.Event()
        """Set when a completion request has arrived: the model call is in flight."""
        self.calls = 0
        self.in_flight = 0
        self.peak = 0
        """The most calls answered at once: how many model calls the engine under test really overlaps."""
        self._count = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/v1"

    def env(self) -> dict[str, str]:
        """What points ChatOpenAI (in this process or a child) at this server."""
        return {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": self.base_url, "OPENAI_MODEL": "test-model"}


def answer(messages: list[dict]) -> dict:
    """A tool call for a refund request, a summary once a tool result is in, a plain reply otherwise."""
    if any(m["role"] == "tool" for m in messages):
        return completion({"role": "assistant", "content": "The refund went through."}, "stop")
    asked = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "") or ""
    if (match := REFUND.search(str(asked))) is None:
        return completion({"role": "assistant", "content": "How can I help?"}, "stop")
    call = {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": {
        "name": "issue_refund", "arguments": json.dumps({"order_id": match[1], "amount": float(match[2])})}}
    return completion({"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls")


class _Handler(BaseHTTPRequestHandler):
    server: OpenAICompatibleServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server._count:
            self.server.calls += 1
            self.server.in_flight += 1
            self.server.peak = max(self.server.peak, self.server.in_flight)
        self.server.started.set()
        time.sleep(self.server.delay)
        with self.server._count:
            self.server.in_flight -= 1
        if self.server.failing:
            self._send(503, {"error": {"message": "the model is overloaded", "type": "server_error"}})
        else:
            self._send(200, answer(body["messages"]))

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client was killed mid-call
            self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(delay: float = 0.0) -> Iterator[OpenAICompatibleServer]:
    server = OpenAICompatibleServer(delay)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
