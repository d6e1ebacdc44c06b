"""The console's History tab: who decided what and when, filtered, exported as CSV, and charted."""

from __future__ import annotations

from datetime import datetime, tzinfo

import pandas as pd
import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.core.hidden_text import reveal
from approvals.core.records import DecisionRecord
from approvals.service import history as decision_log
from ui.approval_widgets import browser_zone
from ui.oversight import oversight_numbers


@st.fragment
def history(actor: Actor) -> None:
    records = decision_log.history(resources.approval_service(), actor)
    decider_col, decision_col, tool_col = st.columns(3)
    filters = decision_log.AuditFilter(
        tuple(decider_col.multiselect("Decider", sorted({r.decided_by for r in records}), format_func=reveal,
                                      key="console_audit_decider")),
        tuple(decision_col.multiselect("Decision", ["approve", "edit", "reject", "mixed"],
                                       key="console_audit_decision")),
        tuple(tool_col.multiselect("Tool", sorted({r.tool for r in records}), format_func=reveal,
                                   key="console_audit_tool")),
    )
    shown = [record for record in records if filters.matches(record)]
    st.caption(f"{len(shown)} of the latest {decision_log.HISTORY_LIMIT} decisions")
    proposed = decision_log.proposed_arguments(resources.approval_service(), shown)
    st.dataframe(readable_times(decision_log.history_rows(shown, proposed)), hide_index=True, key="console_audit_table")
    st.download_button("Download CSV", decision_log.to_csv(shown, proposed), file_name="decisions.csv",
                       mime="text/csv", key="console_audit_csv")
    charts(shown, actor)
    oversight_numbers(actor)


def readable_times(rows: list[dict]) -> list[dict]:
    """The table's times in the reader's own zone, with the date and the zone named ("2026-12-03 09:14 EST"); the
    CSV keeps ISO UTC, for machines and other zones."""
    zone = browser_zone()
    return [{**row, "decided at": dated(row["decided at"], zone), "requested at": dated(row["requested at"], zone)}
            for row in rows]


def dated(iso: str, zone: tzinfo) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    except ValueError:
        return iso


def charts(records: list[DecisionRecord], actor: Actor) -> None:
    median = decision_log.median_wait_minutes(records)
    st.metric("Median time to decision", "—" if median is None else f"{median:g} min")
    age_col, count_col, wait_col = st.columns(3)
    age_col.markdown("**Pending by age**")
    ages = pd.DataFrame(decision_log.pending_by_age(resources.approval_service(), actor))
    age_col.bar_chart(ages, x="age", y="pending", sort=False)
    if not records:
        count_col.info("No decisions yet.")
        return
    hours = pd.DataFrame(decision_log.hourly(records))
    count_col.markdown("**Decisions per hour**")
    count_col.bar_chart(hours, x="hour", y="decisions")
    wait_col.markdown("**Median time to decision per hour**")
    wait_col.bar_chart(hours, x="hour", y="median wait (min)")
