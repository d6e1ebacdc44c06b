"""Webhook notifications: a signed POST to APPROVAL_WEBHOOK_URL for every new pending approval and every decision.

Why an outbox: the event row is written in the same transaction as the pending row or the decision, so an event
exists exactly when its cause committed, and a crash before delivery loses nothing. A background `Sender` then
delivers each row at least once (receivers dedupe by the event `id`), retrying with a capped backoff. Replicas
share the outbox: a sender claims a batch by pushing its rows' `next_attempt_at` a lease ahead (PostgreSQL:
`FOR UPDATE SKIP LOCKED`; SQLite: the BEGIN IMMEDIATE write lock), so each event is sent by one replica, and a
replica killed mid-send only delays its batch until the lease runs out.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import random
import threading
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from approvals.core.hidden_text import reveal
from approvals.core.records import QueueItem
from approvals.store.database import Database, Row, Transaction, iso, utcnow
from approvals.store.schema import Store

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Approvals-Signature"
DEFAULT_BASE_URL = "http://localhost:8501"
DECISION_WORDS = {"approve": "approved", "edit": "approved with edits", "reject": "rejected",
                  "respond": "answered", "answer": "answered"}


def webhook_url() -> str | None:
    return os.environ.get("APPROVAL_WEBHOOK_URL") or None


def console_link(thread_id: str, interrupt_id: str, request_base: str | None = None) -> str:
    """The deep link that opens the item in the console (after sign-in when needed): APPROVAL_BASE_URL, else the
    host the API request came to (`request_base`), else the default; never a port the app does not run on."""
    base = (os.environ.get("APPROVAL_BASE_URL") or request_base or DEFAULT_BASE_URL).rstrip("/")
    return f"{base}/console?{urlencode({'thread': thread_id, 'interrupt': interrupt_id})}"


# -- writing events (inside the service's transactions) ----------------------------------------------------


def enqueue_pending(tx: Transaction, item: QueueItem) -> None:
    """Queue "approval.pending" for a newly indexed item; nothing when no webhook is configured."""
    what = f"{item.tool} ({item.args_summary})"
    _enqueue(tx, "approval.pending", item.thread_id, item.interrupt_id, {
        "tool": item.tool, "args_summary": item.args_summary, "requester": item.requester, "policy": item.policy,
        "requested_at": item.created_at, "decided_by": None,
        "summary": f"Approval needed: {what} requested by {item.requester}",
    })


def enqueue_decided(tx: Transaction, decision: Row, args_summary: str) -> None:
    """Queue "approval.decided" for a decision row the compare-and-set just inserted."""
    verb = DECISION_WORDS.get(decision["decision"], "decided")
    what = f"{decision['tool']} ({args_summary})"
    _enqueue(tx, "approval.decided", decision["thread_id"], decision["interrupt_id"], {
        "tool": decision["tool"], "args_summary": args_summary, "requester": decision["requested_by"],
        "requested_at": decision["requested_at"], "decision": decision["decision"],
        "decided_by": decision["decided_by"], "decided_at": decision["decided_at"], "message": decision["message"],
        "summary": f"{decision['decided_by']} {verb} {what} requested by {decision['requested_by']}",
    })


def enqueue_progress(tx: Transaction, approval: Row, args_summary: str, progress: str) -> None:
    """Queue "approval.progress": an approval of a multi-approver item that still waits for more approvers."""
    _enqueue(tx, "approval.progress", approval["thread_id"], approval["interrupt_id"], {
        "tool": approval["tool"], "args_summary": args_summary, "requester": approval["requested_by"],
        "requested_at": approval["requested_at"], "decided_by": approval["decided_by"], "progress": progress,
        "summary": f"{approval['decided_by']} approved {approval['tool']} ({args_summary}): {progress}",
    })


def enqueue_escalation(tx: Transaction, item: QueueItem, step: str, rule: str, detail: str, age: str) -> None:
    """Queue "approval.reminder" or "approval.reassigned": the policy's escalation of an undecided item."""
    _enqueue(tx, f"approval.{step}", item.thread_id, item.interrupt_id, {
        "tool": item.tool, "args_summary": item.args_summary, "requester": item.requester,
        "requested_at": item.created_at, "decided_by": f"policy:{rule}", "age": age, "detail": detail,
        "summary": f"Still waiting after {age}: {item.tool} ({item.args_summary}) requested by {item.requester}"
                   f"{'; ' + detail if detail else ''}",
    })


def _enqueue(tx: Transaction, event: str, thread_id: str, interrupt_id: str, fields: dict[str, Any]) -> None:
    if webhook_url() is None:
        return  # nobody listens: an outbox nobody drains would only grow
    event_id, now = uuid.uuid4().hex, utcnow()
    url = console_link(thread_id, interrupt_id)
    summary = fields.pop("summary")
    body = {"event": event, "id": event_id, "created_at": now, "thread_id": thread_id, "interrupt_id": interrupt_id,
            **fields, "url": url, "text": f"{_slack_escape(summary)}. <{url}|Open in the console>"}
    tx.execute(
        "INSERT INTO outbox (event_id, event, body, created_at, attempts, next_attempt_at, last_error)"
        " VALUES (?, ?, ?, ?, 0, ?, '')",
        (event_id, event, json.dumps(body, ensure_ascii=False), now, now),
    )


