"""The API and the webhook sender as `streamlit run app.py` serves them: same port as the UI, same service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ALICE, CAROL, ROOT
from harness import start_streamlit, stop
from webhook_receiver import SECRET, Receiver

from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store


def call(method: str, url: str, token: str | None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def token_for(username: str, database: str) -> str:
    made = subprocess.run([sys.executable, "-m", "approvals", "token", "create", username], cwd=ROOT, check=True,
                          env={**os.environ, "DATABASE_URL": database}, capture_output=True, text=True)
    return made.stdout.strip()


def test_the_served_app_answers_the_api_and_notifies_a_webhook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    database = str(tmp_path / "app.db")
    receiver = Receiver()
    webhook = {"APPROVAL_WEBHOOK_URL": receiver.url, "APPROVAL_WEBHOOK_SECRET": SECRET}
    for name, value in webhook.items():
        monkeypatch.setenv(name, value)  # this process writes events too: it plays the agent's requester
    app, base = start_streamlit({"DATABASE_URL": database, **webhook}, tmp_path / "app.log")
    try:
        store = open_store(database)
        try:
            service = ApprovalService(store)
            thread_id = service.new_thread_id()
            service.send_message(thread_id, "Email jo@example.com about the delay", CAROL)
            interrupt_id = service.pending_approval(thread_id, viewer=ALICE).interrupt_id
        finally:
            store.close()
        alice, carol = token_for("alice", database), token_for("carol", database)

        assert call("GET", f"{base}/api/approvals", None)[0] == 401
        status, queue = call("GET", f"{base}/api/approvals", alice)
        assert status == 200 and [item["thread_id"] for item in queue["items"]] == [thread_id]
        decision_url = f"{base}/api/approvals/{thread_id}/{interrupt_id}/decision"
        assert call("POST", decision_url, carol, {"decisions": [{"type": "approve"}]})[0] == 403
        assert call("POST", decision_url, alice, {"decisions": [{"type": "approve"}]})[0] == 200
        assert call("POST", decision_url, alice, {"decisions": [{"type": "approve"}]})[0] == 409

        deadline = time.monotonic() + 60
        while {e["event"] for e in receiver.events().values()} != {"approval.pending", "approval.decided",
                                                                     "audit.head"}:
            assert time.monotonic() < deadline, f"events so far: {receiver.events()}"
            time.sleep(0.1)
        decided = next(e for e in receiver.events().values() if e["event"] == "approval.decided")
        assert (decided["thread_id"], decided["decided_by"], decided["tool"]) == (thread_id, "alice", "send_email")
    finally:
        stop(app)
        receiver.close()
