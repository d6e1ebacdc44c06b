"""The console's bulk decisions: tick rows, then approve or reject them all. An approval of any size first names
every call that will run (hidden characters escaped, lookalikes flagged), and runs nothing until confirmed; a
reject over a few items shows the message every agent gets.

The ticked rows and an open confirmation are kept on the server per browser session (approvals/service/drafts.py),
so a reload brings them back; a tick whose item is no longer pending is dropped, and the reviewer is told which.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.core.hidden_text import text_flag
from approvals.core.hitl import HITLRequest, InvalidDecision
from approvals.core.records import QueueItem
from ui import identity
from ui.approval_widgets import approve_value, escape_markdown, reject_value, show_error
from ui.human import call_line, is_destructive

CONFIRM_OVER = 2
"""A bulk reject of more items than this asks for a confirmation first (an approval always does)."""
SELECTED = "console_selected"
"""(thread_id, interrupt_id) → the ticked row's item, as this session last read or changed it."""
CONFIRMING = "console_bulk_confirm"
UNTICKED = "console_unticked"
"""The ticked items found no longer pending, named for the note that says they were unticked."""


def ticked(actor: Actor) -> dict[tuple[str, str], QueueItem]:
    """The ticked rows, read back from this browser session's draft on a new session (a reload: with an open
    confirmation and its message) and on every run while any are ticked, so one decided or withdrawn elsewhere is
    unticked, and named. With nothing ticked, a running session reads nothing."""
    if (selected := st.session_state.get(SELECTED)) is not None and not selected:
        return selected
    if (draft := resources.approval_service().bulk_draft(identity.browser_token(), viewer=actor)) is None:
        return st.session_state.setdefault(SELECTED, {})  # no session of a signed-in person: nothing kept
    selected = {(item.thread_id, item.interrupt_id): item for item in draft.ticked}
    st.session_state[SELECTED] = selected
    if draft.unticked:
        st.session_state[UNTICKED] = [*st.session_state.get(UNTICKED, []), *draft.unticked]
    if draft.confirming and CONFIRMING not in st.session_state:
        st.session_state[CONFIRMING] = draft.confirming
        st.session_state.setdefault("console_bulk_message", draft.confirming[1])
    return selected


def keep_ticks(actor: Actor) -> None:
    """The ticks changed here: keep them for a reload (and forget the note about earlier ones)."""
    st.session_state.pop(UNTICKED, None)
    ticks = list(st.session_state.get(SELECTED, {}).values())
    resources.approval_service().keep_ticks(identity.browser_token(), ticks, viewer=actor)


def confirming(actor: Actor, asked: tuple[str, str] | None) -> None:
    """Open (or, with None, close) the bulk confirmation, here and in the draft a reload reads."""
    if asked is None:
        st.session_state.pop(CONFIRMING, None)
    else:
        st.session_state[CONFIRMING] = asked
    resources.approval_service().keep_bulk_confirmation(identity.browser_token(), asked, viewer=actor)


def needs_confirmation(items: list[QueueItem], verb: str) -> bool:
    """Approving runs tools, so the reviewer always reads what runs first; rejecting runs nothing."""
    return verb == "approved" or len(items) > CONFIRM_OVER


def bulk_actions(actor: Actor) -> None:
    """Shown once rows are ticked (a reload then does not wait for the message box's bundle); the last bulk
    action's outcome stays either way."""
    unticked_note()
    selected: dict[tuple[str, str], QueueItem] = st.session_state.setdefault(SELECTED, {})
    if not selected:
        st.session_state.pop(CONFIRMING, None)
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
        st.session_state[SELECTED] = {}
        keep_ticks(actor)
        st.rerun()
    confirmation(actor)
    bulk_outcome()


def unticked_note() -> None:
    """Which ticks were dropped because their items are no longer pending, until the reviewer has read it."""
    if not (unticked := st.session_state.get(UNTICKED)):
        return
    count = f"{len(unticked)} ticked item{'s are' if len(unticked) != 1 else ' is'}"
    st.warning(escape_markdown(f"{count} no longer pending (decided, withdrawn or resolved elsewhere), so no longer"
                               f" ticked: {'; '.join(unticked)}"), icon="☑️")
    if st.button("OK", key="console_unticked_ok", type="tertiary"):
        st.session_state.pop(UNTICKED, None)
        st.rerun()


def ask_or_run(actor: Actor, verb: str, message: str) -> None:
    items = list(st.session_state[SELECTED].values())
    if needs_confirmation(items, verb):
        confirming(actor, (verb, message))
    else:
        run_bulk(actor, verb, message)


def confirmation(actor: Actor) -> None:
    """What will run, one call per line, and the button that runs it (its label says how many)."""
    if (asked := st.session_state.get(CONFIRMING)) is None:
        return
    verb, message = asked
    items: list[QueueItem] = list(st.session_state[SELECTED].values())
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
            confirming(actor, None)
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
    result = service.decide_many(list(st.session_state[SELECTED].values()), response, actor)
    st.session_state["console_bulk_result"] = (verb, result)
    st.session_state[SELECTED] = {}
    st.session_state.pop(CONFIRMING, None)
    keep_ticks(actor)  # none: the open confirmation's draft goes with them
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
