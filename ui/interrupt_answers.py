"""Widgets for interrupts other than our own approval card: a raw interrupt's question and its answer form, the
standard "respond" decision, and an item whose graph the app cannot load.

As everywhere in ui/, what the agent sent is data: drawn with `st.text`/`st.json` or escaped, never as markdown.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from approvals.core.hidden_text import hidden_in, reveal
from approvals.core.hitl import DecisionType, HITLRequest, InvalidDecision
from approvals.core.records import PendingApproval
from ui.approval_widgets import (
    arg_widget,
    escape_markdown,
    field_kind,
    hidden_warning,
    message_form,
    parse_field,
    short_time,
    show_error,
)

ANSWER_HELP = "Any JSON value: a string in quotes, a number, true/false, a list or an object."


def raw_question(pending: PendingApproval) -> None:
    """The interrupt value exactly as the graph wrote it."""
    st.caption(escape_markdown(
        f"{pending.graph} asks (requested by {pending.review.requested_by} at {short_time(pending.review.created_at)}):"
    ))
    hidden_warning({"question": pending.value})
    if isinstance(pending.value, str) or hidden_in({"question": pending.value}):
        st.text(reveal(pending.value if isinstance(pending.value, str) else json.dumps(
            pending.value, indent=2, ensure_ascii=False, default=str)))
    else:
        st.json(pending.value, expanded=True)


def answer_form(pending: PendingApproval, key: str) -> tuple[bool, Any]:
    """(submitted, answer): one widget per property of the interrupt's response_schema, else a JSON box.

    The answer is checked by the service against the schema; here it is only parsed.
    """
    schema = pending.review.response_schema or {}
    properties: dict[str, dict] = schema.get("properties") or {} if schema.get("type") == "object" else {}
    with st.form(key=key):
        if properties:
            raw = {
                name: (kind := field_kind(prop, prop.get("default")),
                       arg_widget(kind, name, prop, prop.get("default"), f"{key}_{name}"))
                for name, prop in properties.items()
            }
        else:
            text = st.text_area("Answer (JSON)", value='""', key=f"{key}_json", help=ANSWER_HELP)
        submitted = st.form_submit_button("Send answer", type="primary")
    if not submitted:
        return False, None
    try:
        if properties:
            return True, {name: parse_field(kind, name, value) for name, (kind, value) in raw.items()}
        return True, _json(text)
    except InvalidDecision as error:
        show_error(error)
        return False, None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidDecision(f"The answer is not valid JSON ({error.msg}). {ANSWER_HELP}") from error


def respond_value(request: HITLRequest, message: str) -> dict:
    """Answer on every tool's behalf: the tools do not run, the agent gets `message` as their result."""
    return {"decisions": [{"type": "respond", "message": message.strip()} for _ in request.action_requests]}


def respond_form(request: HITLRequest, key: str) -> dict | None:
    """A message the agent receives instead of the tool's result; the resume value on submit, else None."""
    message = message_form(key, "Answer for the tool (it will not run). The agent sees this as its result.",
                           "Send response", "Write the answer the agent should receive.")
    return None if message is None else respond_value(request, message)


def allowed_decisions(request: HITLRequest) -> set[DecisionType]:
    """Decisions every action of the request allows (one set of buttons decides them all)."""
    return set.intersection(*(set(config.allowed_decisions) for config in request.review_configs))


def unregistered_notice(error: Exception) -> None:
    st.error(escape_markdown(str(error)), icon="🧩")
