"""The three pages (run by app.py's st.App); shared resources live in `resources.py` (st.cache_resource)."""

import streamlit as st

st.set_page_config(page_title="Agent approvals", page_icon="✅", layout="wide")
page = st.navigation(
    [
        st.Page("pages/conversation.py", title="Conversation", icon="💬", url_path="conversation", default=True),
        st.Page("pages/console.py", title="Reviewer console", icon="🗂️", url_path="console"),
        st.Page("pages/durability.py", title="Durability lab", icon="🧪", url_path="durability"),
    ]
)
page.run()