def _slack_escape(text: str) -> str:
    """Slack reads <...> as links and mentions; args come from the agent, so they must stay plain text, and hidden
    characters are shown escaped as on every screen (the JSON fields keep the exact values, for machines)."""
    return reveal(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(secret: str, body: bytes) -> str:
    """The X-Approvals-Signature value: receivers recompute it over the raw body they got."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- delivering them -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """How a sender paces itself; the defaults suit a real receiver, tests shrink them."""

    poll_s: float = 1.0
    first_retry_s: float = 2.0
    max_retry_s: float = 60.0
    timeout_s: float = 10.0
    batch: int = 5

    @property
    def lease_s(self) -> float:
        """How long other senders leave a claimed batch alone: longer than its POSTs can take, so no event is
        sent by two replicas; a sender killed mid-batch delays the rest of its batch by this much."""
        return self.batch * self.timeout_s + 5.0

    def retry_delay(self, attempts: int) -> float:
        """Exponential from `first_retry_s`, capped, with jitter so replicas do not retry in lockstep."""
        return min(self.max_retry_s, self.first_retry_s * 2 ** (attempts - 1)) * random.uniform(0.8, 1.0)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect of our POST as a GET without the body; report the 3xx instead."""

    def redirect_request(self, *args: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class Sender:
    """A daemon thread that drains the outbox to one webhook URL; `stop()` ends it after the current POST."""

    def __init__(self, db: Database, url: str, secret: str | None, delivery: Delivery = Delivery()):
        self._db, self._url, self._secret, self._delivery = db, url, secret, delivery
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)

    def start(self) -> Sender:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def deliver_due(self) -> int:
        """Claim the events that are due, POST each once, and settle them; returns how many were tried."""
        rows = self._claim()
        for row in rows:
            error = self._post(row["body"].encode())
            self._settle(row, error)
        return len(rows)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                tried = self.deliver_due()
            except Exception:  # the database was unreachable: keep the thread alive and try again
                log.exception("webhook sender: reading the outbox failed")
                tried = 0
            if not tried:
                self._stopping.wait(self._delivery.poll_s)

    def _claim(self) -> list[Row]:
        now = datetime.now(UTC)
        if not self._db.query("SELECT 1 AS due FROM outbox WHERE next_attempt_at <= ? LIMIT 1", (iso(now),)):
            return []  # the common case takes no lock at all
        skip_locked = " FOR UPDATE SKIP LOCKED" if self._db.dialect == "postgres" else ""
        with self._db.transaction() as tx:
            rows = tx.query(
                f"SELECT event_id, body, attempts FROM outbox WHERE next_attempt_at <= ? ORDER BY next_attempt_at"
                f" LIMIT ?{skip_locked}",
                (iso(now), self._delivery.batch),
            )
            if rows:
                tx.execute(
                    f"UPDATE outbox SET next_attempt_at = ? WHERE event_id IN ({', '.join('?' * len(rows))})",
                    (iso(now + timedelta(seconds=self._delivery.lease_s)), *(r["event_id"] for r in rows)),
                )
        return rows

    def _post(self, body: bytes) -> str | None:
        """POST one event; None when the receiver took it (2xx), else what went wrong."""
        headers = {"Content-Type": "application/json", "User-Agent": "agent-approvals-webhook"}
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        request = urllib.request.Request(self._url, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self._delivery.timeout_s) as response:
                response.read()
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (OSError, http.client.HTTPException, ValueError) as error:  # HTTPError and URLError are OSErrors
            return str(error) or type(error).__name__

    def _settle(self, row: Row, error: str | None) -> None:
        if error is None:
            self._db.execute("DELETE FROM outbox WHERE event_id = ?", (row["event_id"],))
            return
        attempts = row["attempts"] + 1
        retry_at = datetime.now(UTC) + timedelta(seconds=self._delivery.retry_delay(attempts))
        log.warning("webhook event %s: try %d failed (%s); next try at %s", row["event_id"], attempts, error,
                    iso(retry_at))
        self._db.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE event_id = ?",
            (attempts, iso(retry_at), error[:500], row["event_id"]),
        )


def start_sender(store: Store, delivery: Delivery = Delivery()) -> Sender | None:
    """Start delivering the outbox to APPROVAL_WEBHOOK_URL (signed with APPROVAL_WEBHOOK_SECRET); None if unset."""
    url = webhook_url()
    if url is None:
        return None
    return Sender(store.db, url, os.environ.get("APPROVAL_WEBHOOK_SECRET") or None, delivery).start()

