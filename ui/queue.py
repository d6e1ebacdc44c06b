"""The console's queue: filters and page in the URL, the live table (click a row to open it, tick rows for bulk),
the open item's neighbours for J/K and auto-advance, and the bulk decisions.

The URL is the view state (?thread=&interrupt= for the open item, filters, offset) so a reload keeps it;
session_state only holds what may be lost: the order of the rows last drawn. The bulk selection (by item) is kept
per browser session on the server (ui/bulk.py), so a reload keeps it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import resources
from approvals.core.actors import Actor
from approvals.core.hidden_text import reveal, text_flag
from approvals.core.human import age_text
from approvals.core.records import UNKNOWN_GRAPH, QueueItem
from approvals.core.visibility import MAX_AGE_MINUTES, MAX_OFFSET, QueueFilter
from approvals.service import expiry
from approvals.store.database import iso
from ui.approval_widgets import escape_markdown
from ui.bulk import bulk_actions, keep_ticks, ticked
from ui.human import is_destructive, key_columns
from ui.identity import signed_in_actor

PAGE_SIZE = 200
REFRESH_SECONDS = 5
POLICIES = ["self", "reviewer"]
OVERDUE_STYLE = "background-color: rgba(255, 75, 75, 0.18)"
TABLE_KEY = "console_queue"
OPEN_COLUMN = "Tool"
"""The cell the open item's row shows selected (any column would do; a click on any cell opens the row)."""

COLUMNS = {
    "Tool": st.column_config.TextColumn(width=150, help="⚠️ marks a tool whose effect cannot be undone"),
    "Claimed by": st.column_config.TextColumn(width=80, help="Who has the item open (claimed) right now"),
    "Amount": st.column_config.TextColumn(width=85),
    "Recipient": st.column_config.TextColumn(width=150),
    "Customer": st.column_config.TextColumn(width=75),
    "Order": st.column_config.TextColumn(width=60),
    "Requester": st.column_config.TextColumn(width="small"),
    "Age": st.column_config.TextColumn(width="small"),
    "Arguments": st.column_config.TextColumn(width="large"),
}
"""Fixed widths, and the columns that say who holds an item and what is being approved first: the table keeps its
shape between loads, and beside an open item (1400 px) it shows the tool, its holder and its key arguments."""

ItemKey = tuple[str, str]
"""(thread_id, interrupt_id): how an item is named across reruns, pages and refreshes."""


# -- URL state ---------------------------------------------------------------------------------------------


def set_param(name: str, value: str | list[str] | None) -> None:
    if value:
        st.query_params[name] = value
    else:
        st.query_params.pop(name, None)


def opened() -> ItemKey | None:
    """The open item as the URL names it (the interrupt may be missing on a deep link with ?thread= only)."""
    thread_id = st.query_params.get("thread")
    return (thread_id, st.query_params.get("interrupt", "")) if thread_id else None


def open_item(key: ItemKey | None, actor: Actor) -> None:
    """Open `key` (or nothing), letting go of the claim on the item open before."""
    if (current := opened()) and current != key and current[1]:
        resources.approval_service().release_claim(*current, actor)
    set_param("thread", key[0] if key else None)
    set_param("interrupt", key[1] if key else None)
    st.session_state.pop("console_mode", None)


FILTERS = {"console_tool": "tool", "console_policy": "policy", "console_min_age": "min_age",
           "console_requester": "requester", "console_mine": "mine", "console_sort": "sort"}
"""Each widget in Filters and sort, and the URL parameter that holds its value."""
EMPTY: dict[str, object] = {"console_tool": [], "console_policy": [], "console_min_age": 0, "console_requester": "",
                            "console_search": "", "console_mine": False, "console_sort": "age"}
"""Each filter's empty value (what its chip's ✕ and Clear filters put back); the search box's too."""
SORT_LABELS = {"age": "Oldest first", "newest": "Newest first", "amount": "Largest amount", "tool": "Tool"}


