"""Entry point (`streamlit run app.py`): Streamlit serves `navigation.py`, behind the app's own middleware.

The middleware gives every browser that loads a page a server-side session in an HttpOnly cookie, so who you are
survives reloads, new tabs and app restarts.
"""

import streamlit as st
from starlette.middleware import Middleware

import resources
from approvals.web import BrowserSessionMiddleware

app = st.App(
    "navigation.py",
    middleware=[Middleware(BrowserSessionMiddleware, database=lambda: resources.approval_service().db)],
)
