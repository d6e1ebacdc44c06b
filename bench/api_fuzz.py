"""Schemathesis against the served JSON API: every operation in /api/openapi.json, with a reviewer's token, on a
scratch database, through `streamlit run app.py` itself (the middleware, the limits and the routes as deployed).

Passes when schemathesis finds no 5xx, no response that breaks the documented schema or status codes, and no
accepted input the schema forbids. Needs `pip install schemathesis` (a bench-only dependency; it resolves beside
our pins). Prints schemathesis' own summary and exits with its status.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)

from approvals.identity import api_tokens
from approvals.identity.accounts import seed_demo_accounts
from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store
from bench.common import REQUESTER, arguments, fresh_database

REQUESTS = ["Refund order 1234 for $25", "Refund order 55 for $250", "Email jo@example.com about the delay",
            "Delete customer 77"]


def seed(database: str) -> str:
    """Pending items of every tool, and a reviewer's API token (returned)."""
    store = open_store(database)
    try:
        seed_demo_accounts(store.db)
        service = ApprovalService(store)
        for text in REQUESTS:
            service.send_message(service.new_thread_id(), text, REQUESTER)
        return api_tokens.create_token(store.db, "alice", "schemathesis")[1]
    finally:
        store.close()


def serve(database: str, log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DATABASE_URL": database, "APPROVAL_DEMO": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1):
                return process, base
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit(f"the app did not start:\n{log.read_text()}")


def main() -> int:
    args = arguments(__doc__.splitlines()[0], examples=100)
    with fresh_database(args.database_url) as database, tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        token = seed(database)
        process, base = serve(database, Path(scratch) / "app.log")
        try:
            return subprocess.run(
                [sys.executable, "-m", "schemathesis.cli", "run", f"{base}/api/openapi.json",
                 "--header", f"Authorization: Bearer {token}", "--checks", "all", "--max-examples",
                 str(args.examples), "--seed", "19", "--max-response-time", "10"],
                cwd=scratch, check=False).returncode
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
