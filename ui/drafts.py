"""The open item's edit form, kept across a reload: its values as they are typed, or its confirmation step.

A reload starts a new Streamlit session (empty session_state) with the same session cookie, so the form is kept on
the server per browser session and item (approvals/service/drafts.py) and reopened when this session has no form
of its own open for the item. Never in the URL: edited values there would end up in history and server logs. A
reopened form is still only a draft: nothing is decided until the reviewer presses its button, which goes through
the one decision command with the digest of the request on screen (a draft of a request that changed since is
dropped, not shown). The command drops the item's drafts when it is decided; a take-over drops the previous
holder's; cancelling the form or choosing another decision drops it here.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.core.hitl import HITLRequest, InvalidDecision
from approvals.core.records import PendingApproval
from ui import identity
from ui.approval_widgets import edit_form, validated

MODE = "console_mode"
"""(interrupt_id, mode[, the edit's value]): the open item's form (edit, confirm, reject, respond, run)."""
FIELDS = "console_edit_fields"
"""interrupt_id → the edit form's raw values, one dict per action, as last kept."""
EDITING = ("edit", "confirm")
HAND_IN_ON_LEAVE = """<script>
  // A field's value reaches the server when the field loses focus: on a reload, hand in the one being typed first.
  if (!window.consoleHandsInOnLeave) {
    window.consoleHandsInOnLeave = true;
    window.addEventListener("beforeunload", () => { document.activeElement?.blur?.(); });
  }
</script>"""


def reopen(pending: PendingApproval, actor: Actor) -> tuple:
    """The item's open form as this session has it; else, after a reload, the edit form (or its confirmation) as
    this browser session left it, with a word that it was kept; () when no form is open."""
    mode = st.session_state.get(MODE)
    if mode and mode[0] == pending.interrupt_id:
        return mode
    draft = resources.approval_service().edit_draft(identity.browser_token(), pending, viewer=actor)
    if not isinstance(draft, dict) or draft.get("mode") not in EDITING or pending.request is None:
        return ()
    st.session_state.setdefault(FIELDS, {})[pending.interrupt_id] = draft.get("fields")
    mode = (pending.interrupt_id, "edit")
    if draft["mode"] == "confirm":
        with suppress(InvalidDecision):  # a value the request's schema refuses now: back to the form
            mode = (pending.interrupt_id, "confirm", validated(draft.get("value") or {}, pending.request))
    st.session_state[MODE] = mode
    st.info("Your edit of this request was kept from before the reload. It is a draft: nothing is decided until"
            " you press its button.", icon="📝")
    return mode


def kept_edit_form(pending: PendingApproval, request: HITLRequest, actor: Actor) -> dict | None:
    """The console's edit form (A submits it), refilled from the kept values and keeping each change as it is made
    (a reload right after typing too: the page hands the field being typed in as it unloads); on submit, the
    validated value, kept as the confirmation step a reload comes back to."""
    st.html(HAND_IN_ON_LEAVE, unsafe_allow_javascript=True)
    value = edit_form(request, f"console_edit_form_{pending.interrupt_id}", shortcut="A",
                      drafted=drafted_fields(pending), on_change=lambda fields: keep_fields(pending, actor, fields))
    if value is not None:
        keep_confirmation(pending, actor, value)
    return value


def drafted_fields(pending: PendingApproval) -> list[dict[str, Any]]:
    """The edit form's kept values, one dict per action of the request (empty where nothing was kept)."""
    kept = st.session_state.get(FIELDS, {}).get(pending.interrupt_id)
    kept = kept if isinstance(kept, list) else []
    actions = len(pending.request.action_requests) if pending.request else 0
    return [kept[n] if n < len(kept) and isinstance(kept[n], dict) else {} for n in range(actions)]


def keep_fields(pending: PendingApproval, actor: Actor, fields: list[dict[str, Any]]) -> None:
    """A field changed (the form's on_change): keep every field's value as this session's draft."""
    st.session_state.setdefault(FIELDS, {})[pending.interrupt_id] = fields
    resources.approval_service().keep_edit_draft(identity.browser_token(), pending,
                                                 {"mode": "edit", "fields": fields}, viewer=actor)


def keep_confirmation(pending: PendingApproval, actor: Actor, value: dict) -> None:
    """The form was submitted: a reload shows the confirmation step, with the values to go back to."""
    resources.approval_service().keep_edit_draft(identity.browser_token(), pending, {
        "mode": "confirm", "fields": drafted_fields(pending), "value": value}, viewer=actor)


def mode_changed(pending: PendingApproval, mode: str, actor: Actor) -> None:
    """Back to the form keeps the edit; anything else (Cancel, Reject, Respond, a destructive approval's
    confirmation) closes it, and its draft goes."""
    if mode == "edit":
        keep_fields(pending, actor, drafted_fields(pending))
        return
    st.session_state.get(FIELDS, {}).pop(pending.interrupt_id, None)
    resources.approval_service().drop_edit_draft(identity.browser_token(), pending.thread_id,
                                                 pending.interrupt_id, viewer=actor)
