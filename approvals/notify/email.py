"""The email channel: a multipart (text and HTML) message per reviewer over SMTP, with Approve, Reject and Open in
console links.

APPROVAL_SMTP_URL is `smtp://[user:password@]host[:port]` (STARTTLS whenever the server offers it, and always
before a password is sent) or `smtps://…` (TLS from the first byte); APPROVAL_MAIL_FROM is the sender; links are
built on APPROVAL_BASE_URL. Everything in the message came from an agent or a person: the HTML part escapes it, and
hidden characters are written as escapes in both parts (approvals/core/human.py). Approve and Reject are signed,
single-use links (approvals/notify/links.py) whose page asks for a confirmation: opening one decides nothing.
"""

from __future__ import annotations

import html
import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

from approvals.core.human import ActionText
from approvals.notify import links
from approvals.notify.channels import ChannelFailed, ChannelKind, Notification, Recipient
from approvals.notify.webhooks import DEFAULT_BASE_URL
from approvals.store.database import Database

NAME = "email"
LINK_PATH = "/email/"
"""Where action links point on the app's server (approvals/http/email_links.py serves them)."""
TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    implicit_tls: bool
    """smtps://: TLS from the first byte; smtp://: STARTTLS when the server offers it."""
    username: str
    password: str
    sender: str

    @classmethod
    def from_env(cls) -> SmtpSettings:
        """Read APPROVAL_SMTP_URL and APPROVAL_MAIL_FROM; ValueError naming what is wrong."""
        raw = os.environ.get("APPROVAL_SMTP_URL", "")
        url = urlsplit(raw)
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            raise ValueError("APPROVAL_SMTP_URL must look like smtp://[user:password@]host:port or smtps://…")
        sender = os.environ.get("APPROVAL_MAIL_FROM", "").strip()
        if not sender or any(c in sender for c in "\r\n"):
            raise ValueError("APPROVAL_MAIL_FROM must be the sender's address, e.g. approvals@example.com.")
        try:
            port = url.port or (465 if url.scheme == "smtps" else 25)
        except ValueError:
            raise ValueError("APPROVAL_SMTP_URL has a port that is not a number.") from None
        return cls(url.hostname, port, url.scheme == "smtps", unquote(url.username or ""),
                   unquote(url.password or ""), sender)


def configured() -> bool:
    return bool(os.environ.get("APPROVAL_SMTP_URL"))


def reaches(recipient: Recipient) -> bool:
    return bool(recipient.email)


