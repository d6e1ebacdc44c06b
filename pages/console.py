"""Reviewer console (/console): sign in, work the queue of pending approvals across threads, decide, audit.

Page flow only: the queue (ui/queue.py), the open item (ui/review_pane.py) and the history (ui/history.py) are
drawn by their modules, and every decision goes through the approvals service, which enforces the policy and
the compare-and-set. The URL holds the view (filters, page offset, open item, tab) so a reload keeps it.
"""

from __future__ import annotations

import streamlit as st

import resources
from approvals.service import expiry
from ui.api_tokens import api_tokens_panel
from ui.approval_widgets import escape_markdown
from ui.attention import failing_channels, waiting_for_you
from ui.delivery import deployment_status, undelivered
from ui.history import history
from ui.identity import attack_notes, sign_in, sign_out, signed_in_actor
from ui.oversight import stop_switch
from ui.queue import opened, queue
from ui.review_pane import navigation, review_pane
from ui.viewport import ITEM_KEY, bring_into_view, touch_friendly

resources.route_through_app()
resources.background_runner()  # the runner that delivers the decisions made here (the app's lifespan starts it too)

st.title("Reviewer console")
touch_friendly()
if (actor := signed_in_actor()) is None:
    demo = resources.approval_service().identity.demo_mode()
    st.caption("Sign in to review." + (" Demo reviewers: alice / alice-demo, bob / bob-demo." if demo else ""))
    sign_in()
    st.stop()

who = st.container(horizontal=True, vertical_alignment="center")  # Sign out right after the name, not a column away
who.caption(escape_markdown(f"Signed in as {actor.name} ({actor.role})."), width="content")
who.button("Sign out", key="console_sign_out", type="tertiary", on_click=sign_out)
attack_notes(actor)
waiting_for_you(actor)
if not actor.is_reviewer:
    st.info("Requesters can decide only their own self-approval requests here; everything else needs a reviewer.")
if actor.is_reviewer and (policy_error := resources.approval_service().policy.error):
    st.error("The approval policy file was refused; the last good policy stays in force until it is fixed.")
    st.code(policy_error, language=None)
if ttl := expiry.ttl_minutes():  # the queue itself says how many items are past the SLA, when any are
    st.caption(f"Items pending {ttl:g} minutes are rejected automatically unless their policy rule says otherwise.")

# Bound to ?tab=: only the open tab runs, so the queue does not wait for the history's 5,000 decisions.
queue_tab, history_tab, tokens_tab = st.tabs(["Queue", "History", "API tokens"], key="tab", bind="query-params")
if queue_tab.open:
    # The open item beside the queue, at the top: what A decides is in view however long the queue is. With no
    # item open the queue has the whole width, so who holds what and every key argument are in view.
    list_col, item_col = queue_tab.columns([11, 9], gap="medium") if opened() else (queue_tab, queue_tab)
    if not opened():
        with item_col:
            navigation(actor)
    with list_col:
        stop_switch(actor)
        deployment_status()
        undelivered(actor)
        failing_channels(actor)
        queue()
    if current := opened():
        with item_col.container(key=ITEM_KEY):
            navigation(actor)
            review_pane(actor)
            bring_into_view(current[0])
if history_tab.open:
    with history_tab:
        history(actor)
if tokens_tab.open:
    with tokens_tab:
        api_tokens_panel(actor)
