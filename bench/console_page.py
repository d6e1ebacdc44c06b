"""bench/console.py's server: the app's console page with a reviewer signed in, as a session cookie does it.

A reload starts a new Streamlit session; until sign-in survives reloads (server-side sessions), this script
stands in for the cookie so a reload measures the console's own work: the page script, the websocket and the
browser's drawing. Served by `streamlit run` from the repository root, exactly as the app is.
"""

from pathlib import Path

import streamlit as st

from approvals.auth import Actor

st.set_page_config(page_title="Agent approvals", page_icon="✅", layout="wide")
st.session_state.setdefault("actor", Actor("alice", "reviewer"))
console = Path(__file__).resolve().parents[1] / "pages" / "console.py"
st.navigation([st.Page(console, title="Reviewer console", url_path="console", default=True)]).run()
