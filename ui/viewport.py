"""What a phone needs beyond Streamlit's own layout: key hints only where there is a keyboard, the open item in
view once a row is tapped, and the sidebar out of the way once a conversation in it is picked.

Streamlit has no call to scroll to an element or to close the sidebar, so those two are small scripts (st.html
with JavaScript); the hints are CSS.
"""

from __future__ import annotations

import json

import streamlit as st

ITEM_KEY = "console_item"
"""The open item's container (the column beside the queue; below it on a narrow screen)."""
PICKED_KEY = "sidebar_picked"
"""What was just picked in the sidebar, until the run that picked it has drawn the sidebar."""

NO_KEY_HINTS_ON_TOUCH = f"""<style>
@media (hover: none) and (pointer: coarse) {{ [data-testid^="stBaseButton"] kbd {{ display: none; }} }}
.st-key-{ITEM_KEY} {{ scroll-margin-top: 4rem; }}
</style>"""
"""A touch screen has no A, E or X to press: the buttons keep their names and drop the key after them. The open
item's top stops below Streamlit's header when it is scrolled to."""

ITEM_INTO_VIEW = """<script>
  // %s: the item just opened. Bring its top into view unless it already is (beside the queue on a wide screen it
  // usually is; below the queue on a phone it is not). The pane may be drawn a frame after this script runs.
  (function intoView(tries) {
    const item = document.querySelector(".st-key-%s");
    if (!item) { if (tries > 0) setTimeout(() => intoView(tries - 1), 20); return; }
    const top = item.getBoundingClientRect().top;
    if (top < 0 || top > window.innerHeight * 0.6) item.scrollIntoView({block: "start"});
  })(50);
</script>"""

SIDEBAR_AWAY = """<script>
  // %s was picked in the sidebar. Where the sidebar lies over the page (a narrow screen), close it as a tap on
  // the page would: Streamlit closes it on a press outside it, and only on a narrow screen.
  document.querySelector("[data-testid='stMain']")?.dispatchEvent(new MouseEvent("mousedown", {bubbles: true}));
</script>"""


def touch_friendly() -> None:
    """Once per page run, before its buttons: no key hints on a touch screen."""
    st.html(NO_KEY_HINTS_ON_TOUCH)


def bring_into_view(thread_id: str) -> None:
    """Scroll the open item into view when another one opens: the script runs again only when its text changes."""
    st.html(ITEM_INTO_VIEW % (json.dumps(thread_id).replace("<", "\\u003c"), ITEM_KEY),
            unsafe_allow_javascript=True)


def picked_in_sidebar(picked: str) -> None:
    """From a sidebar button's callback: the run it starts closes the sidebar (see sidebar_out_of_the_way)."""
    st.session_state[PICKED_KEY] = picked


def sidebar_out_of_the_way() -> None:
    """In the sidebar, after its buttons: on the run a pick started, close the sidebar where it covers the page."""
    if picked := st.session_state.pop(PICKED_KEY, None):
        st.html(SIDEBAR_AWAY % json.dumps(picked).replace("<", "\\u003c"), unsafe_allow_javascript=True)
