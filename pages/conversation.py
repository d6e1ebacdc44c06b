"""Conversation (/): chat with the agent; a pending approval shows as a card with Approve, Edit and Reject.

Everything shown is rebuilt from the database and `?thread=` on each run (a reload empties session_state).
Graph runs happen in the background runner, never in this script thread, so reruns, second clicks and
reloads neither kill nor duplicate them. Each run is a row: a fragment polls it (whichever replica works on it)
and reruns the page when the run ends; a failed run shows its reason and Retry.
"""

from __future__ import annotations

import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.core.errors import AlreadyDecided, ApprovalError, InvalidThreadId, ThreadBusy, UnknownThread
from approvals.core.hitl import InvalidDecision
from approvals.core.records import PendingApproval
from ui.approval_widgets import (
    approve_value,
    edit_form,
    escape_markdown,
    local_time,
    progress_note,
    reject_form,
    render_request,
    show_error,
    withdraw_button,
)
from ui.chat import AVATARS, chat_entries
from ui.elicitation_form import question_card
from ui.human import outcome_line
from ui.identity import current_actor, require_actor, session_ended
from ui.run_status import run_failed, run_in_progress
from ui.viewport import picked_in_sidebar, sidebar_out_of_the_way

POLL_SECONDS = 0.5
WATCH_SECONDS = 2
"""How often a waiting card looks for a reviewer's decision (well within the 5 s a requester may wait to see it)."""
RECENT_THREADS = 20

resources.route_through_app()
service = resources.approval_service()
runner = resources.background_runner()
if (signed_in := current_actor()) is None:
    st.title("Conversation")
    session_ended()
    st.stop()
actor: Actor = signed_in  # declared, so the functions below see an Actor, not the Optional before the check


def open_thread(thread_id: str) -> None:
    st.query_params["thread"] = thread_id
    forget_outcome()
    picked_in_sidebar(thread_id)


def forget_outcome() -> None:
    """Drop the open form and the last refusal: the user moved on (the poller's reruns keep them)."""
    st.session_state.pop("conversation_mode", None)
    st.session_state.pop("conversation_flash", None)


def new_conversation() -> None:
    """An empty conversation: its id goes into the URL with the first message, so a reload never shows an
    unknown id and nothing is created for a conversation nobody wrote in."""
    st.query_params.pop("thread", None)
    forget_outcome()
    picked_in_sidebar("new")


def record(thread_id: str, interrupt_id: str, response: dict, request_digest: str) -> None:
    """Decide through the service's one command, bound to the request on screen (its digest); the command queues the
    run that resumes the agent, which the runner carries out in the background."""
    service.record_decision(thread_id, interrupt_id, response, require_actor(), request_digest)
    forget_outcome()


def retry(thread_id: str) -> None:
    """Retry button callback: a new run from where the failed one stopped (refused if another run started)."""
    forget_outcome()
    try:
        runner.start(service.start_retry(thread_id, require_actor()))
    except ApprovalError as error:
        st.session_state["conversation_flash"] = (thread_id, error)


def approve(thread_id: str, interrupt_id: str, response: dict, request_digest: str) -> None:
    """Button callback, bound to the interrupt the user saw: a stale tab learns who decided first."""
    try:
        record(thread_id, interrupt_id, response, request_digest)
    except (ApprovalError, InvalidDecision) as error:
        st.session_state["conversation_flash"] = (thread_id, error)


def set_mode(interrupt_id: str, mode: str) -> None:
    forget_outcome()
    st.session_state["conversation_mode"] = (interrupt_id, mode)


def report_stale_form(thread_id: str, pending: PendingApproval | None) -> None:
    """An Edit/Reject form left open on an approval someone else decided: say who, instead of dropping it silently."""
    mode = st.session_state.get("conversation_mode")
    if not mode or (pending is not None and pending.interrupt_id == mode[0]):
        return
    if decided := service.decision(thread_id, mode[0], viewer=actor):
        show_error(AlreadyDecided(decided.decided_by, decided.decided_at, decided.decision))
    st.session_state.pop("conversation_mode", None)


@st.fragment(run_every=POLL_SECONDS)
def watch_run(thread_id: str) -> None:
    """Shows progress while a replica works on this thread (in any session); reruns the page when it is done."""
    status = service.run_status(thread_id, viewer=actor)
    if status is None or not status.run.active:
        st.rerun()
    run_in_progress(status)


@st.fragment(run_every=WATCH_SECONDS)
def waiting_for_reviewer(pending: PendingApproval) -> None:
    """Says who can act, and looks every few seconds (one indexed read) whether they have: the page then redraws
    with their decision, no reload needed. The requester may withdraw the request meanwhile."""
    if service.decision(pending.thread_id, pending.interrupt_id, viewer=actor) is not None:
        st.rerun()
    st.info("Waiting for a reviewer. Any reviewer other than the requester can decide it in the Reviewer console; "
            "their decision shows here as soon as they make it." + progress_note(pending), icon="⏳")
    if pending.review.requested_by == actor.name:
        withdraw_button(pending, withdraw)


def withdraw(thread_id: str, interrupt_id: str) -> None:
    """The requester takes the request back; the agent is told the requester withdrew it, in the background."""
    try:
        service.withdraw(thread_id, interrupt_id, require_actor())
    except (ApprovalError, InvalidDecision) as error:
        st.session_state["conversation_flash"] = (thread_id, error)


