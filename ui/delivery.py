"""What the console says about delivery: decisions whose agent has not got them yet (and why), and deployments
that are down or refuse the key.

Such a decision is not done: the agent still waits. Reviewers see each with its reason and the next retry, drawn
as plain table cells (never markdown: the reason may quote an agent's error).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import resources
from approvals.core.actors import Actor
from ui.approval_widgets import escape_markdown


def deployment_status() -> None:
    """One error per deployment whose last poll failed, naming it and why; nothing while all answer."""
    for health in resources.approval_service().deployment_health():
        if health.status == "down":
            st.error(escape_markdown(f"{health.error} Last tried {health.checked_at}; its items wait, everything"
                                     " else keeps working."), icon="🔌")


def undelivered(actor: Actor) -> None:
    """Nothing when every decision reached its agent; else a warning and one row per decision."""
    records = resources.approval_service().undelivered(viewer=actor)
    if not records:
        return
    st.warning(f"Decided, not yet delivered: {len(records)}. Recovery retries each with backoff.", icon="⏳")
    st.dataframe(pd.DataFrame({
        "Tool": r.tool, "Decision": r.decision, "Decided by": r.decided_by, "Thread": r.thread_id,
        "Tries": r.delivery_attempts, "Next try": r.next_delivery_at or "", "Reason": r.delivery_error or "resuming…",
    } for r in records), hide_index=True, key="console_undelivered")