def base_url() -> str:
    return (os.environ.get("APPROVAL_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")


class EmailChannel:
    """Sends one message per notification; each send opens its own SMTP session (reviewers are few, mail rare)."""

    def __init__(self, action_links: links.Links, settings: SmtpSettings, hours: float):
        self._action_links, self._settings, self._hours = action_links, settings, hours
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        """Verifying the server's certificate against the system's CAs (made once: loading them takes ~0.2 s)."""
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def send(self, notification: Notification, recipient: Recipient) -> None:
        message = self.compose(notification, recipient)
        with self._connect() as smtp:
            refused = smtp.send_message(message)
        if refused:
            raise ChannelFailed(f"the server refused {', '.join(refused)}")

    def compose(self, notification: Notification, recipient: Recipient) -> EmailMessage:
        """The message for this recipient, with fresh action links bound to them."""
        actions = self._links(notification, recipient) if notification.decidable else {}
        message = EmailMessage()
        message["Subject"] = _one_line(notification.headline())
        message["From"] = self._settings.sender
        message["To"] = recipient.email
        message["Message-ID"] = make_msgid(domain=self._settings.sender.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text_body(notification, recipient, actions, self._hours))
        message.add_alternative(html_body(notification, recipient, actions, self._hours), subtype="html")
        return message

    def _links(self, notification: Notification, recipient: Recipient) -> dict[str, str]:
        tokens = self._action_links.make(recipient.username, notification.thread_id, notification.interrupt_id,
                                         notification.request_digest, ("approve", "reject"), self._hours)
        return {action: base_url() + LINK_PATH + token for action, token in tokens.items()}

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        smtp: smtplib.SMTP
        if settings.implicit_tls:
            smtp = smtplib.SMTP_SSL(settings.host, settings.port, timeout=TIMEOUT_S, context=self._tls_context())
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=TIMEOUT_S)
        try:
            smtp.ehlo()
            secure = settings.implicit_tls
            if not secure and smtp.has_extn("starttls"):
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
                secure = True
            if settings.username:
                if not secure:
                    raise ChannelFailed("the SMTP server offers no STARTTLS, so the password is not sent")
                smtp.login(settings.username, settings.password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def open_channel(db: Database) -> EmailChannel:
    return EmailChannel(links.Links(db, links.signing_key()), SmtpSettings.from_env(), links.link_hours())


KIND = ChannelKind(NAME, configured, reaches, open_channel)


# -- the message, in the console's words -------------------------------------------------------------------


def facts(notification: Notification) -> list[tuple[str, str]]:
    """The lines under the calls: who asked, which rule, how long it has waited, and an escalation's words."""
    rule = notification.rule + (f" · {notification.progress}" if notification.progress else "")
    lines = [("Requested by", notification.requester), ("Rule", rule), ("Waiting", notification.age())]
    return lines + ([("Note", notification.detail)] if notification.detail else [])


def call_lines(action: ActionText) -> list[str]:
    flag = " · ⚠️ cannot be undone" if action.destructive else ""
    lines = [f"{action.tool}{flag}"] + ([f"  {action.description}"] if action.description else [])
    lines += [f"  ⚠️ {warning}" for warning in action.warnings]
    return lines + [f"  {label}: {value}" for label, value in action.args]


def _expiry_note(recipient: Recipient, hours: float) -> str:
    return (f"The Approve and Reject links are for {recipient.username} only, work once, and expire after "
            f"{hours:g} hours. Opening one changes nothing: the page it opens asks you to confirm.")


def text_body(notification: Notification, recipient: Recipient, actions: dict[str, str], hours: float) -> str:
    lines = [notification.headline(), ""]
    for action in notification.actions:
        lines += call_lines(action) + [""]
    if notification.question:
        lines += [f"Question: {notification.question}", ""]
    lines += [f"{label}: {value}" for label, value in facts(notification)] + [""]
    if actions:
        lines += [f"Approve: {actions['approve']}", f"Reject: {actions['reject']}"]
    lines += [f"Open in console: {notification.console_url}", ""]
    if actions:
        lines.append(_expiry_note(recipient, hours))
    return "\n".join(lines) + "\n"


def html_body(notification: Notification, recipient: Recipient, actions: dict[str, str], hours: float) -> str:
    """The same text as HTML: every value escaped, links as buttons with the names the console uses."""
    e = html.escape
    parts = [f"<p><strong>{e(notification.headline())}</strong></p>"]
    for action in notification.actions:
        head, *rest = call_lines(action)
        parts.append(f"<p><strong>{e(head)}</strong></p><pre style=\"white-space:pre-wrap\">"
                     f"{e(chr(10).join(line.strip() for line in rest))}</pre>")
    if notification.question:
        parts.append(f"<p>Question:</p><pre style=\"white-space:pre-wrap\">{e(notification.question)}</pre>")
    parts.append("<table>" + "".join(f"<tr><td>{e(label)}</td><td>{e(value)}</td></tr>"
                                     for label, value in facts(notification)) + "</table>")
    buttons = [(actions[a], a.capitalize()) for a in ("approve", "reject") if a in actions]
    buttons.append((notification.console_url, "Open in console"))
    parts.append("<p>" + " &nbsp; ".join(f'<a href="{e(url)}">{e(label)}</a>' for url, label in buttons) + "</p>")
    if actions:
        parts.append(f"<p><small>{e(_expiry_note(recipient, hours))}</small></p>")
    return "<!doctype html><html><body>" + "".join(parts) + "</body></html>"


def _one_line(text: str) -> str:
    """A header value: one line, whatever the agent put in a tool name or a requester."""
    return " ".join(text.split())[:200]
