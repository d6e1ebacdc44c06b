"""Reviewer console (/console): sign in, work the queue of pending approvals across threads, decide, audit.

The URL holds the view (filters, page offset, open item) so a reload keeps it; session_state only holds what may
be lost (the signed-in local account, a half-done edit, the bulk selection). Every decision goes through the
approvals service, which enforces the policy and the compare-and-set; claims only keep two reviewers from
working the same item unknowingly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

import resources
from approvals import audit, claims, expiry
from approvals.auth import Actor
from approvals.models import AlreadyDecided, ApprovalError, DecisionRecord, PendingApproval, QueueItem, age_seconds
from approvals.service import QueueFilter, edit_diff
from graphs.hitl import HITLRequest, InvalidDecision, parse_response
from graphs.tools import TOOLS
from ui.approval_widgets import (
    approve_value,
    edit_form,
    escape_markdown,
    reject_form,
    reject_value,
    render_request,
    show_error,
    tool_call_line,
)
from ui.api_tokens import api_tokens_panel
from ui.identity import sign_in, sign_out, signed_in_actor

PAGE_SIZE = 200
REFRESH_SECONDS = 5
TOOL_NAMES = [tool.name for tool in TOOLS]
POLICIES = ["self", "reviewer"]
OVERDUE_STYLE = "background-color: rgba(255, 75, 75, 0.18)"

resources.route_through_app()
service = resources.approval_service()


# -- URL state ---------------------------------------------------------------------------------------------


def set_param(name: str, value: str | list[str] | None) -> None:
    if value:
        st.query_params[name] = value
    else:
        st.query_params.pop(name, None)


def open_item(thread_id: str | None, interrupt_id: str | None = None) -> None:
    set_param("thread", thread_id)
    set_param("interrupt", interrupt_id)
    st.session_state.pop("console_mode", None)


def close_item(actor: Actor, thread_id: str, interrupt_id: str | None) -> None:
    if interrupt_id:
        claims.release(service.db, thread_id, interrupt_id, actor)
    open_item(None)


def queue_filter() -> QueueFilter:
    """Filter widgets, seeded from the URL on a fresh session and written back to it on every run."""
    url = {
        "console_tool": [t for t in st.query_params.get_all("tool") if t in TOOL_NAMES],
        "console_policy": [p for p in st.query_params.get_all("policy") if p in POLICIES],
        "console_min_age": _number(st.query_params.get("min_age")),
        "console_requester": st.query_params.get("requester", ""),
    }
    for key, value in url.items():
        st.session_state.setdefault(key, value)
    tool_col, policy_col, age_col, requester_col = st.columns(4)
    tools = tool_col.multiselect("Tool", TOOL_NAMES, key="console_tool")
    policies = policy_col.multiselect("Policy", POLICIES, key="console_policy")
    min_age = age_col.number_input("Min age (minutes)", min_value=0, step=5, key="console_min_age")
    requester = requester_col.text_input("Requester", key="console_requester").strip()
    if [tools, policies, min_age, requester] != list(url.values()):
        set_param("offset", None)
    set_param("tool", tools)
    set_param("policy", policies)
    set_param("min_age", str(min_age) if min_age else None)
    set_param("requester", requester)
    cutoff = (datetime.now(UTC) - timedelta(minutes=min_age)).isoformat(timespec="milliseconds") if min_age else None
    return QueueFilter(tuple(tools), tuple(policies), (requester,) if requester else (), cutoff)


def _number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() else 0


# -- queue -------------------------------------------------------------------------------------------------


def age_text(created_at: str) -> str:
    minutes = max(int(age_seconds(created_at) // 60), 0)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes // (24 * 60)} d {minutes // 60 % 24} h"


def apply_in_background(records: list[DecisionRecord]) -> None:
    """Decisions are recorded already (the fast part); resuming the graphs happens off the script thread."""
    runner = resources.background_runner()
    for record in records:
        runner.enqueue(record.thread_id, service.apply_decision, record.decision_id)


@st.fragment(run_every=REFRESH_SECONDS)
def queue() -> None:
    """The live queue: refreshes itself without touching the open item, the page scroll or the selection.

    Who is signed in is checked on each refresh: a session ended in another tab ends this one's queue too.
    """
    if (actor := signed_in_actor()) is None:
        st.rerun()
    apply_in_background(expiry.expire_overdue(service, expiry.ttl_minutes()).decided)
    filters = queue_filter()
    total = service.count_pending(filters, viewer=actor)
    offset = min(_number(st.query_params.get("offset")), max(total - 1, 0) // PAGE_SIZE * PAGE_SIZE)
    items = service.list_pending(filters, PAGE_SIZE, offset, viewer=actor)
    sla = expiry.sla_minutes()
    late = [item for item in items if expiry.past_sla(item.created_at, sla)]
    st.markdown(f"**{total} pending**" + (f" · {len(late)} past the {sla:g}-minute SLA on this page" if late else ""))
    if not items:
        st.info("Nothing is waiting for a decision.")
    else:
        queue_table(items, {item.thread_id for item in late})
        pager(offset, len(items), total)
        item_picker(items, actor)
    bulk_actions(actor)


def queue_table(items: list[QueueItem], late: set[str]) -> None:
    """Rows with a Select checkbox; the selection is kept by item, so a refresh that shifts rows keeps it right."""
    selected: dict[tuple[str, str], QueueItem] = st.session_state.setdefault("console_selected", {})
    held = claims.active_claims(service.db)
    frame = pd.DataFrame(
        {
            "Select": (item.thread_id, item.interrupt_id) in selected,
            "Age": age_text(item.created_at),
            "Tool": item.tool,
            "Requester": item.requester,
            "Policy": item.policy,
            "Arguments": item.args_summary,
            "Claimed by": claim.claimed_by if (claim := held.get((item.thread_id, item.interrupt_id))) else "",
            "SLA": "⚠️ overdue" if item.thread_id in late else "",
        }
        for item in items
    )
    styled = frame.style.apply(lambda row: [OVERDUE_STYLE if row["SLA"] else ""] * len(row), axis=1)
    # Edits are stored by row position: a new key whenever the rows change, so a tick never moves to another item.
    rows = hashlib.sha1("|".join(i.interrupt_id for i in items).encode()).hexdigest()[:12]
    edited = st.data_editor(
        styled,
        key=f"console_rows_{st.session_state.get('console_selection_round', 0)}_{rows}",
        hide_index=True,
        disabled=[column for column in frame.columns if column != "Select"],
        column_config={"Select": st.column_config.CheckboxColumn("Select", width="small")},
    )
    for item, ticked in zip(items, edited["Select"]):
        if ticked:
            selected[(item.thread_id, item.interrupt_id)] = item
        else:
            selected.pop((item.thread_id, item.interrupt_id), None)


def pager(offset: int, shown: int, total: int) -> None:
    if total <= PAGE_SIZE:
        return
    row = st.container(horizontal=True, vertical_alignment="center")
    if row.button("Previous page", key="console_previous", disabled=offset == 0):
        set_param("offset", str(offset - PAGE_SIZE) if offset > PAGE_SIZE else None)
        st.rerun()
    if row.button("Next page", key="console_next", disabled=offset + shown >= total):
        set_param("offset", str(offset + PAGE_SIZE))
        st.rerun()
    row.caption(f"Items {offset + 1}–{offset + shown} of {total}")


def item_picker(items: list[QueueItem], actor: Actor) -> None:
    """Open one item (letting go of the one open before); it goes in the URL, and the whole page reruns."""
    opened = st.query_params.get("thread")
    by_thread = {item.thread_id: item for item in items}
    options = [None, *by_thread, *([opened] if opened and opened not in by_thread else [])]

    def label(thread_id: str | None) -> str:
        if thread_id is None:
            return "—"
        item = by_thread.get(thread_id)
        return f"{age_text(item.created_at)} · {item.tool} · {item.requester} · {item.args_summary}" if item else thread_id

    choice = st.selectbox("Open an item", options, index=options.index(opened), format_func=label, key=f"console_open_{opened}")
    if choice != opened:
        if opened:
            close_item(actor, opened, st.query_params.get("interrupt"))
        open_item(choice, by_thread[choice].interrupt_id if choice else None)
        st.rerun()


def bulk_actions(actor: Actor) -> None:
    selected: dict[tuple[str, str], QueueItem] = st.session_state.setdefault("console_selected", {})
    message = st.text_input("Reject message", key="console_bulk_message", placeholder="Every selected agent gets this")
    row = st.container(horizontal=True)
    if row.button(f"Approve selected ({len(selected)})", key="console_bulk_approve", disabled=not selected):
        run_bulk(actor, "approved", approve_value)
    if row.button(f"Reject selected ({len(selected)})", key="console_bulk_reject", disabled=not selected):
        if message.strip():
            run_bulk(actor, "rejected", lambda request: reject_value(request, message))
        else:
            show_error(InvalidDecision("Write a reject message first; every agent gets it."))
    if row.button("Clear selection", key="console_bulk_clear", disabled=not selected):
        reset_selection()
        st.rerun()
    bulk_outcome()


def reset_selection() -> None:
    st.session_state["console_selected"] = {}
    st.session_state["console_selection_round"] = st.session_state.get("console_selection_round", 0) + 1


def run_bulk(actor: Actor, verb: str, response: Callable[[HITLRequest], dict]) -> None:
    result = service.decide_many(list(st.session_state["console_selected"].values()), response, actor)
    apply_in_background(result.decided)
    st.session_state["console_bulk_result"] = (verb, result)
    reset_selection()
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
            [{"tool": item.tool, "requester": item.requester, "thread": item.thread_id, "reason": why} for item, why in result.failed],
            hide_index=True,
            key="console_bulk_failed",
        )
    if st.button("Dismiss", key="console_bulk_dismiss"):
        st.session_state.pop("console_bulk_result")
        st.rerun()


# -- the open item -----------------------------------------------------------------------------------------


def detail(actor: Actor) -> None:
    """The open item, rebuilt from the URL and the database on every run."""
    if not (raw_thread := st.query_params.get("thread")):
        return
    st.divider()
    try:
        thread_id = service.require_thread(raw_thread, viewer=actor)
    except ApprovalError as error:
        st.button("Close", key="console_close", on_click=close_item, args=(actor, raw_thread, None))
        show_error(error)
        return
    pending = service.pending_approval(thread_id, viewer=actor, with_messages=True)
    interrupt_id = st.query_params.get("interrupt") or (pending.interrupt_id if pending else None)
    set_param("interrupt", interrupt_id)
    st.button("Close", key="console_close", on_click=close_item, args=(actor, thread_id, interrupt_id))
    if interrupt_id and (decided := service.decision(thread_id, interrupt_id, viewer=actor)):
        outcome(decided, actor)
        conversation(service.messages(thread_id, viewer=actor))
    elif pending is None or pending.interrupt_id != interrupt_id:
        st.info("Nothing is pending in this conversation.")
        conversation(service.messages(thread_id, viewer=actor))
    else:
        review(pending, actor)


def outcome(decided: DecisionRecord, actor: Actor) -> None:
    if decided.decided_by == actor.name:
        st.success(f"You decided this: {decided.decision} at {decided.decided_at}.")
    else:
        st.warning(escape_markdown(str(AlreadyDecided(decided.decided_by, decided.decided_at, decided.decision))))
    runner = resources.background_runner()
    if error := runner.take_error(decided.thread_id):
        show_error(error)
    elif runner.is_running(decided.thread_id):
        st.caption("The agent is resuming with this decision…")


def review(pending: PendingApproval, actor: Actor) -> None:
    request = pending.request
    st.subheader(escape_markdown(f"{' + '.join(a.name for a in request.action_requests)} for {request.requested_by}"))
    allowed = may_decide(pending, actor)
    render_request(request)
    if allowed:
        decision_controls(pending, actor)
    payloads(pending)
    conversation(pending.messages)


def may_decide(pending: PendingApproval, actor: Actor) -> bool:
    """Claim the item on open (or renew the claim); another's live claim hides the buttons until taken over.

    A page that showed the buttons a moment ago keeps them for this one run, so a click already on its way
    still reaches the compare-and-set (which tells the slower reviewer who was first).
    """
    item = (pending.thread_id, pending.interrupt_id)
    on_screen = st.session_state.get("console_deciding") == item
    try:
        held = claims.claim(service.db, *item, actor)
    except claims.Claimed as taken:
        st.session_state["console_deciding"] = None
        st.warning(escape_markdown(str(taken)))
        if not on_screen:
            take_over(item, taken.claim, actor)
        return on_screen
    st.session_state["console_deciding"] = item
    st.caption(f"Claimed by you until {held.expires_at[11:19]} UTC.")
    return True


def take_over(item: tuple[str, str], claim: claims.Claim, actor: Actor) -> None:
    if st.session_state.get("console_confirm_take_over") != item:
        if st.button("Take over", key="console_take_over"):
            st.session_state["console_confirm_take_over"] = item
            st.rerun()
        return
    st.write(escape_markdown(f"Take this item over from {claim.claimed_by}? They may be deciding it right now."))
    row = st.container(horizontal=True)
    if row.button("Confirm take over", key="console_confirm_take_over_button", type="primary"):
        claims.claim(service.db, *item, actor, take_over=True)
        st.session_state.pop("console_confirm_take_over")
        st.rerun()
    if row.button("Cancel", key="console_cancel_take_over"):
        st.session_state.pop("console_confirm_take_over")
        st.rerun()


def decision_controls(pending: PendingApproval, actor: Actor) -> None:
    """Approve at once; Edit and Reject open their forms; an edit shows its diff before it is confirmed."""
    request, mode_key = pending.request, st.session_state.get("console_mode")
    mode = mode_key[1] if mode_key and mode_key[0] == pending.interrupt_id else None
    row = st.container(horizontal=True)
    if row.button("Approve", key="console_approve", type="primary"):
        decide(pending, approve_value(request), actor)
    for name in ("Edit", "Reject"):
        if row.button(name, key=f"console_{name.lower()}"):
            st.session_state["console_mode"] = (pending.interrupt_id, name.lower())
            st.rerun()
    if mode == "edit":
        if (value := edit_form(request, f"console_edit_form_{pending.interrupt_id}")) is not None:
            st.session_state["console_mode"] = (pending.interrupt_id, "confirm", value)
            st.rerun()
    elif mode == "confirm":
        confirm_edit(pending, mode_key[2], actor)
    elif mode == "reject":
        if (value := reject_form(request, f"console_reject_form_{pending.interrupt_id}")) is not None:
            decide(pending, value, actor)


def confirm_edit(pending: PendingApproval, value: dict, actor: Actor) -> None:
    changes = audit.diff_rows(edit_diff(pending.request, parse_response(value, pending.request)))
    st.markdown("**Your edit**")
    if changes:
        st.dataframe(changes, hide_index=True, key="console_edit_diff")
    else:
        st.info("Nothing changed: confirming is the same as approving.")
    row = st.container(horizontal=True)
    if row.button("Confirm edit", key="console_confirm_edit", type="primary"):
        decide(pending, value, actor)
    if row.button("Back to the form", key="console_edit_back"):
        st.session_state["console_mode"] = (pending.interrupt_id, "edit")
        st.rerun()


def decide(pending: PendingApproval, value: dict, actor: Actor) -> None:
    """Record (fast, with the compare-and-set), then resume in the background; the rerun shows the outcome."""
    try:
        record = service.record_decision(pending.thread_id, pending.interrupt_id, value, actor)
    except AlreadyDecided:
        pass  # the rerun shows "Already decided by X at T"
    except (ApprovalError, InvalidDecision) as error:
        show_error(error)
        return
    else:
        apply_in_background([record])
        claims.release(service.db, pending.thread_id, pending.interrupt_id, actor)
    st.session_state.pop("console_mode", None)
    st.rerun()


def payloads(pending: PendingApproval) -> None:
    """The interrupt value next to the payload annotated on the AIMessage; they must agree."""
    if not pending.payload_matches:
        st.error("The payload on the AIMessage differs from the interrupt value. Check both before deciding.")
    with st.expander("Interrupt value and annotated AIMessage payload", expanded=not pending.payload_matches):
        interrupt_col, message_col = st.columns(2)
        interrupt_col.caption("Interrupt value")
        interrupt_col.json(pending.request.model_dump(mode="json"))
        message_col.caption("AIMessage additional_kwargs['hitl']")
        message_col.json(pending.message_payload or {})


def conversation(messages: list[BaseMessage]) -> None:
    st.markdown("**Conversation**")
    for message in messages:
        if isinstance(message, HumanMessage):
            st.chat_message("user").text(message.text)
        elif isinstance(message, ToolMessage):
            st.chat_message("tool", avatar="🛠️").text(message.text)
        elif isinstance(message, AIMessage):
            bubble = st.chat_message("assistant")
            if message.text:
                bubble.text(message.text)
            for call in message.tool_calls:
                bubble.code(tool_call_line(call["name"], call["args"]), language=None, wrap_lines=True)


# -- history -----------------------------------------------------------------------------------------------


@st.fragment
def history(actor: Actor) -> None:
    records = audit.history(service, actor)
    decider_col, decision_col, tool_col = st.columns(3)
    filters = audit.AuditFilter(
        tuple(decider_col.multiselect("Decider", sorted({r.decided_by for r in records}), key="console_audit_decider")),
        tuple(decision_col.multiselect("Decision", ["approve", "edit", "reject", "mixed"], key="console_audit_decision")),
        tuple(tool_col.multiselect("Tool", sorted({r.tool for r in records}), key="console_audit_tool")),
    )
    shown = [record for record in records if filters.matches(record)]
    st.caption(f"{len(shown)} of the latest {audit.HISTORY_LIMIT} decisions")
    st.dataframe(audit.history_rows(shown), hide_index=True, key="console_audit_table")
    st.download_button("Download CSV", audit.to_csv(shown), file_name="decisions.csv", mime="text/csv", key="console_audit_csv")
    charts(shown, actor)


def charts(records: list[DecisionRecord], actor: Actor) -> None:
    median = audit.median_wait_minutes(records)
    st.metric("Median time to decision", "—" if median is None else f"{median:g} min")
    age_col, count_col, wait_col = st.columns(3)
    age_col.markdown("**Pending by age**")
    age_col.bar_chart(pd.DataFrame(audit.pending_by_age(service, actor)), x="age", y="pending", sort=False)
    if not records:
        count_col.info("No decisions yet.")
        return
    hours = pd.DataFrame(audit.hourly(records))
    count_col.markdown("**Decisions per hour**")
    count_col.bar_chart(hours, x="hour", y="decisions")
    wait_col.markdown("**Median time to decision per hour**")
    wait_col.bar_chart(hours, x="hour", y="median wait (min)")


# -- the page ----------------------------------------------------------------------------------------------

st.title("Reviewer console")
if (actor := signed_in_actor()) is None:
    st.caption("Sign in to review. Demo reviewers: alice / alice-demo, bob / bob-demo.")
    sign_in()
    st.stop()

who_col, out_col = st.columns([6, 1])
who_col.caption(escape_markdown(f"Signed in as {actor.name} ({actor.role})."))
out_col.button("Sign out", key="console_sign_out", on_click=sign_out)
if not actor.is_reviewer:
    st.info("Requesters can decide only their own self-approval requests here; everything else needs a reviewer.")
ttl = expiry.ttl_minutes()
st.caption(
    f"Highlighted: pending longer than the {expiry.sla_minutes():g}-minute SLA."
    + (f" Items pending {ttl:g} minutes are rejected automatically." if ttl else "")
)

queue_tab, history_tab, tokens_tab = st.tabs(["Queue", "History", "API tokens"])
with queue_tab:
    queue()
    detail(actor)
with history_tab:
    history(actor)
with tokens_tab:
    api_tokens_panel(actor)
