"""Who is at the keyboard, rebuilt on every run from the browser's session cookie (or Streamlit's own login).

Nothing about identity lives in session_state: a reload empties it, and a signed-in person must stay signed in.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from urllib.parse import urlencode

import streamlit as st
from streamlit import config
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.scriptrunner import get_script_run_ctx

import resources
from approvals.core.actors import Actor
from approvals.core.errors import NotAllowed
from approvals.identity import sessions, throttle
from approvals.identity.accounts import groups_from_claims
from ui.approval_widgets import escape_markdown


def oidc_configured() -> bool:
    return st.secrets.load_if_toml_exists() and "auth" in st.secrets


def reviewer_emails() -> set[str]:
    """Who counts as a reviewer under st.login: REVIEWER_EMAILS in secrets or the environment (comma-separated)."""
    raw = (st.secrets.get("REVIEWER_EMAILS") if st.secrets.load_if_toml_exists() else None) or os.environ.get(
        "REVIEWER_EMAILS", ""
    )
    values = raw if isinstance(raw, list) else str(raw).split(",")
    return {value.strip().lower() for value in values if value.strip()}


def browser_token() -> str | None:
    """The session token the browser sent when this tab connected (set by approvals.web's middleware)."""
    return st.context.cookies.get(sessions.COOKIE)


def current_actor() -> Actor | None:
    """The signed-in person, else this browser's private guest; None when its session has ended."""
    if oidc_configured() and st.user.get("is_logged_in"):
        email = str(st.user.get("email") or st.user.get("sub")).lower()
        actor = Actor(email, "reviewer" if email in reviewer_emails() else "requester",
                      groups=groups_from_claims(st.user.to_dict()))
        # kept as an account with the ID token's email, so email and Slack reach this person too
        resources.approval_service().identity.remember_signed_in(actor, str(st.user.get("email") or ""))
        return actor
    return resources.approval_service().identity.actor_or_start(browser_token())


def require_actor() -> Actor:
    """The current actor, checked again at the moment of acting: a callback must not trust the previous run's.

    Raises NotAllowed when the session ended (signed out in another tab, expired) since the page was drawn.
    """
    if (actor := current_actor()) is None:
        raise NotAllowed("Your session has ended. Reload the page to continue.")
    return actor


def signed_in_actor() -> Actor | None:
    """The current actor if they signed in (a guest is not signed in)."""
    actor = current_actor()
    return actor if actor is not None and actor.signed_in else None


def session_ended() -> None:
    """Said instead of a page when this tab's session is gone: only a reload brings the browser a new cookie."""
    st.info("Your session has ended (signed out, expired, or not valid). Reload the page to continue.", icon="🔒")


def sign_in() -> None:
    if oidc_configured():
        auth = st.secrets["auth"]
        named = [name for name, value in auth.items() if hasattr(value, "keys")]
        provider = None if "client_id" in auth or not named else named[0]
        st.button("Sign in", type="primary", key="console_oidc_sign_in", on_click=st.login, args=(provider,))
        return
    with st.form("console_sign_in", clear_on_submit=True):
        username = st.text_input("Username", key="console_username")
        password = st.text_input("Password", type="password", key="console_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            code = resources.approval_service().identity.begin_sign_in(
                browser_token(), username, password, client=st.context.ip_address or "",
                device=st.context.cookies.get(throttle.DEVICE_COOKIE))
        except sessions.SignInRefused as refused:
            st.error(str(refused))
        else:
            follow(handoff_url(code))


def handoff_url(code: str) -> str:
    """Where the browser trades its sign-in code for a new session cookie, then back to the console as it was."""
    base = config.get_option("server.baseUrlPath").strip("/")
    root = f"/{base}" if base else ""
    params = [(key, value) for key in st.query_params for value in st.query_params.get_all(key)]
    back = f"{root}/console" + ("?" + urlencode(params) if params else "")
    return f"{root}{sessions.HANDOFF_PATH}?{urlencode({'code': code, 'next': back})}"


def follow(url: str) -> None:
    """Send the browser to `url` of this site, as st.login and st.logout do (Streamlit's redirect message):
    a script cannot set a cookie, so the new session token comes from that request's answer."""
    context = get_script_run_ctx()
    if context is not None:
        message = ForwardMsg()
        message.auth_redirect.url = url
        context.enqueue(message)


def attack_notes(actor: Actor) -> None:
    """Tell reviewers which accounts are being guessed at; their owners' own browsers are not slowed by it."""
    if not actor.is_reviewer:
        return
    for username, failures in resources.approval_service().identity.accounts_under_attack(datetime.now(UTC)):
        st.warning(escape_markdown(
            f"{failures} failed sign-ins for {username} in the last hour from browsers that never signed in to it. "
            "Those are slowed down; browsers that signed in to it before are not."), icon="⚠️")


def sign_out() -> None:
    """End this browser's session (every tab of it), then reload at / where it gets a fresh guest cookie."""
    resources.approval_service().identity.sign_out(browser_token())
    st.logout()
