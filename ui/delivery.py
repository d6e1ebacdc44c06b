"""The console's "decided, not yet delivered" list: decisions whose agent has not got them yet, and why.

Such a decision is not done: the agent still waits. Reviewers see each with its reason and the next retry, drawn
as plain table cells (never markdown: the reason may quote an agent's error).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import resources
from approvals.core.actors import Actor


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
