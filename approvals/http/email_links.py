"""The pages behind email's Approve and Reject links (`/email/<token>`, on the app's own server).

A GET or HEAD never decides: mail scanners and link previews fetch every link. It shows what will run and a button
(**Approve**, or **Reject** with a reason) that POSTs. The POST is refused unless it comes from that page (its form
token, bound to the link) on this site (Origin, Sec-Fetch-Site); then the link's reviewer decides through the
service's one decision command, with the request digest the email showed. A link that is someone else's (a signed-in
session of another person), expired, used, or whose request changed or was decided says so, and changes nothing.
"Signed in" is the app's own session cookie: with `st.login`, Streamlit's cookie is not readable here, so only the
link's binding to its reviewer applies.
"""

from __future__ import annotations

import hmac
import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError, AwaitingApprovals
from approvals.core.hitl import InvalidDecision
from approvals.core.human import ActionText, actions_text, age_text
from approvals.http.limits import ApiError, capped_body
from approvals.http.refusals import refusal
from approvals.identity import sessions
from approvals.notify import email
from approvals.notify.links import ActionLink
from approvals.service.facade import ApprovalService
from graphs.tools import ARGS_MODELS

MAX_FORM_BYTES = 8_192
MAX_REASON_CHARS = 2_000
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",  # the token is in the URL: never pass it on to another site (and
    # not no-referrer: browsers then send "Origin: null" with the form, which the cross-site check refuses)
}
OUTCOMES = {"approve": "Approved", "edit": "Approved with edits", "reject": "Rejected", "withdraw": "Withdrawn",
            "respond": "Answered", "answer": "Answered", "mixed": "Decided"}
CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
"""In a meta tag: the app's SecurityHeadersMiddleware owns the Content-Security-Policy header (frame-ancestors)."""
STYLE = ("body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.4}"
         "pre{white-space:pre-wrap;background:#f4f4f4;padding:.5rem}button{font-size:1rem;padding:.4rem 1.2rem}"
         "textarea{width:100%}")


def email_routes(get_service: Callable[[], ApprovalService]) -> list[BaseRoute]:
    """The link pages for `st.App(..., routes=...)`; Starlette answers HEAD as it answers GET, without a body."""
    pages = _LinkPages(get_service)
    return [Route(email.LINK_PATH + "{token}", pages.handle, methods=["GET", "POST"])]


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    paragraphs: tuple[str, ...] = ()
    body_html: str = ""
    """Already escaped (the confirmation's calls and form)."""


