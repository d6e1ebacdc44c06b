"""The console's open item: its card, the decision keys, the payloads and the conversation, rebuilt from the URL
and the database on every run.

Keys (Streamlit button shortcuts, shown on the buttons): A approve, E edit, X reject (the message box takes the
focus), Y confirms a destructive request, J/K next/previous item; a key decides only the item it was drawn for,
once that has been on screen long enough to read (ui/on_screen.py). Decisions are button callbacks, so the run
that follows a key press already draws the next item: the decision is recorded through the service (policy and
compare-and-set), the graph resumes in the background, and the next item in queue order opens and is claimed for
you.
"""

from __future__ import annotations

import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.core.decisions import edit_diff
from approvals.core.errors import AlreadyDecided, ApprovalError, AwaitingApprovals, approvals_progress
from approvals.core.hidden_text import reveal
from approvals.core.hitl import HITLRequest, InvalidDecision, parse_response
from approvals.core.records import DecisionRecord, PendingApproval
from approvals.service import claims, history
from approvals.store.database import utcnow
from graphs.tools import ARGS_MODELS
from ui import drafts, on_screen
from ui.approval_widgets import (
    approve_value,
    escape_markdown,
    local_time,
    reject_form,
    render_request,
    show_error,
)
from ui.elicitation_form import elicitation_form
from ui.human import decided_word, destructive_calls, headline, outcome_line
from ui.identity import require_actor
from ui.interrupt_answers import allowed_decisions, answer_form, raw_question, respond_form, unregistered_notice
from ui.item_context import conversation, decided_lines, payloads
from ui.queue import ItemKey, go, neighbour, open_item, opened, set_param

FOLLOW_SECONDS = 2
"""How often an open pane looks whether its item was decided, withdrawn, taken over or changed elsewhere."""
NOT_RUN = ("reject", "withdraw")
"""Decisions after which nothing ran."""

FOCUS_REJECT_MESSAGE = """<script>
  // X opens the reject form; put the cursor in its message box (it may be drawn a frame after this script runs).
  (function focusWhenDrawn(tries) {
    const box = document.querySelector(".st-key-%s textarea");
    if (box) { box.focus(); } else if (tries > 0) { setTimeout(() => focusWhenDrawn(tries - 1), 20); }
  })(50);
</script>"""


def navigation(actor: Actor) -> None:
    """J/K move through the queue in its order; Close lets go of the open item. Shown whenever the queue is."""
    row = st.container(horizontal=True, vertical_alignment="center")
    row.button("Previous", key="console_previous_item", shortcut="K", on_click=go, args=(-1, actor))
    row.button("Next", key="console_next_item", shortcut="J", on_click=go, args=(1, actor))
    if opened():
        row.button("Close", key="console_close", on_click=open_item, args=(None, actor))


def review_pane(actor: Actor) -> None:
    """The open item: its card and keys while it is pending, else who decided it, then its conversation."""
    if (current := opened()) is None:
        return
    service = resources.approval_service()
    try:
        thread_id = service.require_thread(current[0], viewer=actor)
    except ApprovalError as error:
        show_error(error)
        return
    flash()
    try:  # a deployment's item is read from its server, which may be down
        pending = service.pending_approval(thread_id, viewer=actor, with_messages=True, interrupt_id=current[1] or None)
    except ApprovalError as error:
        show_error(error)
        return
    if pending is None and current[1] and service.decision(thread_id, current[1], viewer=actor) is None:
        # Not this thread's interrupt: a URL caught between its two updates (thread, then interrupt) by a fast key.
        pending = service.pending_approval(thread_id, viewer=actor, with_messages=True)
        current = (thread_id, "")
    interrupt_id = current[1] or (pending.interrupt_id if pending else None)
    set_param("interrupt", interrupt_id)
    if interrupt_id and (decided := service.decision(thread_id, interrupt_id, viewer=actor)):
        outcome(decided, actor)
    elif pending is None or pending.interrupt_id != interrupt_id:
        st.info("Nothing is pending in this conversation.")
    else:
        review(pending, actor)
        return
    conversation(service.messages(thread_id, viewer=actor), decided_lines(thread_id, actor))