def outcomes(thread_id: str) -> dict[str, str]:
    """Who decided each of the thread's requests and when, keyed by the request's time (see ui/chat.py)."""
    return {record.requested_at: outcome_line(record.decision, record.decided_by, local_time(record.decided_at),
                                              record.message, record.edit_diff)
            for record in service.decisions(thread_id=thread_id, viewer=actor)}


def approval_card(pending: PendingApproval) -> None:
    request, interrupt_id = pending.request, pending.interrupt_id
    if request is None:  # an MCP tool's questions (a form here, when the policy lets the requester answer)
        question_card(pending, service.approval_state(pending)[0].requester_may_approve,
                      lambda thread, interrupt, answer: record(thread, interrupt, answer, pending.request_digest))
        return
    with st.container(border=True, key="conversation_card"):
        st.subheader("Approval needed")
        render_request(request)
        if not pending.payload_matches:
            st.warning("The proposal on the message differs from the paused run's request; "
                       "the request above is what runs.")
        if not service.approval_state(pending)[0].requester_may_approve:
            waiting_for_reviewer(pending)
            return
        mode = st.session_state.get("conversation_mode")
        opened = mode[1] if mode and mode[0] == interrupt_id else None
        form = {"edit": edit_form, "reject": reject_form}.get(opened) if opened else None
        row = st.container(horizontal=True)  # one block, where st.columns(3) sent four
        # While a form is open, Approve would run the request as proposed, not what the form says: disabled.
        row.button("Approve", key=f"conversation_approve_{interrupt_id}", type="primary", width="stretch",
                   disabled=form is not None,
                   on_click=approve, args=(pending.thread_id, interrupt_id, approve_value(request),
                                           pending.request_digest))
        row.button("Edit", key=f"conversation_edit_{interrupt_id}", width="stretch",
                   on_click=set_mode, args=(interrupt_id, "edit"))
        row.button("Reject", key=f"conversation_reject_{interrupt_id}", width="stretch",
                   on_click=set_mode, args=(interrupt_id, "reject"))
        if form and (response := form(request, key=f"conversation_{opened}_form_{interrupt_id}")) is not None:
            try:
                record(pending.thread_id, interrupt_id, response, pending.request_digest)
            except (ApprovalError, InvalidDecision) as error:
                show_error(error)
            else:
                st.rerun()


def recent_conversations() -> None:
    """The sidebar. Drawn last: the sidebar has its own place on screen, so the chat and the card go out first."""
    with st.sidebar:
        st.button("New conversation", key="conversation_new", icon="➕", on_click=new_conversation, width="stretch")
        st.caption("Recent conversations")
        for summary in service.recent_threads(RECENT_THREADS, viewer=actor):
            badge = ":orange-badge[awaiting approval] " if summary.awaiting_approval else ""
            st.button(f"{badge}{escape_markdown(summary.title)}", key=f"conversation_open_{summary.thread_id}",
                      type="secondary" if summary.thread_id == st.query_params.get("thread") else "tertiary",
                      on_click=open_thread, args=(summary.thread_id,), width="stretch")
        sidebar_out_of_the_way()


st.title("Conversation")
thread_id = st.query_params.get("thread")
try:
    if thread_id is not None:
        service.require_thread(thread_id, viewer=actor)
except (InvalidThreadId, UnknownThread) as error:
    show_error(error)
    st.button("New conversation", key="conversation_new_instead", type="primary", on_click=new_conversation)
    recent_conversations()
    st.stop()

st.caption(escape_markdown(f"Chatting as {actor.name}.") + (
    "" if actor.signed_in else " This browser's guest: sign in on the Reviewer console to chat under your own name."))
for entry in chat_entries(service.messages(thread_id, viewer=actor), outcomes(thread_id)) if thread_id else []:
    st.chat_message(entry.role, avatar=AVATARS[entry.role]).text(entry.text)

flash = st.session_state.get("conversation_flash")
if flash and flash[0] == thread_id:
    show_error(flash[1])

run = service.run_status(thread_id, viewer=actor) if thread_id is not None else None
running = run is not None and run.run.active
pending = None
if thread_id is not None and running:
    watch_run(thread_id)
elif thread_id is not None:
    if run is not None and run.run.state == "failed":
        run_failed(run, retry)
    if pending := service.pending_approval(thread_id, viewer=actor):
        approval_card(pending)
    report_stale_form(thread_id, pending)

placeholder = "The agent is working…" if running else "Ask the agent, e.g. Refund order 1234 for $25"
if pending is not None:
    # No chat box under a pending card: the card is the next step, and the box's script bundle (an audio
    # recorder among it) would keep the browser busy while it draws the card after a reload.
    waits = pending.request is None or pending.request.policy == "reviewer"
    st.caption("You can write again once it is decided." if waits
               else "Decide the pending action above before writing more.")
elif prompt := st.chat_input(placeholder, key="conversation_input", disabled=running, max_chars=4000):
    forget_outcome()
    if thread_id is None:
        thread_id = service.new_thread_id()
        st.query_params["thread"] = thread_id
    try:
        runner.start(service.start_message(thread_id, prompt, actor))
    except ThreadBusy as error:
        st.warning(str(error))
    except ApprovalError as error:
        show_error(error)
    else:
        st.chat_message("user").text(prompt)
        watch_run(thread_id)

recent_conversations()