class _LinkPages:
    def __init__(self, get_service: Callable[[], ApprovalService]):
        self._service = get_service

    async def handle(self, request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "POST":
            try:
                form = dict(parse_qsl((await capped_body(request, MAX_FORM_BYTES)).decode("utf-8", "replace")))
            except ApiError:
                return _render(Page(413, "Too large", ("The form was larger than this page ever sends.",)))
            page = await run_in_threadpool(self._post, request, token, form)
        else:
            page = await run_in_threadpool(self._get, request, token)
        return _render(page)

    # -- what a link may do now ------------------------------------------------------------------------------

    def _get(self, request: Request, token: str) -> Page:
        checked = self._check(request, token)
        if isinstance(checked, Page):
            return checked
        link, actor = checked
        return self._confirmation(link, actor)

    def _post(self, request: Request, token: str, form: dict[str, str]) -> Page:
        if (refused := _cross_site(request)) is not None:
            return refused
        checked = self._check(request, token)
        if isinstance(checked, Page):
            return checked
        link, actor = checked
        service = self._service()
        action_links = service.action_links
        if not hmac.compare_digest(form.get("form_token", ""), action_links.form_token(link)):
            return Page(403, "Not sent from this page", ("Open the link from your email and use its button.",))
        reason = form.get("reason", "").strip()
        if link.action == "reject" and not reason:
            return self._confirmation(link, actor, "Say why you reject it: the agent is told the reason.")
        if len(reason) > MAX_REASON_CHARS:
            return self._confirmation(link, actor, f"The reason is longer than {MAX_REASON_CHARS} characters.")
        if not action_links.use(link):
            return self._used(link)
        try:
            record = service.decide(link.thread_id, link.interrupt_id, _response(service, link, actor, reason),
                                    actor, request_digest=link.request_digest)
        except AwaitingApprovals as waiting:
            return Page(202, "Your approval is recorded", (
                f"{waiting} It runs once enough reviewers have approved it.",))
        except (ApprovalError, InvalidDecision) as error:
            action_links.release(link)
            return Page(refusal(error).status, "Nothing was changed", (str(error),))
        verb = "Approved" if link.action == "approve" else "Rejected"
        done = "The agent has it." if record.delivered else \
            "The agent gets it as soon as it can be resumed; the console shows its progress."
        return Page(200, f"{verb}", (f"{verb} by {record.decided_by} at {_time(record.decided_at)}. {done}",))

    def _check(self, request: Request, token: str) -> Page | tuple[ActionLink, Actor]:
        """The link and the person it acts as, or the page saying why it cannot be used now."""
        try:
            return self._checked(request, token)
        except ApprovalError as error:
            return Page(refusal(error).status, "Nothing was changed", (str(error),))

    def _checked(self, request: Request, token: str) -> Page | tuple[ActionLink, Actor]:
        service = self._service()
        link = service.action_links.read(token)
        if link is None:
            return Page(404, "This link does not work", (
                "It is not a link this app sent, or it was cut short. Open the item from the console instead.",))
        someone = service.identity.actor_for(request.cookies.get(sessions.COOKIE))
        if someone is not None and someone.signed_in and someone.name != link.username:
            return Page(403, "This link is someone else's", (
                f"It was sent to {link.username}, and you are signed in as {someone.name}. Nothing was changed.",))
        account = service.identity.get_account(link.username)
        if account is None:
            return Page(403, "This link's account is gone", (f"There is no account {link.username!r} any more.",))
        decided = service.decision(link.thread_id, link.interrupt_id, viewer=account.actor)
        if decided is not None:
            return Page(409, "Already decided", (
                f"{OUTCOMES.get(decided.decision, decided.decision)} by {decided.decided_by} at"
                f" {_time(decided.decided_at)}."
                " Nothing was changed.",))
        if link.used_at is not None:
            return self._used(link)
        if link.expired():
            return Page(410, "This link has expired", (
                f"It worked until {_time(link.expires_at)}. Open the item in the console to decide it.",))
        pending = service.pending_approval(link.thread_id, viewer=account.actor, interrupt_id=link.interrupt_id)
        if pending is None:
            return Page(409, "No longer waiting", ("This request is not waiting for a decision any more.",))
        if pending.request_digest != link.request_digest:
            return Page(409, "The request changed", (
                "It is not the request this email showed. Look at it again in the console before deciding."
                " Nothing was changed.",))
        return link, account.actor

    def _used(self, link: ActionLink) -> Page:
        """A used link on an item still waiting: the multi-approver case (or a refused, released race)."""
        return Page(409, "This link was used", (
            f"{link.username} used it at {_time(link.used_at or '')}; the request is still waiting for other"
            " reviewers. Nothing was changed.",))

    def _confirmation(self, link: ActionLink, actor: Actor, problem: str = "") -> Page:
        """What will run, who asked, under which rule, and the one button that decides."""
        service = self._service()
        pending = service.pending_approval(link.thread_id, viewer=actor, interrupt_id=link.interrupt_id)
        if pending is None or pending.request is None:
            return Page(409, "No longer waiting", ("This request is not waiting for a decision any more.",))
        verdict, approved_by = service.approval_state(pending)
        e = html.escape
        calls = "".join(_call_html(action) for action in actions_text(pending.request, ARGS_MODELS))
        rule = verdict.rule + (f" · {len(approved_by)} of {verdict.approvers} approvals" if verdict.approvers > 1
                               else "")
        facts = (f"<p>Requested by {e(pending.review.requested_by)} · rule {e(rule)} · waiting"
                 f" {e(age_text(pending.review.created_at))}</p>")
        warning = f'<p role="alert"><strong>{e(problem)}</strong></p>' if problem else ""
        field = ('<p><label for="reason">Reason (the agent is told)</label><br>'
                 f'<textarea id="reason" name="reason" rows="3" maxlength="{MAX_REASON_CHARS}" required></textarea>'
                 "</p>") if link.action == "reject" else ""
        button = "Approve" if link.action == "approve" else "Reject"
        form = (f'<form method="post">{field}<input type="hidden" name="form_token"'
                f' value="{e(service.action_links.form_token(link))}">'
                f'<button type="submit">{button}</button></form>')
        lead = "This will run:" if link.action == "approve" else "This will not run, and the agent is told why:"
        return Page(400 if problem else 200, f"{button} this request?",
                    (f"You are deciding as {link.username}.",), f"<p>{e(lead)}</p>{calls}{facts}{warning}{form}")


def _response(service: ApprovalService, link: ActionLink, actor: Actor, reason: str) -> dict:
    """One decision per proposed call: all approved, or all rejected with the reason."""
    pending = service.pending_approval(link.thread_id, viewer=actor, interrupt_id=link.interrupt_id)
    count = len(pending.request.action_requests) if pending and pending.request else 1
    one = {"type": "approve"} if link.action == "approve" else {"type": "reject", "message": reason}
    return {"decisions": [one] * count}


def _cross_site(request: Request) -> Page | None:
    """A POST another site made the browser send: refused before anything is read."""
    fetch_site = request.headers.get("sec-fetch-site", "")
    origin = request.headers.get("origin", "")
    own = {f"{request.url.scheme}://{request.url.netloc}", _origin(email.base_url())}
    if fetch_site in ("cross-site", "same-site") or (origin and origin not in own):
        return Page(403, "Refused", ("This form can only be sent from its own page. Nothing was changed.",))
    return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _call_html(action: ActionText) -> str:
    e = html.escape
    flag = " · ⚠️ cannot be undone" if action.destructive else ""
    hidden = "".join(f"<p>⚠️ {e(warning)}</p>" for warning in action.warnings)
    args = "\n".join(f"{label}: {value}" for label, value in action.args)
    described = f"<p>{e(action.description)}</p>" if action.description else ""
    return f"<h2>{e(action.tool + flag)}</h2>{described}{hidden}<pre>{e(args)}</pre>"


def _time(iso: str) -> str:
    """`2026-12-03 09:30 UTC`: the page cannot know the reader's zone, so it names UTC."""
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return iso


def _render(page: Page) -> HTMLResponse:
    e = html.escape
    text = "".join(f"<p>{e(paragraph)}</p>" for paragraph in page.paragraphs)
    body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{e(page.title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{e(page.title)}</h1>{text}{page.body_html}</body></html>")
    return HTMLResponse(body, page.status, HEADERS)
