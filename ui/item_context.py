"""What the console shows around the open item: the interrupt value beside the payload on the AIMessage, and the
conversation with who decided each request. As everywhere in ui/, the agent's data is drawn as text or JSON."""

from __future__ import annotations

import streamlit as st
from langchain_core.messages import BaseMessage

import resources
from approvals.core.actors import Actor
from approvals.core.records import PendingApproval
from ui.approval_widgets import local_time
from ui.chat import AVATARS, chat_entries
from ui.human import outcome_line


def payloads(pending: PendingApproval) -> None:
    """The interrupt value next to the payload annotated on the AIMessage; they must agree."""
    if not pending.payload_matches:
        st.error("The payload on the AIMessage differs from the interrupt value. Check both before deciding.")
    with st.expander("Interrupt value and annotated AIMessage payload", expanded=not pending.payload_matches):
        interrupt_col, message_col = st.columns(2)
        interrupt_col.caption("Interrupt value")
        interrupt_col.json(pending.value)
        message_col.caption("AIMessage additional_kwargs['hitl']")
        message_col.json(pending.message_payload or {})


def decided_lines(thread_id: str, actor: Actor) -> dict[str, str]:
    """Who decided each of the thread's requests and when, as the requester's page says it ("Approved by alice at
    14:02"), keyed by the request's time so the line follows the proposal (see ui/chat.py)."""
    return {record.requested_at: outcome_line(record.decision, record.decided_by, local_time(record.decided_at),
                                              record.message, record.edit_diff)
            for record in resources.approval_service().decisions(thread_id=thread_id, viewer=actor)}


def conversation(messages: list[BaseMessage], outcomes: dict[str, str]) -> None:
    st.markdown("**Conversation**")
    for entry in chat_entries(messages, outcomes):
        st.chat_message(entry.role, avatar=AVATARS[entry.role]).text(entry.text)
