"""The console's oversight: the stop switch above the queue, and the per-reviewer / per-tool numbers in History.

Pausing is a reviewer's "stop": a paused tool's or graph's items can still be rejected, never approved, until it
is resumed. The metrics are numbers for a lead to read, in name order, never a ranking.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError
from approvals.core.records import BUILTIN_GRAPH
from approvals.service import metrics, oversight
from ui.approval_widgets import escape_markdown

METRIC_COLUMNS = {
    "name": "Name", "decisions": "Decisions", "approve_share": "Approve %", "edit_share": "Edit %",
    "reject_share": "Reject %", "median_request_to_decision_s": "Median request → decision (s)",
    "median_open_to_decision_s": "Median open → decision (s)", "fast_approvals": "Fast approvals",
}


def stop_switch(actor: Actor) -> None:
    """What is paused (always in view while something is), and for reviewers the control to pause or resume."""
    service = resources.approval_service()
    paused = service.paused_targets()
    if paused:  # one note listing them all, however many: the queue stays in view
        st.warning(escape_markdown(f"Paused ({len(paused)}): " + "; ".join(
            f"the {held.kind} {held.name} (by {held.paused_by} at {held.paused_at[:19]} UTC)" for held in paused)
            + ". Their items can be rejected, not approved."))
    if not actor.is_reviewer:
        return
    # Its widgets run only while it is open: a reload, collapsed, neither waits for their bundles nor lists 500
    # pending items for the name box.
    box = st.expander("Stop switch", expanded=bool(paused), key="console_stop_switch", on_change="rerun")
    if not box.open:
        return
    with box:
        if error := st.session_state.pop("console_pause_error", None):
            st.error(escape_markdown(error))
        kind_col, name_col = st.columns([1, 3])
        kind = kind_col.selectbox("Pause a", oversight.TARGET_KINDS, key="console_pause_kind")
        name = name_col.selectbox("Name", _names(kind, actor), index=None, accept_new_options=True,
                                  key="console_pause_name", placeholder="Pick or type a name")
        st.button("Pause", key="console_pause", disabled=not name, on_click=_switch,
                  args=(service.pause, kind, name, actor))
        for held in paused:
            st.button(f"Resume {held.kind} {held.name}", key=f"console_resume_{held.kind}_{held.name}",
                      on_click=_switch, args=(service.unpause, held.kind, held.name, actor))


def _names(kind: str, actor: Actor) -> list[str]:
    """What can be paused: every registered graph, or the tools waiting in the queue (any other name is typed)."""
    service = resources.approval_service()
    if kind == "graph":
        return sorted({BUILTIN_GRAPH, *service.registry.specs})
    return sorted({item.tool for item in service.list_pending(limit=500, viewer=actor)})


def _switch(change: Callable[[str, str, Actor], object], kind: str, name: str, actor: Actor) -> None:
    """Button callback: pause or resume; a refusal is said on the next run."""
    try:
        change(kind, name, actor)
    except ApprovalError as error:
        st.session_state["console_pause_error"] = str(error)


def oversight_numbers(actor: Actor) -> None:
    """Per reviewer and per tool, over the chained decisions; reviewers only."""
    if not actor.is_reviewer:
        return
    found = resources.approval_service().oversight_metrics(actor)
    st.markdown("**Oversight**")
    st.caption(f"From the audit chain. Fast approvals: approved less than {found.fast_seconds:g} s after the "
               "decider opened the item. Rows are in name order; they are not a ranking.")
    reviewer_col, tool_col = st.columns(2)
    for column, label, rows in ((reviewer_col, "Per reviewer", found.by_reviewer),
                                (tool_col, "Per tool", found.by_tool)):
        column.caption(label)
        column.dataframe([_shown(row) for row in rows], hide_index=True, key=f"console_oversight_{label[4:]}")


def _shown(row: metrics.OversightRow) -> dict[str, object]:
    values = {**row.__dict__}
    for share in ("approve_share", "edit_share", "reject_share"):
        values[share] = round(100 * values[share], 1)
    return {METRIC_COLUMNS[key]: value for key, value in values.items()}
