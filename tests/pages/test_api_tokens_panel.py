"""The console's "API tokens" panel in AppTest: create (secret shown once), list, revoke; on its own SQLite file."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from approvals.core.actors import Actor
from approvals.identity import api_tokens
from approvals.identity.accounts import seed_demo_accounts
from approvals.store.schema import Store


def panel(name: str, role: str) -> None:
    from approvals.core.actors import Actor
    from ui.api_tokens import api_tokens_panel

    api_tokens_panel(Actor(name, role))


@pytest.fixture
def app_store(page_store: Store) -> Store:
    """The database the panel's service opens (DATABASE_URL), with the demo accounts."""
    seed_demo_accounts(page_store.db)
    return page_store


def run_panel(name: str = "alice", role: str = "reviewer") -> AppTest:
    return AppTest.from_function(panel, args=(name, role)).run(timeout=30)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_a_new_token_is_shown_once_then_listed_without_its_secret(app_store):
    at = run_panel()
    assert "No API tokens yet." in [c.value for c in at.caption]
    at.text_input(key="api_token_label").input("ci bot")
    button(at, "Create token").click()
    at.run(timeout=30)
    [secret] = [block.value for block in at.code]
    assert api_tokens.actor_for_token(app_store.db, secret) == Actor("alice", "reviewer")
    assert "ci bot" in [t.value for t in at.text]
    button(at, "Done").click()
    at.run(timeout=30)
    assert not at.code and secret not in str([t.value for t in at.text])
    assert "ci bot" in [t.value for t in at.text]


def test_revoke_stops_the_token_and_removes_it_from_the_list(app_store):
    _, secret = api_tokens.create_token(app_store.db, "alice", "old script")
    api_tokens.create_token(app_store.db, "bob", "bob's")
    at = run_panel()
    assert [t.value for t in at.text if t.value in {"old script", "bob's"}] == ["old script"]
    button(at, "Revoke").click()
    at.run(timeout=30)
    assert api_tokens.actor_for_token(app_store.db, secret) is None
    assert "No API tokens yet." in [c.value for c in at.caption]


def test_someone_without_a_local_account_is_told_so(app_store):
    at = run_panel("dana@example.com", "requester")
    button(at, "Create token").click()
    at.run(timeout=30)
    assert [e.value for e in at.error] == ["API tokens belong to local accounts, and dana@example.com has none."]
    assert api_tokens.list_tokens(app_store.db) == []