def queue_filter(actor: Actor, pending_tools: list[str]) -> QueueFilter:
    """The search box, then Filters and sort: an expander above the queue, so it never covers the rows it filters
    and its header stays where it is whatever is set (the chips below it say what is).

    The URL holds every value. The expander's widgets run only while it is open (a reload, collapsed, does not wait
    for their widget bundles); they start from the URL and write back to it on every run.
    """
    url = url_filters()
    st.session_state.setdefault("console_search", st.query_params.get("q", ""))
    search = st.text_input("Search", key="console_search", placeholder="Search tool, arguments, requester, title",
                           label_visibility="collapsed").strip()
    box = st.expander("Filters and sort", key="console_filters", icon=":material/filter_list:", on_change="rerun")
    values = filter_widgets(box, url, pending_tools) if box.open else url
    if {**values, "console_sort": ""} != {**url, "console_sort": ""} or search != st.query_params.get("q", ""):
        set_param("offset", None)
    for key, value in values.items():
        set_param(FILTERS[key], url_value(key, value))
    set_param("q", search)
    filter_chips({**values, "console_search": search})
    min_age, mine = int(values["console_min_age"]), bool(values["console_mine"])
    cutoff = iso(datetime.now(UTC) - timedelta(minutes=min_age)) if min_age else None
    return QueueFilter(tuple(values["console_tool"]), tuple(values["console_policy"]), (), cutoff, search=search,
                       requester_like=str(values["console_requester"]), claimed_by=actor.name if mine else None,
                       now=iso(datetime.now(UTC)), sort=str(values["console_sort"]))


def url_filters() -> dict[str, Any]:
    """Each filter's value as the URL gives it (anything the console would not offer is dropped)."""
    sort = st.query_params.get("sort", "age")
    return {
        "console_tool": st.query_params.get_all("tool"),
        "console_policy": [p for p in st.query_params.get_all("policy") if p in POLICIES],
        "console_min_age": _number("min_age", MAX_AGE_MINUTES),
        "console_requester": st.query_params.get("requester", "").strip(),
        "console_mine": st.query_params.get("mine") == "1",
        "console_sort": sort if sort in SORT_LABELS else "age",
    }


def url_value(key: str, value: object) -> str | list[str] | None:
    """How the URL spells a filter's value (nothing for an empty one or the default sort)."""
    if key == "console_mine":
        return "1" if value else None
    if key == "console_sort":
        return None if value == "age" else str(value)
    if key == "console_min_age":
        return str(value) if value else None
    return value if isinstance(value, list) else str(value) or None


def filter_widgets(box: DeltaGenerator, url: dict[str, Any], pending_tools: list[str]) -> dict[str, Any]:
    """The open expander's widgets, two rows of three, each starting from the URL's value. The tool filter offers
    what is pending now, plus whatever the URL names (`?tool=ship_order` is kept even before such an item arrives)."""
    for key, value in url.items():
        st.session_state.setdefault(key, value)
    tool_choices = sorted(set(pending_tools) | set(st.session_state["console_tool"]))
    with box:
        first, second = st.columns(3, gap="small"), st.columns(3, gap="small", vertical_alignment="bottom")
        first[0].selectbox("Sort", list(SORT_LABELS), format_func=SORT_LABELS.__getitem__, key="console_sort")
        first[1].multiselect("Tool", tool_choices, key="console_tool")
        first[2].multiselect("Policy", POLICIES, key="console_policy")
        second[0].text_input("Requester", key="console_requester", placeholder="part of a name")
        second[1].number_input("Min age (minutes)", min_value=0, max_value=MAX_AGE_MINUTES, step=5,
                               key="console_min_age")
        second[2].toggle("Mine", key="console_mine", help="Only the items you have claimed")
    return {key: st.session_state[key].strip() if key == "console_requester" else st.session_state[key]
            for key in FILTERS}


def filter_chips(values: dict[str, Any]) -> None:
    """One chip per active filter and a sort other than the default (✕ drops it), and Clear filters: what hides or
    reorders items is always on screen, open or not."""
    chips = [(key, value) for key in ("console_tool", "console_policy") for value in values[key]]
    chips += [(key, values[key]) for key in EMPTY if key not in ("console_tool", "console_policy")
              and values[key] != EMPTY[key]]
    if not chips:
        return
    row = st.container(horizontal=True, vertical_alignment="center", gap="small", key="console_chips")
    for n, (key, value) in enumerate(chips):
        row.button(chip_text(key, value), key=f"console_chip_{n}", type="secondary", icon=":material/close:",
                   on_click=drop_filter, args=(key, value))
    row.button("Clear filters", key="console_clear_filters", type="tertiary", on_click=clear_filters)


def chip_text(key: str, value: object) -> str:
    name = {"console_tool": "tool", "console_policy": "policy", "console_min_age": "older than",
            "console_requester": "requester", "console_search": "search", "console_mine": "mine",
            "console_sort": "sorted"}[key]
    shown = {"console_min_age": f"{value} min", "console_mine": "claimed by me",
             "console_sort": SORT_LABELS.get(str(value), "")}.get(key, value)
    return escape_markdown(f"{name}: {shown}")


