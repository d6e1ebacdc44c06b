"""Who is at the keyboard: the sign-in form, the signed-in actor, sign-out (shared by every page)."""

from __future__ import annotations

import os

import streamlit as st

import resources
from approvals.auth import Actor, authenticate


def oidc_configured() -> bool:
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def reviewer_emails() -> set[str]:
    """Who counts as a reviewer under st.login: REVIEWER_EMAILS in secrets or the environment (comma-separated)."""
    raw = (st.secrets.get("REVIEWER_EMAILS") if st.secrets.load_if_toml_exists() else None) or os.environ.get(
        "REVIEWER_EMAILS", ""
    )
    values = raw if isinstance(raw, list) else str(raw).split(",")
    return {value.strip().lower() for value in values if value.strip()}


def signed_in_actor() -> Actor | None:
    """The person at the keyboard; kept in session_state["actor"], which the conversation page reads too."""
    if oidc_configured():
        if not st.user.get("is_logged_in"):
            return None
        email = str(st.user.get("email") or st.user.get("sub")).lower()
        st.session_state["actor"] = Actor(email, "reviewer" if email in reviewer_emails() else "requester")
    return st.session_state.get("actor")


def sign_in() -> None:
    if oidc_configured():
        auth = st.secrets["auth"]
        named = [name for name, value in auth.items() if hasattr(value, "keys")]
        provider = None if "client_id" in auth or not named else named[0]
        st.button("Sign in", type="primary", key="console_oidc_sign_in", on_click=st.login, args=(provider,))
        return
    with st.form("console_sign_in"):
        username = st.text_input("Username", key="console_username")
        password = st.text_input("Password", type="password", key="console_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if (actor := authenticate(resources.approval_service().db, username, password)) is None:
            st.error("Wrong username or password.")
        else:
            st.session_state["actor"] = actor
            st.rerun()


def sign_out() -> None:
    st.session_state.pop("actor", None)
    if oidc_configured():
        st.logout()
