"""The approval card's pieces, shared by the conversation page and the reviewer console.

Everything shown here came from a user, a model or a tool: it is data, so it is rendered with `st.text`,
`st.json` or backslash-escaped markdown, never as markdown or HTML. The pure helpers at the top build the resume
values and texts; the widgets below only draw them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

import resources
from approvals.core.errors import ApprovalError, approvals_progress
from approvals.core.hidden_text import reveal, text_warnings
from approvals.core.hitl import HITLRequest, InvalidDecision, parse_response
from approvals.core.records import PendingApproval
from graphs.tools import ARGS_MODELS, args_json_schema
from ui.human import arg_text, is_destructive

FieldKind = Literal["number", "integer", "boolean", "text", "text_area", "json"]

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=^%\"'/])")
_LINK_LIKE = re.compile(r"(?:https?://|www\.|mailto:|xmpp:)\S*|[-.\w+]+@[-\w]+(?:\.[-\w]+)+", re.I)
"""What GitHub-flavoured markdown turns into a link by itself (URLs, www., e-mail addresses). Streamlit's renderer
finds them in the text *after* parsing, so backslashes do not stop it; a code span does."""
WITHDRAWING = "conversation_withdrawing"
"""The request whose withdrawal is being confirmed."""
LONG_TEXT_CHARS = 200
"""Strings allowed to be longer than this (or already spanning lines) get a text area in the edit form."""


# -- pure helpers ------------------------------------------------------------------------------------------


def escape_markdown(text: str) -> str:
    """Show `text` literally wherever Streamlit renders markdown: every markdown/HTML-significant character is
    backslash-escaped, and whatever would become a link by itself (an agent's URL or address in a heading, a
    toast, the chat) is set as a code span instead, so a reviewer sees it and cannot click it."""
    text, shown, start = str(text), [], 0
    for link in _LINK_LIKE.finditer(text):
        shown += [_MARKDOWN_SPECIAL.sub(r"\\\1", text[start:link.start()]), code_span(link.group())]
        start = link.end()
    return "".join([*shown, _MARKDOWN_SPECIAL.sub(r"\\\1", text[start:])])


def code_span(text: str) -> str:
    """`text` as a markdown code span, literal whatever backticks it holds (CommonMark: a longer fence, and a
    space inside it when the text starts or ends with a backtick)."""
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def short_time(iso: str) -> str:
    """`2026-01-05T10:54:11.537+00:00` → `2026-01-05 10:54:11 UTC` (stored times are UTC)."""
    try:
        return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return iso


def browser_zone() -> tzinfo:
    """The reader's time zone as their browser reports it (UTC when it does not, or names an unknown zone)."""
    try:
        return ZoneInfo(st.context.timezone) if st.context.timezone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_time(iso: str, zone: tzinfo | None = None, *, seconds: bool = False) -> str:
    """A stored UTC time in the reader's zone: `14:02` today, `Dec 01 14:02` another day, `2025-12-01 14:02` in
    another year; the zone is named when it is UTC, so nobody takes UTC for their own clock."""
    try:
        moment = datetime.fromisoformat(iso).astimezone(zone or browser_zone())
    except ValueError:
        return iso
    now = datetime.now(moment.tzinfo)
    clock = "%H:%M:%S" if seconds else "%H:%M"
    shown = moment.strftime(clock if moment.date() == now.date() else
                            f"%b %d {clock}" if moment.year == now.year else f"%Y-%m-%d {clock}")
    return f"{shown} UTC" if moment.utcoffset() == timedelta(0) else shown


def approve_value(request: HITLRequest) -> dict:
    """The resume value approving every action of the request as proposed."""
    return {"decisions": [{"type": "approve"} for _ in request.action_requests]}


def reject_value(request: HITLRequest, message: str) -> dict:
    """The resume value rejecting every action with the same message to the agent."""
    return {"decisions": [{"type": "reject", "message": message.strip()} for _ in request.action_requests]}


def edit_value(request: HITLRequest, edited_args: list[dict[str, Any]]) -> dict:
    """The resume value that runs each action with its edited args (one dict per action, in order)."""
    return {
        "decisions": [
            {"type": "edit", "edited_action": {"name": action.name, "args": args}}
            for action, args in zip(request.action_requests, edited_args, strict=True)
        ]
    }


def validated(raw: dict, request: HITLRequest) -> dict:
    """`raw` checked and coerced by the request's resume schema; raises InvalidDecision with a readable message."""
    return parse_response(raw, request, ARGS_MODELS).model_dump(mode="json")


def arg_fields(request: HITLRequest, index: int) -> list[tuple[str, dict, Any]]:
    """(name, JSON schema, current value) for each argument of action `index`, in the schema's order.

    The schema comes from the request's review config; a request without one falls back to the tool's own
    pydantic schema, then to the args themselves.
    """
    action = request.action_requests[index]
    schema = (request.review_configs[index].args_schema if index < len(request.review_configs) else None) or {}
    if not schema.get("properties"):
        schema = args_json_schema(action.name)
    properties: dict[str, dict] = schema.get("properties") or {name: {} for name in action.args}
    return [(name, prop, action.args.get(name, prop.get("default"))) for name, prop in properties.items()]


