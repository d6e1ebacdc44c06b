"""Slack's interactivity endpoint, `POST /slack/actions` on the app's server: the Approve and Reject buttons of the
messages approvals/notify/slack.py posts, and the modal that asks for a reason to reject.

The signature comes first: slack-sdk's SignatureVerifier over `v0:timestamp:body` with APPROVAL_SLACK_SIGNING_SECRET,
the timestamp within 5 minutes; anything else is a 401 and nothing is parsed or saved. A request seen before
(the same signature, within that window) is a replay: 401 too. Then Slack gets its acknowledgement at once (it
gives up after 3 seconds), and the click is carried out after it: the Slack user is mapped to an account (its
`slack_id`, else the account whose email `users.lookupByEmail` names this user) and decides as that account through
the service's one decision command, with the digest of the request the message showed. What happened (a refusal
above all) is told to that user alone (`response_url`, else `chat.postEphemeral`); the message itself is updated
through the outbox once the decision is applied, whichever path made it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from approvals.core.errors import ApprovalError, AwaitingApprovals
from approvals.core.hitl import InvalidDecision
from approvals.identity.accounts import Account
from approvals.notify import slack
from approvals.service.facade import ApprovalService

log = logging.getLogger(__name__)

PATH = "/slack/actions"
MAX_BODY_BYTES = 64_000
"""Slack's payloads for a button or a small modal are a few kilobytes."""
WINDOW_S = 5 * 60
"""Slack's own limit on a request's age; a signature seen within it is not accepted twice."""
REASON_BLOCK = "reason"
REJECT_VIEW = "reject_reason"
MAX_REASON_CHARS = 2_000


def slack_routes(get_service: Callable[[], ApprovalService]) -> list[BaseRoute]:
    """The interactivity endpoint for `st.App(..., routes=...)`."""
    return [Route(PATH, _Actions(get_service).handle, methods=["POST"])]


@dataclass(frozen=True)
class Click:
    """One button press or modal submission, as the signed payload named it."""

    user_id: str
    thread_id: str
    interrupt_id: str
    digest: str
    channel: str
    response_url: str = ""


def _refused(why: str) -> Response:
    return PlainTextResponse(why, 401)