def flash() -> None:
    """What the last key press did, said once: why it was refused, in the pane; the decision that moved the pane on,
    as a toast, so the next item's buttons stay where the last ones were."""
    if (message := st.session_state.pop("console_flash", None)) is None:
        return
    kind, text = message
    if kind == "refused":
        st.error(escape_markdown(reveal(text)), icon="⚠️")
    else:
        st.toast(escape_markdown(reveal(text)), icon=decision_icon(kind))


def decision_icon(decision: str) -> str:
    """A reject (or withdrawal) never gets the green check an approval gets."""
    return "⛔" if decision in NOT_RUN else "✅"


def outcome(decided: DecisionRecord, actor: Actor) -> None:
    if decided.decided_by == actor.name:
        show = st.info if decided.decision in NOT_RUN else st.success
        show(f"You decided this: {decided.decision} at {local_time(decided.decided_at)}.",
             icon=decision_icon(decided.decision))
    else:  # decided, withdrawn or approved by the policy elsewhere, maybe while this pane was open
        st.warning(escape_markdown(outcome_line(decided.decision, decided.decided_by,
                                                local_time(decided.decided_at, seconds=True), decided.message,
                                                decided.edit_diff)) + " · nothing left to decide here.")
    timeline(decided.thread_id, decided.interrupt_id, actor, (decided.requested_by, decided.requested_at), decided)
    if decided.applied_at is None and decided.delivery_error:
        st.warning(escape_markdown(f"Decided, not yet delivered (try {decided.delivery_attempts}; next try"
                                   f" {decided.next_delivery_at}): {decided.delivery_error}"), icon="⏳")
    run = resources.approval_service().latest_run(decided.thread_id)  # whichever replica resumes it
    if run is not None and run.decision_id == decided.decision_id and run.state == "failed":
        st.error(escape_markdown(f"Resuming the agent failed: {run.error}"), icon="⚠️")
    elif run is not None and run.decision_id == decided.decision_id and run.active:
        st.caption("The agent is resuming with this decision…")


def timeline(thread_id: str, interrupt_id: str, actor: Actor, requested: tuple[str, str],
             decided: DecisionRecord | None = None) -> None:
    """The item's life in one line: requested, opened and claimed by each reviewer, decided, delivered to the
    agent (or not yet). Read through the service, which refuses a viewer who may not see the conversation."""
    steps = [f"requested by {requested[0]} at {local_time(requested[1], seconds=True)}"]
    steps += [f"{step.step} by {step.by} at {local_time(step.at, seconds=True)}"
              for step in resources.approval_service().item_steps(thread_id, interrupt_id, viewer=actor)]
    if decided is not None:
        steps += [f"{decided.decision} by {decided.decided_by} at {local_time(decided.decided_at, seconds=True)}",
                  f"delivered to the agent at {local_time(decided.applied_at, seconds=True)}" if decided.applied_at
                  else "not yet delivered to the agent"]
    st.caption(escape_markdown("Timeline: " + " → ".join(steps)))


