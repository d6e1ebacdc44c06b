"""How a conversation's run reads on the page: working, queued behind others, or failed with its reason and Retry.

Drawn from the run's row (any replica may own the run), never from this process's memory.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from approvals.core.runs import RunStatus
from ui.approval_widgets import escape_markdown


def run_in_progress(status: RunStatus) -> None:
    """"The agent is working…", or how many runs wait ahead of this one for a free slot."""
    with st.chat_message("assistant"):
        if status.run.state == "queued" and status.queued_ahead:
            st.status(f"Queued, {status.queued_ahead} ahead (up to {status.max_runs} runs at once)…", state="running")
        else:
            st.status("The agent is working…", state="running")


def run_failed(status: RunStatus, on_retry: Callable[[str], None]) -> None:
    """The reason the run stopped, and a Retry that continues from the last step on disk."""
    st.error(escape_markdown(f"The agent's run failed: {status.run.error or 'no reason was recorded.'}"), icon="⚠️")
    st.button("Retry the run", key=f"conversation_retry_{status.run.run_id}", type="primary", on_click=on_retry,
              args=(status.run.thread_id,))
