"""API decision latency: POST /api/approvals/.../decision over HTTP against `service.decide` itself, same database.

Ours is what an API client waits for: a real uvicorn on loopback serving the API routes, a keep-alive HTTP
connection, bearer-token lookup, the claim check, the service call in the thread pool and the JSON answer.
The baseline is the same decision made by calling `service.decide` in-process. Target: ours <= 1.2x (medians).
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import uvicorn
from starlette.applications import Starlette

from approvals.http.api import api_routes
from approvals.identity import api_tokens
from approvals.identity.accounts import seed_demo_accounts
from approvals.service.facade import ApprovalService
from bench.common import (
    APPROVE,
    REVIEWER,
    app_service,
    arguments,
    backend_name,
    fresh_database,
    paired_medians,
    ratio_target,
    report,
    request_refunds,
    seconds,
)

WARMUP = 3
TARGET_RATIO = 1.2


@contextmanager
def api_server(service: ApprovalService) -> Iterator[int]:
    """The API routes on a real uvicorn bound to a free loopback port, in a thread; yields the port."""
    app = Starlette(routes=api_routes(lambda: service))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(30)


def main() -> None:
    args = arguments(__doc__, rounds=60)
    with fresh_database(args.database_url) as url, app_service(url) as service, api_server(service) as port:
        seed_demo_accounts(service.db)
        _, secret = api_tokens.create_token(service.db, REVIEWER.name, "bench")
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        pending = request_refunds(service, 2 * (args.rounds + WARMUP))

        def direct(thread_id: str, interrupt_id: str) -> float:
            return seconds(lambda: service.decide(thread_id, interrupt_id, APPROVE, REVIEWER))

        def over_http(thread_id: str, interrupt_id: str) -> float:
            def post() -> None:
                connection.request("POST", f"/api/approvals/{thread_id}/{interrupt_id}/decision",
                                   json.dumps(APPROVE), headers)
                answer = connection.getresponse()
                if answer.status != 200:
                    raise SystemExit(f"the API answered {answer.status}: {answer.read()!r}")
                answer.read()

            return seconds(post)

        baseline_s, ours_s = paired_medians(pending, args.rounds, WARMUP, direct, over_http)
        connection.close()
        report(f"API decision latency, median of {args.rounds}", backend_name(url),
               ("service.decide in-process", baseline_s), ("POST .../decision over HTTP (uvicorn, loopback)", ours_s),
               ratio_target(baseline_s, ours_s, TARGET_RATIO))


if __name__ == "__main__":
    main()