def review(pending: PendingApproval, actor: Actor) -> None:
    """A HITL request gets the card and keys; any other interrupt its raw value and an answer form. A thread of a
    graph the app cannot load is shown, not decided. The buttons come first, under the title, so what A decides
    is on screen with them however long the request is (the request follows, then the payloads)."""
    request = pending.request
    if (drawn := st.session_state.get("console_pane_drawn")) and drawn[0] == pending.interrupt_id != "" and \
            drawn[1] != pending.request_digest:
        st.warning(f"This request changed while you had it open (noticed at {local_time(utcnow(), seconds=True)}):"
                   " read it again before deciding.", icon="✏️")
    st.session_state["console_pane_drawn"] = (pending.interrupt_id, pending.request_digest)
    st.subheader(escape_markdown(f"{reveal(pending.review.tool)} for {reveal(pending.review.requested_by)}: "
                                 f"{headline(pending.review.tool, request)} · {reveal(pending.graph)}"))
    try:
        resources.approval_service().resumable(pending)
    except ApprovalError as error:
        unregistered_notice(error)
        allowed = False
    else:
        allowed = may_decide(pending, actor)
    if pending.review.elicitation:  # an MCP tool's questions: a form from each requested_schema
        policy_line(pending)
        on_screen.shown_at(pending, "card")
        so_far = resources.approval_service().approved_so_far(pending)
        if (responses := elicitation_form(pending.review, f"console_elicit_{pending.interrupt_id}", allowed, so_far)):
            decide(pending, responses)
            st.rerun()
    elif request is None:
        raw_question(pending)
        on_screen.shown_at(pending, "card")
        if allowed and (answer := answer_form(pending, f"console_answer_form_{pending.interrupt_id}"))[0]:
            decide(pending, answer[1])
            st.rerun()
    else:
        policy_line(pending)
        if allowed:
            decision_controls(pending, request, actor)
        render_request(request)
    timeline(pending.thread_id, pending.interrupt_id, actor, (pending.review.requested_by, pending.review.created_at))
    payloads(pending)
    conversation(pending.messages, decided_lines(pending.thread_id, actor))


def policy_line(pending: PendingApproval) -> None:
    """Which rule decides the item and, for several approvers, how far it got: "1 of 2 approvals (alice)"."""
    service = resources.approval_service()
    verdict, approved_by = service.approval_state(pending)
    progress = f" · {approvals_progress(approved_by, verdict.approvers)}" if verdict.approvers > 1 else ""
    steps = [f"{step.step} at {local_time(step.happened_at)} ({step.detail})"
             for step in service.escalation_steps(pending.thread_id, pending.interrupt_id)]
    st.caption(escape_markdown(f"Policy: {verdict.describe()}{progress}"
                               + (f" · Escalation by rule: {'; '.join(steps)}" if steps else "")))


def may_decide(pending: PendingApproval, actor: Actor) -> bool:
    """Claim the item on open (or renew the claim); another's live claim hides the buttons until taken over.

    A page that showed the buttons a moment ago keeps them for this one run, so a click already on its way
    still reaches the compare-and-set (which tells the slower reviewer who was first); a pane that noticed
    the item was taken over drops them at once (see `follow`).
    """
    item = (pending.thread_id, pending.interrupt_id)
    on_screen = st.session_state.get("console_deciding") == item
    try:
        resources.approval_service().claim(*item, actor)
    except claims.Claimed as taken:
        st.session_state["console_deciding"] = None
        st.warning(escape_markdown(held_by(taken.claim, actor)), icon="🔒")
        if not on_screen:
            take_over(item, taken.claim, actor)
        follow(item, indexed_digest(item, actor), actor, holding=False)
        return on_screen  # a click on its way reaches the command, which refuses it naming the holder
    except ApprovalError as error:  # only those who may decide claim: not the requester of a reviewer-only item
        st.caption(escape_markdown(str(error)))
        return False
    st.session_state["console_deciding"] = item
    follow(item, indexed_digest(item, actor), actor, holding=True)
    return True


def indexed_digest(item: ItemKey, actor: Actor) -> str | None:
    """The item's digest as the queue's index has it now: what `follow` compares with (the index may lag the
    checkpoint the pane drew from by a second; comparing with the checkpoint would redraw until it caught up)."""
    return resources.approval_service().pending_digest(*item, viewer=actor)


def held_by(claim: claims.Claim, actor: Actor) -> str:
    """"Claimed by bob since 14:02:11 (until 14:02:31): …", in the reader's time."""
    since = [step.at for step in resources.approval_service().item_steps(claim.thread_id, claim.interrupt_id,
                                                                         viewer=actor)
             if step.step == "claimed" and step.by == claim.claimed_by]
    started = f" since {local_time(since[-1], seconds=True)}" if since else ""
    return (f"Claimed by {claim.claimed_by}{started} (until {local_time(claim.expires_at, seconds=True)}): only they"
            " can decide it unless you take it over.")


