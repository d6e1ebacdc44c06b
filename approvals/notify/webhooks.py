"""Webhook notifications: a signed POST to APPROVAL_WEBHOOK_URL for every new pending approval and every decision.

The event row is written to the outbox (approvals/notify/outbox.py) in the same transaction as the pending row or the
decision; a `Sender` (the scheduler's "outbox-webhook" job) delivers each at least once (receivers dedupe by the event
`id`), one replica sending each, retrying with a capped backoff.

Signed in the Standard Webhooks form (`webhook-id`: the event id, the same on every retry; `webhook-timestamp`: when
this attempt was sent; `webhook-signature`: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), so a receiver using
any Standard Webhooks library refuses a replayed capture once it is older than its tolerance (5 minutes). The older
`X-Approvals-Signature` (an HMAC of the body alone, which a replay passes) is sent beside it for one more release.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from standardwebhooks.webhooks import Webhook

from approvals.core.hidden_text import reveal
from approvals.core.records import QueueItem
from approvals.notify.outbox import Delivery, OutboxSender
from approvals.store import outbox
from approvals.store.database import Database, Row, Transaction, utcnow

SIGNATURE_HEADER = "X-Approvals-Signature"
"""Deprecated: kept for one release beside the Standard Webhooks headers, then dropped."""
DEFAULT_BASE_URL = "http://localhost:8501"
DECISION_WORDS = {"approve": "approved", "edit": "approved with edits", "reject": "rejected",
                  "respond": "answered", "answer": "answered"}


def webhook_url() -> str | None:
    return os.environ.get("APPROVAL_WEBHOOK_URL") or None


def console_link(thread_id: str, interrupt_id: str) -> str:
    """The deep link that opens the item in the console (after sign-in when needed), on APPROVAL_BASE_URL (default
    http://localhost:8501). Never on the Host a request named: anyone can send any Host, and a link that leads
    elsewhere would carry a reviewer there."""
    base = (os.environ.get("APPROVAL_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
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


def enqueue_audit_head(tx: Transaction, seq: int, head_hash: str, signature: str, public_key: str) -> None:
    """Queue "audit.head": the audit chain's new signed head, so a receiver outside the database can witness it
    (`audit verify --heads FILE` checks the chain against the heads it kept). APPROVAL_AUDIT_HEADS_WEBHOOK=0
    leaves them out (a receiver that only posts to a chat channel)."""
    if webhook_url() is None or os.environ.get("APPROVAL_AUDIT_HEADS_WEBHOOK", "1") == "0":
        return
    event_id, now = uuid.uuid4().hex, utcnow()
    _store(tx, {"event": "audit.head", "id": event_id, "created_at": now, "seq": seq, "hash": head_hash,
                "signature": signature, "public_key": public_key,
                "text": f"Audit log: head signed at seq {seq} ({head_hash[:16]}…)"})


def _enqueue(tx: Transaction, event: str, thread_id: str, interrupt_id: str, fields: dict[str, Any]) -> None:
    if webhook_url() is None:
        return  # nobody listens: an outbox nobody drains would only grow
    event_id, now = uuid.uuid4().hex, utcnow()
    url = console_link(thread_id, interrupt_id)
    summary = fields.pop("summary")
    _store(tx, {"event": event, "id": event_id, "created_at": now, "thread_id": thread_id,
                "interrupt_id": interrupt_id, **fields, "url": url,
                "text": f"{_slack_escape(summary)}. <{url}|Open in the console>"})


def _store(tx: Transaction, body: dict[str, Any]) -> None:
    outbox.add_webhook_event(tx, body["id"], body["event"], json.dumps(body, ensure_ascii=False), body["created_at"])


def _slack_escape(text: str) -> str:
    """Slack reads <...> as links and mentions; args come from the agent, so they must stay plain text, and hidden
    characters are shown escaped as on every screen (the JSON fields keep the exact values, for machines)."""
    return reveal(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def signature(secret: str, body: bytes) -> str:
    """The X-Approvals-Signature value: receivers recompute it over the raw body they got."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_webhook(secret: str) -> Webhook:
    """The Standard Webhooks signer for APPROVAL_WEBHOOK_SECRET: a `whsec_<base64>` secret as the standard reads
    it, any other value as its UTF-8 bytes (the receiver then builds `Webhook(secret.encode())`)."""
    return Webhook(secret if secret.startswith("whsec_") else secret.encode())


def signed_headers(secret: str, event_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """The signature headers of one attempt: Standard Webhooks' three, and the deprecated one."""
    return {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": standard_webhook(secret).sign(event_id, now, body.decode()),
            SIGNATURE_HEADER: signature(secret, body)}


# -- delivering them -------------------------------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect of our POST as a GET without the body; report the 3xx instead."""

    def redirect_request(self, *args: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class Sender(OutboxSender):
    """Drains the outbox's webhook rows to one URL, each POST signed with the secret when there is one."""

    def __init__(self, db: Database, url: str, secret: str | None, delivery: Delivery = Delivery()):
        super().__init__(db, delivery)
        self._url, self._secret = url, secret

    def send(self, row: Row) -> str | None:
        return self._post(row["event_id"], row["body"].encode())

    def _post(self, event_id: str, body: bytes) -> str | None:
        """POST one event; None when the receiver took it (2xx), else what went wrong."""
        headers = {"Content-Type": "application/json", "User-Agent": "agent-approvals-webhook"}
        if self._secret:
            headers.update(signed_headers(self._secret, event_id, body, datetime.now(UTC)))
        request = urllib.request.Request(self._url, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self.delivery.timeout_s) as response:
                response.read()
                return None if 200 <= response.status < 300 else f"HTTP {response.status}"
        except (OSError, http.client.HTTPException, ValueError) as error:  # HTTPError and URLError are OSErrors
            return str(error) or type(error).__name__


def sender(db: Database, delivery: Delivery = Delivery()) -> Sender | None:
    """The sender to APPROVAL_WEBHOOK_URL (signed with APPROVAL_WEBHOOK_SECRET); None when no URL is set."""
    url = webhook_url()
    if url is None:
        return None
    return Sender(db, url, os.environ.get("APPROVAL_WEBHOOK_SECRET") or None, delivery)

