"""An MCP tool's questions (MCP elicitation): each server message as text, a form built from its requested_schema,
or, for a url request, the address as a link the person opens themselves, its host shown plainly. One form answers
the whole round: **Accept** (with each form's content), **Decline** or **Cancel** (abandons the tool call).

What the server sent is data: drawn with `st.text`/`st.caption` of escaped text, never as markdown. The content is
only collected here; the decision command checks it against each schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import streamlit as st

from approvals.core.elicitation import ElicitationRequest, FormField, form_fields
from approvals.core.errors import ApprovalError
from approvals.core.hitl import InvalidDecision
from approvals.core.records import PendingApproval, ReviewRequest
from ui.approval_widgets import escape_markdown, short_time, show_error

PLACEHOLDERS = {"email": "name@example.com", "uri": "https://…", "date-time": "2026-01-31T09:30:00Z"}


def elicitation_form(review: ReviewRequest, key: str, allowed: bool, so_far: Any = None) -> dict | None:
    """The questions, and when `allowed` the form (filled with the answer approved `so_far` by other approvers,
    when there is one); the resume value once a button was pressed, else None."""
    st.caption(escape_markdown(f"The MCP tool {review.tool} asks (requested by {review.requested_by} at "
                               f"{short_time(review.created_at)}):"))
    if not allowed:
        for request in review.elicitation:
            question(request)
        return None
    with st.form(key=key):
        given = (so_far or {}).get("responses") or {} if isinstance(so_far, dict) else {}
        answers = [(request, request_widgets(request, f"{key}_{i}", (given.get(request.key) or {}).get("content")))
                   for i, request in enumerate(review.elicitation)]
        row = st.container(horizontal=True)
        accept = row.form_submit_button("Accept", type="primary")
        decline = row.form_submit_button("Decline", help="Refuse to answer; the tool goes on without it.")
        cancel = row.form_submit_button("Cancel", help="Abandon this tool call; the agent may ask again.")
    if accept:
        return {"responses": {r.key: {"action": "accept", **({"content": content(values)} if values else {})}
                              for r, values in answers}}
    if decline or cancel:
        action = "decline" if decline else "cancel"
        return {"responses": {r.key: {"action": action} for r, _ in answers}}
    return None


def question_card(pending: PendingApproval, may_answer: bool, record: Callable[[str, str, dict], None]) -> None:
    """The Conversation page's card for an interrupt that is not an approval: an MCP tool's questions, answered
    here when `may_answer` (`record` records the answer); any other question is answered in the console."""
    if not pending.review.elicitation:
        st.info("Waiting for an answer in the Reviewer console.", icon="⏳")
        return
    with st.container(border=True, key="conversation_card"):
        st.subheader("Input needed")
        responses = elicitation_form(pending.review, f"conversation_elicit_{pending.interrupt_id}", may_answer)
        if not may_answer:
            st.info("Waiting for a reviewer to answer.", icon="⏳")
        elif responses:
            try:
                record(pending.thread_id, pending.interrupt_id, responses)
            except (ApprovalError, InvalidDecision) as error:
                show_error(error)
            else:
                st.rerun()


def question(request: ElicitationRequest) -> None:
    """The server's message; for a url request the address, as a link only when it is a web address."""
    st.text(request.message)
    if request.mode != "url":
        return
    if request.linkable:
        st.link_button(f"Open {request.host}", request.url, icon=":material/open_in_new:")
        st.text(f"Opens {request.host} in a new tab: {request.url}")
    else:
        st.warning("Not a web address, so not linked:")
        st.text(request.url)


def request_widgets(request: ElicitationRequest, key: str, given: dict | None = None) -> list[tuple[FormField, Any]]:
    """One widget per property of the request's schema (none for a url request), as (field, value); a `given`
    answer's values replace the schema's defaults."""
    with st.container(border=True):
        question(request)
        fields = [replace(f, default=given[f.name]) if given and f.name in given else f
                  for f in form_fields(request.schema)]
        return [(field, field_widget(field, f"{key}_{field.name}")) for field in fields]


def field_widget(field: FormField, key: str) -> Any:
    """The widget a person expects for the field; the label is the property's title, the help its description."""
    help = " ".join(filter(None, [field.help, "Required." if field.required else "Optional."]))
    if field.kind == "boolean":
        return st.checkbox(field.label, value=bool(field.default), key=key, help=help)
    if field.kind in ("number", "integer"):
        cast = int if field.kind == "integer" else float
        value = field.default if isinstance(field.default, int | float) else None
        return st.number_input(field.label, value=_as(cast, value), min_value=_as(cast, field.minimum),
                               max_value=_as(cast, field.maximum), step=cast(1), key=key, help=help)
    if field.kind in ("choice", "choices"):
        values, titles = [v for v, _ in field.options], dict(field.options)

        def title(value: Any) -> str:
            return titles.get(value, str(value))

        if field.kind == "choices":
            chosen = [v for v in field.default or [] if v in values]
            return st.multiselect(field.label, values, default=chosen, format_func=title, key=key, help=help)
        index = values.index(field.default) if field.default in values else None
        return st.selectbox(field.label, values, index=index, format_func=title, key=key, help=help)
    if field.kind == "date":
        return st.date_input(field.label, value=_date(field.default), key=key, help=help)
    return st.text_input(field.label, value="" if field.default is None else str(field.default), key=key, help=help,
                         placeholder=PLACEHOLDERS.get(field.kind, ""))


def content(values: list[tuple[FormField, Any]]) -> dict[str, Any]:
    """The form's answer: an empty optional field is left out (a required one then fails the schema, named)."""
    answer: dict[str, Any] = {}
    for field, value in values:
        if isinstance(value, date):
            value = value.isoformat()
        if value is None or value == "" or (value == [] and not field.required):
            continue
        answer[field.name] = value
    return answer


def _as(cast: type[int] | type[float], value: float | None) -> float | None:
    """Streamlit wants value, bounds and step of one type: all int for an integer field."""
    return None if value is None else cast(value)


def _date(default: Any) -> date | None:
    try:
        return date.fromisoformat(default) if isinstance(default, str) else None
    except ValueError:
        return None