@st.fragment(run_every=FOLLOW_SECONDS)
def follow(item: ItemKey, digest: str | None, actor: Actor, *, holding: bool) -> None:
    """Keep the open pane true to the item: every few seconds renew this tab's claim (a closed tab stops, so its
    claim lapses ~20 s later) and look whether the item was decided, withdrawn, taken over or changed
    elsewhere; if so, redraw the pane at once, without this run's buttons, to say who and when."""
    service = resources.approval_service()
    try:
        gone = service.decision(*item, viewer=actor) is not None or service.pending_digest(
            *item, viewer=actor) != digest
        held = service.claim(*item, actor) if holding else None
    except ApprovalError:  # taken over (Claimed), or the conversation is no longer the viewer's to read
        gone = True
    if gone:
        st.session_state["console_deciding"] = None
        st.rerun()
    if held is not None:
        st.caption(f"Claimed by you until {local_time(held.expires_at, seconds=True)}.")


def take_over(item: ItemKey, claim: claims.Claim, actor: Actor) -> None:
    if st.session_state.get("console_confirm_take_over") != item:
        if st.button("Take over", key="console_take_over"):
            st.session_state["console_confirm_take_over"] = item
            st.rerun()
        return
    st.write(escape_markdown(f"Take this item over from {claim.claimed_by}? They may be deciding it right now."))
    row = st.container(horizontal=True)
    if row.button("Confirm take over", key="console_confirm_take_over_button", type="primary"):
        resources.approval_service().claim(*item, actor, take_over=True)
        st.session_state.pop("console_confirm_take_over")
        st.rerun()
    if row.button("Cancel", key="console_cancel_take_over"):
        st.session_state.pop("console_confirm_take_over")
        st.rerun()


def decision_controls(pending: PendingApproval, request: HITLRequest, actor: Actor) -> None:
    """Approve, Edit, Reject; Edit and Reject open their forms, an edit shows its diff before it is confirmed.

    While a form is open the keys act on it, never on the request as proposed: Approve is disabled and A
    belongs to the form's own button (Approve with edits, Confirm edit); X sends the reject. A destructive
    request asks for a confirmation naming what will run, on a key of its own (Y), before it runs. Every step's
    buttons are bound to the item they were drawn for and live only once it has been read (ui/on_screen.py).
    An edit (its values, or its confirmation) survives a reload as a draft (ui/drafts.py).
    """
    opened = drafts.reopen(pending, actor)
    mode = opened[1] if opened else None
    row, allowed = on_screen.gate(pending, "card"), allowed_decisions(request)
    if "approve" in allowed:
        confirm_first = bool(destructive_calls(request))
        row.container(key="console_approve", width="content").button(
            "Approve", key=on_screen.bound_key("console_approve", pending, "card"), type="primary",
            shortcut=None if mode else "A", disabled=mode is not None,
            on_click=set_mode if confirm_first else decide,
            args=(pending, "run", actor) if confirm_first else (pending, approve_value(request)))
    for name, shortcut in (("Edit", "E"), ("Reject", "X"), ("Respond", None)):
        if name.lower() in allowed:
            row.button(name, key=f"console_{name.lower()}", shortcut=None if mode == name.lower() else shortcut,
                       on_click=set_mode, args=(pending, name.lower(), actor))
    if mode:
        row.button("Cancel", key="console_cancel_mode", type="tertiary", on_click=set_mode, args=(pending, "", actor))
    on_screen.ready_sign(row, pending, "card")
    if mode == "respond":
        if (value := respond_form(request, f"console_respond_form_{pending.interrupt_id}")) is not None:
            decide(pending, value)
            st.rerun()
    elif mode == "edit":
        if (value := drafts.kept_edit_form(pending, request, actor)) is not None:
            st.session_state["console_mode"] = (pending.interrupt_id, "confirm", value)
            st.rerun()
    elif mode == "confirm":
        confirm_edit(pending, request, opened[2], actor)
    elif mode == "run":
        confirm_run(pending, request)
    elif mode == "reject":
        form_key = f"console_reject_form_{pending.interrupt_id}"
        if (value := reject_form(request, form_key, shortcut="X")) is not None:
            decide(pending, value)
            st.rerun()
        st.html(FOCUS_REJECT_MESSAGE % f"{form_key}_message", unsafe_allow_javascript=True)


