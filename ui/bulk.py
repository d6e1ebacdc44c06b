"""The console's bulk decisions: tick rows, then approve or reject them all. Over a few items, or with anything
that cannot be undone among them, a confirmation names every call that will run before anything is recorded."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.core.records import DecisionRecord, QueueItem
from graphs.hitl import HITLRequest, InvalidDecision
from ui.approval_widgets import approve_value, reject_value, show_error
from ui.human import call_line, is_destructive

CONFIRM_OVER = 2
"""A bulk action on more items than this asks for a confirmation first."""


def apply_in_background(records: list[DecisionRecord]) -> None:
    """Decisions are recorded already (the fast part); resuming the graphs happens off the script thread, each as
    a run record that every replica sees and that another replica finishes if this one dies."""
    service, runner = resources.approval_service(), resources.background_runner()
    for record in records:
        runner.start(service.start_decision(record))


def needs_confirmation(items: list[QueueItem], verb: str) -> bool:
    return len(items) > CONFIRM_OVER or (verb == "approved" and any(is_destructive(item.tool) for item in items))


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
            st.warning(f"Approve {len(items)} requests? This runs:", icon="⚠️")
            st.text("\n".join(("⚠️ " if is_destructive(i.tool) else "") + call_line(i.tool, i.arguments) for i in items))
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


def run_bulk(actor: Actor, verb: str, message: str) -> None:
    response: Callable[[HITLRequest], dict] = approve_value if verb == "approved" else (
        lambda request: reject_value(request, message))
    service = resources.approval_service()
    result = service.decide_many(list(st.session_state["console_selected"].values()), response, actor)
    apply_in_background(result.decided)
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