def drop_filter(key: str, value: object) -> None:
    """Chip callback (before the widgets are drawn): the URL loses the value, and so does the widget if it is
    alive (an open expander's, or the search box)."""
    current = st.query_params.get_all(FILTERS[key]) if key in ("console_tool", "console_policy") else None
    set_filter(key, [v for v in current if v != value] if current is not None else EMPTY[key])


def clear_filters() -> None:
    """Clear filters: every filter and the search box back to empty (the sort stays: it hides nothing)."""
    for key in EMPTY:
        if key != "console_sort":
            set_filter(key, EMPTY[key])


def set_filter(key: str, value: object) -> None:
    set_param(FILTERS.get(key, "q"), url_value(key, value) if key in FILTERS else str(value) or None)
    set_param("offset", None)
    if key in st.session_state:
        st.session_state[key] = value


def filtering(filters: QueueFilter) -> bool:
    return bool(filters.tools or filters.policies or filters.created_before or filters.search
                or filters.requester_like or filters.claimed_by)


def _number(name: str, upper: int) -> int:
    """A whole number from the URL's `name`, 0 to `upper` (the API's bounds); anything else is dropped with a
    note: a crafted link must not break the queue with a traceback."""
    raw = st.query_params.get(name)
    if not raw:
        return 0
    if raw.isascii() and raw.isdigit() and int(raw) <= upper:
        return int(raw)
    st.warning(escape_markdown(f"Ignored {name}={raw[:20]!r} from the link: a whole number from 0 to {upper} was"
                               " expected."), icon="⚠️")
    st.query_params.pop(name, None)
    return 0


# -- the live queue ----------------------------------------------------------------------------------------