def set_mode(pending: PendingApproval, mode: str, actor: Actor) -> None:
    """Open a form (or, with an empty mode, close it); the edit's draft follows (ui/drafts.py)."""
    if mode:
        st.session_state["console_mode"] = (pending.interrupt_id, mode)
    else:
        st.session_state.pop("console_mode", None)
    drafts.mode_changed(pending, mode, actor)


def confirm_run(pending: PendingApproval, request: HITLRequest) -> None:
    """A destructive request is approved only after the reviewer has read, once more, exactly what will run."""
    calls = destructive_calls(request)
    st.warning("This cannot be undone. Approving runs:", icon="⚠️")
    for call in calls:
        st.text(call)
    row = on_screen.gate(pending, "run")
    row.container(key="console_confirm_run", width="content").button(
        f"Confirm: run {reveal(pending.review.tool)}", key=on_screen.bound_key("console_confirm_run", pending, "run"),
        type="primary", shortcut="Y", on_click=decide, args=(pending, approve_value(request), "run"))
    on_screen.ready_sign(row, pending, "run")


def confirm_edit(pending: PendingApproval, request: HITLRequest, value: dict, actor: Actor) -> None:
    changes = history.diff_rows(edit_diff(request, parse_response(value, request, ARGS_MODELS)))
    st.markdown("**Your edit**")
    if changes:
        st.dataframe(changes, hide_index=True, key="console_edit_diff")
    else:
        st.info("Nothing changed: confirming is the same as approving.")
    row = on_screen.gate(pending, "confirm")
    row.container(key="console_confirm_edit", width="content").button(
        "Confirm edit", key=on_screen.bound_key("console_confirm_edit", pending, "confirm"), type="primary",
        shortcut="A", on_click=decide, args=(pending, value, "confirm"))
    row.button("Back to the form", key="console_edit_back", on_click=set_mode, args=(pending, "edit", actor))
    on_screen.ready_sign(row, pending, "confirm")


def decide(pending: PendingApproval, value: object, step: str = "card") -> None:
    """Record (fast, with the compare-and-set), resume in the background, and open the next item in queue order.

    The service is given what this screen drew (the request's digest) and when it drew `step` of it, and refuses
    a press that came before it could be read. A refusal keeps the item open with the reason; someone else's
    decision keeps it open showing who was first.
    Who decides is read again here: the session may have ended since the buttons were drawn.
    """
    service = resources.approval_service()
    try:
        actor = require_actor()
        following = neighbour(1, actor, wrap=True)
        record = service.record_decision(pending.thread_id, pending.interrupt_id, value, actor,
                                         pending.request_digest,  # refused if the request is not the one drawn
                                         shown_at=on_screen.shown_at(pending, step))
    except AlreadyDecided:
        pass  # the pane shows "Already decided by X at T"
    except AwaitingApprovals as waiting:  # recorded; the item stays in the queue for the other approvers
        service.release_claim(pending.thread_id, pending.interrupt_id, actor)
        st.session_state["console_flash"] = ("approve", str(waiting))
        if following is not None:
            open_item(following, actor)
    except (ApprovalError, InvalidDecision) as error:
        st.session_state["console_flash"] = ("refused", str(error))
        return
    else:
        service.release_claim(pending.thread_id, pending.interrupt_id, actor)
        if following is not None:
            said = (f"{decided_word(record.decision, mark=False)}: {headline(pending.review.tool, pending.request)}"
                    f" ({pending.review.requested_by}).")
            st.session_state["console_flash"] = (record.decision, said)
            open_item(following, actor)
    st.session_state.pop("console_mode", None)
