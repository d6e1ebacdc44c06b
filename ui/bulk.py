"""The console's bulk decisions: tick rows, then approve or reject them all. An approval of any size first names
every call that will run (hidden characters escaped, lookalikes flagged), and runs nothing until confirmed; a
reject over a few items shows the message every agent gets."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.core.hidden_text import text_flag
from approvals.core.records import QueueItem
from graphs.hitl import HITLRequest, InvalidDecision
from ui.approval_widgets import approve_value, reject_value, show_error
from ui.human import call_line, is_destructive

CONFIRM_OVER = 2
"""A bulk reject of more items than this asks for a confirmation first (an approval always does)."""


def needs_confirmation(items: list[QueueItem], verb: str) -> bool:
    """Approving runs tools, so the reviewer always reads what runs first; rejecting runs nothing."""
    return verb == "approved" or len(items) > CONFIRM_OVER


def bulk_actions(actor: Actor) -> None:
    """Shown once rows are ticked (a reload then does not wait for the message box's bundle); the last bulk
    action's outcome stays either way."""
    selected: dict[tuple[str, str], QueueItem] = st.session_state.setdefault("console_selected", {})
    if not selected:
        st.session_state.pop("console_bulk_confirm", None)
        bulk_outcome()
        return
    message = st.text_input("Reject message", key="console_bulk_message", placeholder="Every selected agent gets this")
    row = st.container(horizontal=True)
    if row.button(f"Approve selected ({len(selected)})", key="console_bulk_approve"):
        ask_or_run(actor, "approved", "")
    if row.button(f"Reject selected ({len(selected)})", key="console_bulk_reject"):
        if message.strip():
            ask_or_run(actor, "rejected", message)
        else:
            show_error(InvalidDecision("Write a reject message first; every agent gets it."))
    if row.button("Clear selection", key="console_bulk_clear"):
        st.session_state["console_selected"] = {}
        st.rerun()
    confirmation(actor)
    bulk_outcome()


def ask_or_run(actor: Actor, verb: str, message: str) -> None:
    items = list(st.session_state["console_selected"].values())
    if needs_confirmation(items, verb):
        st.session_state["console_bulk_confirm"] = (verb, message)
    else:
        run_bulk(actor, verb, message)


def confirmation(actor: Actor) -> None:
    """What will run, one call per line, and the button that runs it (its label says how many)."""
    if (asked := st.session_state.get("console_bulk_confirm")) is None:
        return
    verb, message = asked
    items: list[QueueItem] = list(st.session_state["console_selected"].values())
    with st.container(border=True, key="console_bulk_confirmation"):
        if verb == "approved":
            st.warning(f"Approve {len(items)} request{'s' if len(items) != 1 else ''}? This runs:", icon="⚠️")
            st.text("\n".join(run_line(item) for item in items))
        else:
            st.warning(f"Reject {len(items)} requests? Each agent is told:", icon="⚠️")
            st.text(message)
        row = st.container(horizontal=True)
        label = f"Confirm: {'approve' if verb == 'approved' else 'reject'} {len(items)}"
        if row.button(label, key="console_bulk_confirm_button", type="primary"):
            run_bulk(actor, verb, message)
        if row.button("Cancel", key="console_bulk_cancel"):
            st.session_state.pop("console_bulk_confirm", None)
            st.rerun()


def run_line(item: QueueItem) -> str:
    """One call that will run, on one line (line breaks in its arguments shown as `\\n`): destructive ones marked,
    hidden characters escaped, lookalikes flagged."""
    flag = text_flag(item.arguments)
    call = call_line(item.tool, item.arguments).replace("\r", "\\r").replace("\n", "\\n")
    return ("⚠️ " if is_destructive(item.tool) else "") + call + (f"  {flag}" if flag else "")


def run_bulk(actor: Actor, verb: str, message: str) -> None:
    response: Callable[[HITLRequest], dict] = approve_value if verb == "approved" else (
        lambda request: reject_value(request, message))
    service = resources.approval_service()
    result = service.decide_many(list(st.session_state["console_selected"].values()), response, actor)
    st.session_state["console_bulk_result"] = (verb, result)
    st.session_state["console_selected"] = {}
    st.session_state.pop("console_bulk_confirm", None)
    st.rerun()


def bulk_outcome() -> None:
    """The last bulk action's result stays until dismissed: how many landed, and which did not and why."""
    if (outcome := st.session_state.get("console_bulk_result")) is None:
        return
    verb, result = outcome
    if result.decided:
        st.success(f"{len(result.decided)} {verb}.")
    if result.failed:
        st.warning(f"{len(result.failed)} not {verb}:")
        st.dataframe(
            [{"tool": item.tool, "requester": item.requester, "thread": item.thread_id, "reason": why}
             for item, why in result.failed],
            hide_index=True,
            key="console_bulk_failed",
        )
    if st.button("Dismiss", key="console_bulk_dismiss"):
        st.session_state.pop("console_bulk_result")
        st.rerun()