@st.fragment(run_every=REFRESH_SECONDS)
def queue() -> None:
    """The live queue: refreshes itself without rerunning the open item; a row click reruns the whole page.

    Who is signed in is checked on each refresh: a session ended in another tab ends this one's queue too.
    """
    if (actor := signed_in_actor()) is None:
        st.rerun()
    service = resources.approval_service()
    ticked(actor)  # the bulk selection, back after a reload; what is no longer pending is unticked, and said
    filters = queue_filter(actor, service.pending_tools(viewer=actor))
    total = service.count_pending(filters, viewer=actor)
    everything = service.count_pending(viewer=actor) if filtering(filters) else total
    offset = min(_number("offset", MAX_OFFSET), max(total - 1, 0) // PAGE_SIZE * PAGE_SIZE)
    items = service.list_pending(filters, PAGE_SIZE, offset, viewer=actor)
    sla = expiry.sla_minutes()
    late = {(item.thread_id, item.interrupt_id) for item in items if expiry.past_sla(item.created_at, sla)}
    counted = f"{total} pending" if not filtering(filters) else f"{total} of {everything} pending match these filters"
    st.markdown(f"**{counted}**" + (f" · {len(late)} past the {sla:g}-minute SLA on this page" if late else ""))
    if not items:
        st.session_state["console_rows"] = []
        if not everything:
            st.info("Nothing is waiting for a decision.")
        else:
            st.info(f"None of the {everything} pending items match these filters.", icon="🔎")
            st.button("Clear filters", key="console_clear_empty", on_click=clear_filters)
    else:
        queue_table(items, late, actor)
        pager(offset, len(items), total)
    bulk_actions(actor)


def queue_table(items: list[QueueItem], late: set[ItemKey], actor: Actor) -> None:
    """One row per item, in queue order. Clicking a cell opens its row; the row checkboxes are the bulk selection.

    Selections are positions in the rows as drawn, so they are read back against the rows drawn last time and
    written again for the rows drawn now: a refresh that shifts rows keeps the right items ticked and open.
    """
    keys = [item_key(item) for item in items]
    if clicked := read_selection(actor):
        open_item(clicked, actor)
        st.rerun()
    service = resources.approval_service()
    held = service.active_claims()
    frame = pd.DataFrame(
        {
            "Tool": tool_cell(item.tool, args),
            "Claimed by": claim.claimed_by if (claim := held.get(key)) else "",
            **key_columns(args),
            "Requester": reveal(item.requester),
            "Age": age_text(item.created_at),
            "SLA": "⚠️ overdue" if key in late else "",
            "Policy": f"{item.policy} · {item.progress}" if item.progress else item.policy,
            "Graph": graph_label(item, service.is_registered(item.graph)),
            "Arguments": reveal(item.args_summary),
        }
        for item, key in zip(items, keys, strict=True)
        for args in (item.arguments,)  # parsed from its JSON once per row
    )
    selected = st.session_state.setdefault("console_selected", {})
    current = opened()
    drawn = {
        "rows": [row for row, key in enumerate(keys) if key in selected],
        "columns": [],
        "cells": [(row, OPEN_COLUMN) for row, key in enumerate(keys)
                  if current and key[0] == current[0] and current[1] in ("", key[1])][:1],
    }
    if _selection(st.session_state.get(TABLE_KEY)) != drawn:
        st.session_state[TABLE_KEY] = {"selection": drawn}
    st.session_state["console_rows"], st.session_state["console_drawn"] = items, drawn
    # Highlighting costs a Styler pass over every cell: only pay it when something is overdue.
    shown = frame.style.apply(lambda row: [OVERDUE_STYLE if row["SLA"] else ""] * len(row), axis=1) if late else frame
    st.dataframe(shown, key=TABLE_KEY, hide_index=True, on_select="rerun", column_config=COLUMNS,
                 selection_mode=["multi-row", "single-cell"])


def tool_cell(tool: str, args: dict[str, Any]) -> str:
    """The tool's name, marked when it cannot be undone and when its arguments hide characters or lookalikes."""
    flag = text_flag(args)
    return ("⚠️ " if is_destructive(tool) else "") + reveal(tool) + (f" · {flag}" if flag else "")


def graph_label(item: QueueItem, registered: bool) -> str:
    """The graph's name as the queue shows it: unknown and unregistered graphs say so."""
    if item.graph == UNKNOWN_GRAPH:
        return "graph unknown: open it for what to do"
    return item.source if registered or item.deployment else f"{item.graph} (not registered)"


def read_selection(actor: Actor) -> ItemKey | None:
    """Take in what the user changed in the table since it was drawn: ticks update the bulk selection (by item,
    kept for a reload); a clicked cell is returned as the item to open."""
    drawn, rows = st.session_state.get("console_drawn"), st.session_state.get("console_rows", [])
    state = _selection(st.session_state.get(TABLE_KEY))
    if drawn is None or state is None or state == drawn:
        return None
    selected: dict[ItemKey, QueueItem] = st.session_state.setdefault("console_selected", {})
    if state["rows"] != drawn["rows"]:
        for row, item in enumerate(rows):
            if row in state["rows"]:
                selected[item_key(item)] = item
            else:
                selected.pop(item_key(item), None)
        keep_ticks(actor)
    st.session_state["console_drawn"] = state  # taken in: the same selection is not news on the next run
    clicked = [row for row, _ in state["cells"] if row < len(rows)]
    if clicked and state["cells"] != drawn["cells"]:
        return item_key(rows[clicked[0]])
    return None


def item_key(item: QueueItem) -> ItemKey:
    return item.thread_id, item.interrupt_id


def _selection(state: Mapping[str, Any] | None) -> dict | None:
    """The table's selection as plain lists (cells as (row, column) tuples), for comparing with what was drawn."""
    if not state:
        return None
    selection = state["selection"]
    return {
        "rows": sorted(selection.get("rows", [])),
        "columns": list(selection.get("columns", [])),
        "cells": [tuple(cell) for cell in selection.get("cells", [])],
    }


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


# -- moving through the queue ------------------------------------------------------------------------------


def neighbour(step: int, actor: Actor, *, wrap: bool = False) -> ItemKey | None:
    """The item `step` rows away from the open one in the rows last drawn (the first row when none is open),
    skipping items someone else has claimed: J/K and the auto-advance after a decision land on work you can do.
    With `wrap`, the search goes on from the other end of the page (after deciding its last row)."""
    rows = [item_key(item) for item in st.session_state.get("console_rows", [])]
    current = opened()
    positions = [row for row, key in enumerate(rows) if current and key[0] == current[0]]
    start = positions[0] if positions else (-1 if step > 0 else len(rows))
    order = rows[start + 1:] + (rows[:max(start, 0)] if wrap else []) if step > 0 else rows[:max(start, 0)][::-1]
    held = resources.approval_service().active_claims()
    return next((key for key in order if (claim := held.get(key)) is None or claim.claimed_by == actor.name), None)


def go(step: int, actor: Actor) -> None:
    """J/K button callback: open the next/previous item (nothing happens at either end of the queue)."""
    if (key := neighbour(step, actor)) is not None:
        open_item(key, actor)
