"""A webhook endpoint for tests: a real HTTP server on loopback that checks each event's signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "receiver-secret"


class Receiver:
    """A webhook endpoint: answers 503 to its first `failures` POSTs, then 200; keeps every request it got."""

    def __init__(self, port: int = 0, failures: int = 0):
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    refuse = receiver.failures > 0
                    receiver.failures -= refuse
                    if not refuse:
                        receiver.requests.append((dict(self.headers), body))
                self.send_response(503 if refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/approvals"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> dict[str, dict]:
        """Accepted events deduplicated by id, as a receiver must; each signature checked on the raw body."""
        unique = {}
        for headers, body in list(self.requests):
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-Approvals-Signature"], expected)
            event = json.loads(body)
            unique[event["id"]] = event
        return unique

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