def field_kind(prop: dict, current: Any) -> FieldKind:
    """Which widget edits this argument: numbers get a number input, long strings a text area."""
    kind = prop.get("type") or _type_of(current)
    if kind in ("number", "integer") and _is_number(current):
        return "integer" if kind == "integer" else "number"
    if kind == "boolean" and isinstance(current, bool | None):
        return "boolean"
    if kind == "string":
        long = prop.get("maxLength", 0) > LONG_TEXT_CHARS or "\n" in str(current or "")
        return "text_area" if long else "text"
    return "json"


def parse_field(kind: FieldKind, name: str, raw: Any) -> Any:
    """A widget's value as the argument value; JSON fields raise InvalidDecision when they do not parse."""
    if kind != "json":
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidDecision(f"{name}: not valid JSON ({error.msg})") from error


def _type_of(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else None


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


# -- widgets -----------------------------------------------------------------------------------------------


def render_request(request: HITLRequest) -> None:
    """Each proposed action in human terms: its tool (flagged when it cannot be undone), its description, and one
    line per argument, labelled by the schema's title, money as money, text as text with its line breaks.

    Plain `st.text`, never markdown: literal, and in Streamlit's main bundle (st.json and st.code load bundles
    of their own, which a reload waits for before the card is drawn).
    """
    for index, action in enumerate(request.action_requests):
        flag = " · ⚠️ cannot be undone" if is_destructive(action.name, action.description or "") else ""
        st.markdown(f"**{escape_markdown(reveal(action.name))}**{escape_markdown(flag)}")
        if action.description:
            st.caption(escape_markdown(action.description))
        hidden_warning(action.args)
        titles = {name: prop.get("title") or name for name, prop, _ in arg_fields(request, index)}
        for name, value in action.args.items():
            text = arg_text(name, value) if isinstance(value, str | int | float | bool) else json.dumps(
                value, indent=2, ensure_ascii=False)
            text, label = reveal(text), reveal(titles.get(name, name))
            st.text(f"{label}:\n{text}" if "\n" in text or len(text) > LONG_TEXT_CHARS // 2 else f"{label}: {text}")
    st.caption(escape_markdown(reveal(f"Requested by {request.requested_by} at {local_time(request.created_at)}")))


def hidden_warning(args: dict[str, Any]) -> None:
    """Warn when arguments hold hidden characters (shown escaped, never rendered) or lookalike letters."""
    for warning in text_warnings(args):
        st.warning(escape_markdown(warning), icon="⚠️")


def edit_form(request: HITLRequest, key: str, shortcut: str | None = None, *,
              drafted: list[dict[str, Any]] | None = None,
              on_change: Callable[[list[dict[str, Any]]], None] | None = None) -> dict | None:
    """A form with one widget per argument; the validated resume value on submit, else None (errors shown).

    `shortcut` gives the submit button a key (the console's A, so A acts on the edit, not on the request).
    With `on_change`, the fields are plain widgets instead of a form, so each change reaches the server as it is
    made and `on_change` gets every field's raw value (one dict per action) to keep as a draft; `drafted` is
    such a draft, refilling the fields after a reload.
    """
    for action in request.action_requests:
        hidden_warning(action.args)
    if on_change is None:
        with st.form(key=key):
            collected = [_arg_widgets(request, index, key) for index in range(len(request.action_requests))]
            submitted = st.form_submit_button("Approve with edits", type="primary", shortcut=shortcut)
    else:
        keep = on_change

        def changed() -> None:
            keep([{name: st.session_state[f"{key}_{index}_{name}"] for name in fields}
                  for index, fields in enumerate(collected)])

        with st.container(key=key, border=True):
            collected = [_arg_widgets(request, index, key, drafted[index] if drafted else {}, changed)
                         for index in range(len(request.action_requests))]
            submitted = st.button("Approve with edits", key=f"{key}_submit", type="primary", shortcut=shortcut)
    if not submitted:
        return None
    try:
        edited = [{name: parse_field(kind, name, raw) for name, (kind, raw) in fields.items()} for fields in collected]
        return validated(edit_value(request, edited), request)
    except InvalidDecision as error:
        show_error(error)
        return None


def _arg_widgets(request: HITLRequest, index: int, key: str, drafted: dict[str, Any] | None = None,
                 on_change: Callable[[], None] | None = None) -> dict[str, tuple[FieldKind, Any]]:
    action = request.action_requests[index]
    if len(request.action_requests) > 1:
        st.markdown(f"**{escape_markdown(action.name)}**")
    return {
        name: (kind := field_kind(prop, current),
               arg_widget(kind, name, prop, current, f"{key}_{index}_{name}", (drafted or {}).get(name), on_change))
        for name, prop, current in arg_fields(request, index)
    }


def arg_widget(kind: FieldKind, name: str, prop: dict, current: Any, key: str, drafted: Any = None,
               on_change: Callable[[], None] | None = None) -> Any:
    """One input for a JSON Schema property, seeded with `current`, or with `drafted` (the widget's own value as
    a draft kept it) when that still fits the widget."""
    label = escape_markdown(prop.get("title") or name)
    help_text = escape_markdown(prop["description"]) if prop.get("description") else None
    value = drafted if _fits(kind, drafted) else _initial(kind, current)
    if kind == "number":
        return st.number_input(label, value=float(value), key=key, help=help_text, on_change=on_change)
    if kind == "integer":
        return st.number_input(label, value=int(value), step=1, key=key, help=help_text, on_change=on_change)
    if kind == "boolean":
        return st.checkbox(label, value=bool(value), key=key, help=help_text, on_change=on_change)
    if kind == "text_area":  # as tall as its text (within reason), so the whole body is in view while editing
        lines = sum(len(line) // 60 + 1 for line in str(current or "").splitlines()) or 1
        return st.text_area(label, value=value, key=key, help=help_text, height=min(max(lines * 24 + 24, 80), 480),
                            on_change=on_change)
    if kind == "text":
        return st.text_input(label, value=value, key=key, help=help_text, on_change=on_change)
    return st.text_input(label, value=value, key=key, help=(help_text or "") + " (JSON)", on_change=on_change)


def _initial(kind: FieldKind, current: Any) -> Any:
    """The widget's value for the argument as proposed (a JSON field shows it as JSON text)."""
    if kind in ("number", "integer"):
        return current if current is not None else 0
    if kind == "boolean":
        return bool(current)
    return str(current or "") if kind in ("text", "text_area") else json.dumps(current)


def _fits(kind: FieldKind, drafted: Any) -> bool:
    """Whether a drafted value can refill a widget of `kind` (a draft is data from the database, checked anyway)."""
    if kind == "boolean":
        return isinstance(drafted, bool)
    return _is_number(drafted) if kind in ("number", "integer") else isinstance(drafted, str)


def message_form(key: str, label: str, button: str, missing: str, shortcut: str | None = None) -> str | None:
    """A text area and a submit button; the message on submit, else None (`missing` shown when it is blank)."""
    with st.form(key=key):
        message = st.text_area(label, key=f"{key}_message")
        submitted = st.form_submit_button(button, type="primary", shortcut=shortcut)
    if not submitted:
        return None
    if not message.strip():
        show_error(InvalidDecision(missing))
        return None
    return message


def reject_form(request: HITLRequest, key: str, shortcut: str | None = None) -> dict | None:
    """A message to the agent and a Reject button; the validated resume value on submit, else None."""
    message = message_form(key, "Why reject? The agent sees this message.", "Reject",
                           "Write a message for the agent before rejecting.", shortcut)
    if message is None:
        return None
    try:
        return validated(reject_value(request, message), request)
    except InvalidDecision as error:
        show_error(error)
        return None


def show_error(error: BaseException) -> None:
    """Service refusals carry messages meant for the user; anything else is named so it can be reported."""
    text = str(error) if isinstance(error, ApprovalError | InvalidDecision) else f"{type(error).__name__}: {error}"
    st.error(escape_markdown(text), icon="⚠️")


def progress_note(pending: PendingApproval) -> str:
    """ " 1 of 2 approvals (alice)." for an item that needs several approvers, "" otherwise."""
    verdict, approved_by = resources.approval_service().approval_state(pending)
    return f" {approvals_progress(approved_by, verdict.approvers)}." if verdict.approvers > 1 else ""


def withdraw_button(pending: PendingApproval, withdraw: Callable[[str, str], None]) -> None:
    """Withdraw asks once: the first click says what will happen, **Confirm withdraw** calls `withdraw(thread_id,
    interrupt_id)`, **Keep it** goes back. The question is kept per item, so it never confirms another request."""
    key = f"conversation_withdraw_{pending.interrupt_id}"
    if st.session_state.get(WITHDRAWING) != pending.interrupt_id:
        st.button("Withdraw request", key=key, icon="↩️", on_click=_ask_withdraw, args=(pending.interrupt_id,))
        return
    st.warning("Withdraw this request? Nothing will run, and the agent is told you withdrew it.", icon="↩️")
    row = st.container(horizontal=True)
    row.button("Confirm withdraw", key=f"{key}_confirm", type="primary", on_click=withdraw,
               args=(pending.thread_id, pending.interrupt_id))
    row.button("Keep it", key=f"{key}_keep", on_click=_ask_withdraw, args=("",))


def _ask_withdraw(interrupt_id: str) -> None:
    st.session_state[WITHDRAWING] = interrupt_id
