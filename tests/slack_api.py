"""A stand-in for Slack's Web API on loopback, for slack-sdk's WebClient (APPROVAL_SLACK_API_URL points here).

It records each call it gets (chat.postMessage, chat.update, chat.postEphemeral, views.open, conversations.open,
users.lookupByEmail) and what was POSTed to an interaction's `response_url` (`/response/<n>`), and answers as Slack's
documentation shows: `{"ok": true, "channel": ..., "ts": ...}`, `{"ok": false, "error": "users_not_found"}`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SHARED_CHANNEL_ID = "C0APPROVALS"


@dataclass(frozen=True)
class Call:
    method: str
    """The Web API method (`chat.postMessage`), or `response` for a POST to a response_url."""
    args: dict[str, Any]
    path: str = ""
    reply: dict[str, Any] = field(default_factory=dict)
    """What the stand-in answered."""
    at: float = field(default_factory=time.monotonic)
    """When it arrived (time.monotonic: bench/notify.py measures up to here)."""


class SlackApi:
    """Keeps every call; `users` maps email addresses to Slack user ids (for users.lookupByEmail)."""

    def __init__(self, users: dict[str, str] | None = None):
        self.calls: list[Call] = []
        self.users = dict(users or {})
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "json" in self.headers.get("Content-Type", ""):
                    args = json.loads(raw or "{}")
                else:
                    args = dict(parse_qsl(raw))
                self._answer(args)

            def do_GET(self) -> None:
                self._answer({})

            def _answer(self, args: dict[str, Any]) -> None:
                url = urlsplit(self.path)
                args = {**dict(parse_qsl(url.query)), **args}
                if url.path.startswith("/response/"):
                    api.record(Call("response", args, url.path, {"ok": True}))
                    self._send({"ok": True})
                    return
                method = url.path.removeprefix("/api/")
                reply = api.answer(method, args)
                api.record(Call(method, args, url.path, reply))
                self._send(reply)

            def _send(self, reply: dict[str, Any]) -> None:
                body = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.url = f"{self.base}/api/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Slack's documented replies, shortened to the fields the app reads."""
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(args["users"]).removeprefix("U")}}
        if method == "chat.postMessage":
            channel = SHARED_CHANNEL_ID if str(args["channel"]).startswith("#") else args["channel"]
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            return {"ok": True, "channel": channel, "ts": ts, "message": {"text": args.get("text"), "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": args["channel"], "ts": args["ts"], "text": args.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}
        if method == "views.open":
            return {"ok": True, "view": {"id": "V0MODAL", **args.get("view", {})}}
        if method == "users.lookupByEmail":
            user = self.users.get(str(args.get("email", "")))
            return {"ok": True, "user": {"id": user}} if user else {"ok": False, "error": "users_not_found"}
        return {"ok": False, "error": "unknown_method"}

    def response_url(self, name: str) -> str:
        return f"{self.base}/response/{name}"

    def of(self, method: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.method == method]

    def wait_for(self, method: str, match: Any = lambda call: True, count: int = 1, timeout: float = 60) -> list[Call]:
        """The calls of `method` that `match`, once there are `count` of them (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [call for call in self.of(method) if match(call)]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{count} {method} wanted; all calls: {self.calls}"
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
