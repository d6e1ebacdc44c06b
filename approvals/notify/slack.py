"""The Slack channel: a Block Kit message per reviewer with Approve, Reject and Open in console, updated when the
item is decided on any path.

Sent with slack-sdk's WebClient (APPROVAL_SLACK_BOT_TOKEN; APPROVAL_SLACK_API_URL overrides the Web API's address)
to the reviewer's direct messages (their account's `slack_id`), or to APPROVAL_SLACK_CHANNEL for reviewers without
one (posted there once per item and event, whoever else it is for). Every value came from an agent or a person:
it goes out in `plain_text` objects, which Slack never reads as markup or mentions, with hidden characters written
as escapes (approvals/core/human.py). Each posted message (channel, ts) is remembered with its blocks, so that a
decision, made anywhere, replaces its buttons with who decided and when (`chat.update`, through the outbox).
The buttons' clicks come back to approvals/http/slack_actions.py.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals.identity.accounts import Account, list_accounts
from approvals.notify.channels import ChannelFailed, ChannelKind, Notification, Recipient
from approvals.notify.email import call_lines, facts
from approvals.notify.outbox import Delivery, OutboxSender
from approvals.store import decisions, outbox
from approvals.store import slack as stored
from approvals.store.database import Database, Row, Transaction, iso, utcnow

log = logging.getLogger(__name__)

NAME = "slack"
UPDATES = "slack.update"
"""The outbox channel of the messages' updates once their item is decided (one row per decided item)."""
DEFAULT_API_URL = "https://slack.com/api/"
TIMEOUT_S = 20
OUTCOMES = {"approve": "Approved", "edit": "Approved with edits", "reject": "Rejected", "withdraw": "Withdrawn",
            "respond": "Answered", "answer": "Answered", "mixed": "Decided"}
MAX_TEXT = 2900
"""Slack refuses a section's text over 3000 characters: longer arguments are cut, and the console has them all."""


def configured() -> bool:
    return bool(os.environ.get("APPROVAL_SLACK_BOT_TOKEN"))


def shared_channel() -> str:
    """APPROVAL_SLACK_CHANNEL: where reviewers without a Slack id are told ("" when nowhere)."""
    return os.environ.get("APPROVAL_SLACK_CHANNEL", "").strip()


def reaches(recipient: Recipient) -> bool:
    return bool(recipient.slack_id or shared_channel())


def client() -> WebClient:
    base = os.environ.get("APPROVAL_SLACK_API_URL") or DEFAULT_API_URL
    return WebClient(token=os.environ.get("APPROVAL_SLACK_BOT_TOKEN", ""), base_url=base.rstrip("/") + "/",
                     timeout=TIMEOUT_S)


class SlackChannel:
    """Posts one message per notification, to the reviewer's DM or (once per item and event) the shared channel."""

    def __init__(self, db: Database, web: WebClient):
        self._db, self._web = db, web

    def send(self, notification: Notification, recipient: Recipient) -> None:
        address = recipient.slack_id or shared_channel()
        if not recipient.slack_id and self._posted(notification, address):
            return  # the shared channel already shows this item to everyone in it
        blocks = message_blocks(notification)
        try:
            channel = self._web.conversations_open(users=address)["channel"]["id"] if recipient.slack_id \
                else address
            posted = self._web.chat_postMessage(channel=channel, text=escape(notification.headline()),
                                                blocks=blocks, unfurl_links=False, unfurl_media=False)
        except SlackApiError as error:
            raise ChannelFailed(f"Slack refused the message: {error.response.get('error', error)}") from error
        stored.remember_message(self._db, posted["channel"], posted["ts"], notification.thread_id,
                                notification.interrupt_id, address, notification.event,
                                json.dumps(blocks, ensure_ascii=False), utcnow())
        self._update_if_decided(notification, posted["channel"], posted["ts"], blocks)

    def _update_if_decided(self, notification: Notification, channel: str, ts: str,
                           blocks: list[dict[str, Any]]) -> None:
        """Decided while this message was on its way: the update queued then did not see it, so update it now."""
        row = decisions.decision_row(self._db, notification.thread_id, notification.interrupt_id)
        if row is not None and row["applied_at"] is not None:
            outcome = outcome_text(row["decision"], row["decided_by"], row["decided_at"], row["message"] or "")
            try:
                self._web.chat_update(channel=channel, ts=ts, text=escape(outcome),
                                      blocks=decided_blocks(blocks, outcome))
            except SlackApiError as error:
                raise ChannelFailed(f"Slack refused the update: {error.response.get('error', error)}") from error

    def _posted(self, notification: Notification, address: str) -> bool:
        return stored.posted_before(self._db, notification.thread_id, notification.interrupt_id, address,
                                    notification.event)


def open_channel(db: Database) -> SlackChannel:
    return SlackChannel(db, client())


KIND = ChannelKind(NAME, configured, reaches, open_channel)


