"""A webhook endpoint for tests: a real HTTP server on loopback that checks each event's signature."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

SECRET = "receiver-secret"


class Receiver:
    """A webhook endpoint: answers its first POSTs with the statuses in `refusals` (then 200), keeps every POST it
    accepted, and counts GETs (a redirected POST that a client followed as a GET, losing the event)."""

    def __init__(self, port: int = 0, refusals: tuple[int, ...] = ()):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.received_at: list[float] = []
        """time.monotonic() of each accepted POST, in the order of `requests` (bench/notify.py)."""
        self.refusals = list(refusals)
        self.gets = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    status = receiver.refusals.pop(0) if receiver.refusals else 200
                    if status == 200:
                        receiver.requests.append((dict(self.headers), body))
                        receiver.received_at.append(time.monotonic())
                self.send_response(status)
                if status in (301, 302, 303):
                    self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                receiver.gets += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/approvals"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> dict[str, dict]:
        """Accepted events deduplicated by id, as a receiver must."""
        return {event["id"]: event for event in self.all_events()}

    def all_events(self) -> list[dict]:
        """Every accepted POST's event in arrival order, duplicates included; each signature checked on the raw
        body."""
        events = []
        for headers, body in list(self.requests):
            event = Webhook(SECRET.encode()).verify(body, headers)  # Standard Webhooks: id, timestamp, signature
            assert {k.lower(): v for k, v in headers.items()}["webhook-id"] == event["id"]
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()  # the older header
            assert hmac.compare_digest(headers["X-Approvals-Signature"], expected)
            events.append(event)
        return events

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