class _Actions:
    def __init__(self, get_service: Callable[[], ApprovalService]):
        self._service = get_service

    async def handle(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return PlainTextResponse("Too large for a Slack interaction.", 413)
        secret = os.environ.get("APPROVAL_SLACK_SIGNING_SECRET", "")
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        signature = request.headers.get("x-slack-signature", "")
        if not secret or not _signed(secret, body, timestamp, signature):
            return _refused("The Slack signature is missing, wrong or too old.")
        if not await run_in_threadpool(self._service().slack_interactions.first_time, signature, WINDOW_S):
            return _refused("This request was already received.")
        try:
            payload = json.loads(parse_qs(body.decode("utf-8"))["payload"][0])
            return self._answer(payload)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            return PlainTextResponse("Not a Slack interaction payload this app sent.", 400)

    def _answer(self, payload: dict[str, Any]) -> Response:
        """Acknowledge at once; the work runs after the answer (a BackgroundTask)."""
        if payload["type"] == "block_actions":
            action = payload["actions"][0]
            if action["action_id"] not in ("approve", "reject"):
                return Response(status_code=200)  # Open in console: a link, nothing to do here
            value = json.loads(action["value"])
            click = Click(payload["user"]["id"], value["thread_id"], value["interrupt_id"], value["digest"],
                          (payload.get("channel") or {}).get("id", ""), payload.get("response_url", ""))
            if action["action_id"] == "approve":
                return Response(status_code=200, background=BackgroundTask(self._decide, click, "approve", ""))
            return Response(status_code=200, background=BackgroundTask(self._ask_reason, click,
                                                                       payload["trigger_id"]))
        if payload["type"] == "view_submission" and payload["view"]["callback_id"] == REJECT_VIEW:
            view = payload["view"]
            reason = (view["state"]["values"][REASON_BLOCK][REASON_BLOCK].get("value") or "").strip()
            if not reason or len(reason) > MAX_REASON_CHARS:
                why = f"Say why you reject it (at most {MAX_REASON_CHARS} characters): the agent is told."
                return JSONResponse({"response_action": "errors", "errors": {REASON_BLOCK: why}})
            meta = json.loads(view["private_metadata"])
            click = Click(payload["user"]["id"], meta["thread_id"], meta["interrupt_id"], meta["digest"],
                          meta["channel"])
            return Response(status_code=200, background=BackgroundTask(self._decide, click, "reject", reason))
        return Response(status_code=200)

    # The methods below run after Slack has its answer, in the thread pool.

    def _account(self, click: Click) -> Account | None:
        account = self._service().slack_interactions.account_for(slack.client(), click.user_id)
        if account is None:
            _tell(click, f"No account of this app is linked to your Slack user ({click.user_id}), so nothing was"
                         " changed. An admin can link it: python -m approvals user set NAME --slack-id"
                         f" {click.user_id}")
        return account

    def _ask_reason(self, click: Click, trigger_id: str) -> None:
        """Reject opens a modal asking why; its submission decides."""
        if self._account(click) is None:
            return
        meta = {"thread_id": click.thread_id, "interrupt_id": click.interrupt_id, "digest": click.digest,
                "channel": click.channel}
        try:
            slack.client().views_open(trigger_id=trigger_id, view={
                "type": "modal", "callback_id": REJECT_VIEW, "private_metadata": json.dumps(meta),
                "title": _plain("Reject"), "submit": _plain("Reject"), "close": _plain("Cancel"),
                "blocks": [{"type": "input", "block_id": REASON_BLOCK, "label": _plain("Reason (the agent is told)"),
                            "element": {"type": "plain_text_input", "action_id": REASON_BLOCK, "multiline": True,
                                        "max_length": MAX_REASON_CHARS}}]})
        except (SlackApiError, OSError) as error:
            log.warning("Slack: the reject modal did not open: %s", error)
            _tell(click, "Slack did not open the form for the reason. Reject it in the console instead.")

    def _decide(self, click: Click, action: str, reason: str) -> None:
        """As the mapped account, through the one decision command; whatever it refuses is told back plainly."""
        account = self._account(click)
        if account is None:
            return
        service, actor = self._service(), account.actor
        try:
            pending = service.pending_approval(click.thread_id, viewer=actor, interrupt_id=click.interrupt_id)
            count = len(pending.request.action_requests) if pending and pending.request else 1
            one = {"type": "approve"} if action == "approve" else {"type": "reject", "message": reason}
            record = service.decide(click.thread_id, click.interrupt_id, {"decisions": [one] * count}, actor,
                                    request_digest=click.digest)
        except AwaitingApprovals as waiting:
            _tell(click, f"Your approval is recorded. {waiting} It runs once enough reviewers have approved it.")
            return
        except (ApprovalError, InvalidDecision) as error:
            _tell(click, f"Nothing was changed: {error}")
            return
        verb = "Approved" if action == "approve" else "Rejected"
        done = "the agent has it." if record.delivered else "the agent gets it as soon as it can be resumed."
        _tell(click, f"{verb} as {account.username}: {done}")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def _signed(secret: str, body: bytes, timestamp: str, signature: str) -> bool:
    """slack-sdk's check: the HMAC of `v0:timestamp:body`, and a timestamp within 5 minutes of now."""
    if not timestamp.isdigit() or not signature:
        return False
    try:
        return SignatureVerifier(secret).is_valid(body, timestamp, signature)
    except (ValueError, UnicodeDecodeError):
        return False


def _tell(click: Click, text: str) -> None:
    """Only to the person who clicked: through the interaction's response_url, else an ephemeral message."""
    try:
        if click.response_url:
            WebhookClient(click.response_url, timeout=slack.TIMEOUT_S).send(
                text=slack.escape(text), response_type="ephemeral", replace_original=False)
        elif click.channel:
            slack.client().chat_postEphemeral(channel=click.channel, user=click.user_id, text=slack.escape(text))
    except (SlackApiError, OSError) as error:
        log.warning("Slack: could not tell %s %r: %s", click.user_id, text, error)