class Interactions:
    """What Slack's interactivity endpoint (approvals/http/slack_actions.py) needs of the database, bound to it:
    whether a signed request was taken before, and which account a Slack user acts as."""

    def __init__(self, db: Database):
        self._db = db

    def first_time(self, signature: str, window_s: float) -> bool:
        """Remember the signature (shared by every replica); False when it was seen within `window_s`: a replay."""
        now = datetime.now(UTC)
        return stored.first_sighting(self._db, signature, iso(now), iso(now - timedelta(seconds=2 * window_s)))

    def account_for(self, web: WebClient, user_id: str) -> Account | None:
        """The account a Slack user acts as: the one with that `slack_id`, else one (without a Slack id) whose
        email `users.lookupByEmail` says is this user's."""
        everyone = list_accounts(self._db)
        linked = [account for account in everyone if account.slack_id == user_id]
        if linked:
            return linked[0]
        for account in everyone:
            if account.email and not account.slack_id:
                try:
                    if web.users_lookupByEmail(email=account.email)["user"]["id"] == user_id:
                        return account
                except (SlackApiError, OSError):
                    continue  # no Slack user has that address (or Slack did not answer: not this one, then)
        return None


# -- the message ---------------------------------------------------------------------------------------------


def button_value(thread_id: str, interrupt_id: str, request_digest: str) -> str:
    """What a button carries back: the item and the digest of the request the message showed."""
    return json.dumps({"thread_id": thread_id, "interrupt_id": interrupt_id, "digest": request_digest})


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:MAX_TEXT] or " ", "emoji": False}


def message_blocks(notification: Notification) -> list[dict[str, Any]]:
    """The request in the console's words, then Approve / Reject (tool calls only) and Open in console."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(notification.headline()[:150])}]
    for action in notification.actions:
        blocks.append({"type": "section", "text": _plain("\n".join(line.strip() for line in call_lines(action)))})
    if notification.question:
        blocks.append({"type": "section", "text": _plain(f"Question: {notification.question}")})
    blocks.append({"type": "context", "elements": [
        _plain(" · ".join(f"{label}: {value}" for label, value in facts(notification)))]})
    buttons: list[dict[str, Any]] = []
    if notification.decidable:
        value = button_value(notification.thread_id, notification.interrupt_id, notification.request_digest)
        buttons += [
            {"type": "button", "action_id": "approve", "text": _plain("Approve"), "style": "primary", "value": value},
            {"type": "button", "action_id": "reject", "text": _plain("Reject"), "style": "danger", "value": value},
        ]
    buttons.append({"type": "button", "action_id": "open", "text": _plain("Open in console"),
                    "url": notification.console_url})
    return [*blocks, {"type": "actions", "block_id": "decide", "elements": buttons}]


def escape(text: str) -> str:
    """Text outside the blocks (a notification's preview, a reply): Slack reads <, > and & in it as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def outcome_text(decision: str, decided_by: str, decided_at: str, message: str = "") -> str:
    """"Approved by alice at 14:02 UTC", "Rejected by bob at 14:05 UTC: not this customer"."""
    try:
        at = datetime.fromisoformat(decided_at).astimezone(UTC).strftime("%H:%M UTC")
    except ValueError:
        at = decided_at
    text = f"{OUTCOMES.get(decision, 'Decided')} by {decided_by} at {at}"
    return f"{text}: {message}" if message and decision == "reject" else text


# -- updates once decided --------------------------------------------------------------------------------------


def enqueue_decided(tx: Transaction, decision: Row) -> None:
    """Queue the update of the item's Slack messages, in the transaction that marked its decision delivered."""
    if not configured():
        return
    now = utcnow()
    body = {"thread_id": decision["thread_id"], "interrupt_id": decision["interrupt_id"],
            "outcome": outcome_text(decision["decision"], decision["decided_by"], decision["decided_at"],
                                    decision["message"] or "")}
    outbox.add_notification(tx, uuid.uuid4().hex, "slack.decided", json.dumps(body, ensure_ascii=False), now, UPDATES,
                            "")


def decided_blocks(blocks: list[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    """The message as it was, its buttons gone, and who decided."""
    kept = [block for block in blocks if block.get("type") != "actions"]
    return [*kept, {"type": "section", "text": _plain(outcome)}]


class SlackUpdates(OutboxSender):
    """Rewrites every message posted about a decided item (chat.update; repeating one is harmless)."""

    channel = UPDATES

    def __init__(self, db: Database, delivery: Delivery = Delivery(), web: WebClient | None = None):
        super().__init__(db, delivery)
        self._web = web or client()

    def send(self, row: Row) -> str | None:
        body = json.loads(row["body"])
        messages = stored.item_messages(self._db, body["thread_id"], body["interrupt_id"])
        try:
            for message in messages:
                self._web.chat_update(channel=message["channel"], ts=message["ts"], text=escape(body["outcome"]),
                                      blocks=decided_blocks(json.loads(message["blocks"]), body["outcome"]))
        except SlackApiError as error:
            return f"Slack refused the update: {error.response.get('error', error)}"
        except OSError as error:
            return str(error) or type(error).__name__
        return None
