"""The console's "API tokens" panel: the signed-in person's tokens for the JSON API."""

from __future__ import annotations

from contextlib import suppress

import streamlit as st

import resources
from approvals.core.actors import Actor
from approvals.identity import api_tokens
from approvals.identity.facade import Identity

SECRET_KEY = "api_token_secret"


def api_tokens_panel(actor: Actor) -> None:
    """Make a token (its secret shown once, until Done), list the active ones with their last use, revoke."""
    identity = resources.approval_service().identity
    st.subheader("API tokens")
    st.caption("For the JSON API (`/api/approvals`, described at `/api/openapi.json`): send "
               "`Authorization: Bearer <token>`. A token acts as you, with your role, until you revoke it.")
    _show_new_secret()
    _create_form(identity, actor)
    _token_list(identity, actor)


def _show_new_secret() -> None:
    if secret := st.session_state.get(SECRET_KEY):
        st.success("Your new token. Copy it now: it is not shown again.")
        st.code(secret, language=None)
        st.button("Done", key="api_token_done", on_click=st.session_state.pop, args=(SECRET_KEY, None))


def _create_form(identity: Identity, actor: Actor) -> None:
    with st.form("api_token_new", clear_on_submit=True):
        label = st.text_input("Token name", key="api_token_label", placeholder="what it is for, e.g. Slack bot")
        submitted = st.form_submit_button("Create token")
    if submitted:
        try:
            _, secret = identity.create_token(actor.name, label)
        except api_tokens.UnknownAccount:
            st.error(f"API tokens belong to local accounts, and {actor.name} has none.")
            return
        st.session_state[SECRET_KEY] = secret
        st.rerun()


def _token_list(identity: Identity, actor: Actor) -> None:
    active = [token for token in identity.list_tokens(actor.name) if token.active]
    if not active:
        st.caption("No API tokens yet.")
    for token in active:
        name, created, used, action = st.columns([3, 3, 3, 2], vertical_alignment="center")
        name.text(token.label)
        created.text(f"created {token.created_at[:10]}, expires {token.expires_at[:10]}")
        used.text(f"last used {token.last_used_at[:16].replace('T', ' ') + ' UTC' if token.last_used_at else 'never'}")
        action.button("Revoke", key=f"api_token_revoke_{token.token_id}", on_click=_revoke,
                      args=(identity, token.token_id, actor))


def _revoke(identity: Identity, token_id: str, actor: Actor) -> None:
    with suppress(api_tokens.UnknownToken):  # revoked meanwhile (another tab): the click's wish is already true
        identity.revoke_token(token_id, owner=actor.name)
