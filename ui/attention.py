"""What calls a reviewer back to the console: the tab title counts the items waiting for them ("(3) Console"), a
desktop notification announces a new one (when they allowed notifications), and a channel that keeps failing is
named (its notifications are not reaching reviewers).

The notification needs the browser's Notification API, so it is a small script (st.html with JavaScript). Only
two numbers go into it (how many wait, and when the newest came); its text is fixed, so no data becomes markup.
"""

from __future__ import annotations

from datetime import datetime

import streamlit as st

import resources
from approvals.core.actors import Actor
from ui.approval_widgets import escape_markdown

REFRESH_SECONDS = 5
NOTIFY_SCRIPT = """<div class="approvals-notify"></div><script>
(() => {
  const waiting = %(waiting)d, newest = %(newest)d, key = "approvals.newestNotified";
  if (!("Notification" in window)) return;
  const stored = window.localStorage.getItem(key), seen = Number(stored || 0);
  window.localStorage.setItem(key, String(Math.max(seen, newest)));
  if (Notification.permission === "default") {
    const box = document.querySelector(".approvals-notify");
    if (box && !box.firstChild) {
      const ask = document.createElement("button");
      ask.textContent = "Allow desktop notifications";
      ask.onclick = () => Notification.requestPermission().then(() => ask.remove());
      box.appendChild(ask);
    }
  }
  if (stored !== null && newest > seen && Notification.permission === "granted") {
    new Notification("An approval is waiting for you", {
      body: waiting === 1 ? "1 item waits in the reviewer console." : waiting + " items wait in the reviewer console.",
      tag: "approvals-waiting",
    });
  }
})();
</script>"""


@st.fragment(run_every=REFRESH_SECONDS)
def waiting_for_you(actor: Actor) -> None:
    """The tab title and the desktop notification, refreshed with the queue."""
    waiting = resources.approval_service().waiting_for(viewer=actor)
    st.set_page_config(page_title=f"({waiting.count}) Console" if waiting.count else "Console")
    newest = int(datetime.fromisoformat(waiting.newest).timestamp() * 1000) if waiting.newest else 0
    st.html(NOTIFY_SCRIPT % {"waiting": waiting.count, "newest": newest}, unsafe_allow_javascript=True)


def failing_channels(actor: Actor) -> None:
    """One warning per channel whose notifications keep failing, with the last reason (plain text)."""
    for trouble in resources.approval_service().failing_channels(viewer=actor):
        st.warning(escape_markdown(
            f"{trouble.channel.capitalize()} notifications are failing: {trouble.waiting} not delivered yet, retried"
            f" with backoff. Last error: {trouble.last_error}"), icon="📭")
