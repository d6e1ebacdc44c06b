"""API tokens and `python -m approvals token ...`, on both backends: shown once, stored hashed, revocable."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ROOT

from approvals.core.actors import Actor
from approvals.identity import api_tokens
from approvals.identity.api_tokens import UnknownAccount, UnknownToken


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "approvals", "token", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "DATABASE_URL": db_url})


def test_a_token_acts_as_its_account_and_only_its_hash_is_stored(store):
    token, secret = api_tokens.create_token(store.db, " Alice ", "deploy bot")
    assert (token.username, token.label) == ("alice", "deploy bot") and secret.startswith("apr_")
    assert api_tokens.actor_for_token(store.db, secret) == Actor("alice", "reviewer")
    stored = store.db.query("SELECT * FROM api_tokens")
    assert len(stored) == 1 and secret not in str(stored) and secret[4:] not in str(stored)
    assert api_tokens.actor_for_token(store.db, secret[:-1]) is None
    assert api_tokens.actor_for_token(store.db, "Bearer " + secret) is None


def test_the_token_follows_the_accounts_current_role(store):
    _, secret = api_tokens.create_token(store.db, "carol")
    store.db.execute("UPDATE accounts SET role = 'reviewer' WHERE username = 'carol'")
    assert api_tokens.actor_for_token(store.db, secret) == Actor("carol", "reviewer")
    store.db.execute("DELETE FROM accounts WHERE username = 'carol'")
    assert api_tokens.actor_for_token(store.db, secret) is None


def test_revoked_tokens_stop_working_and_only_the_owner_may_revoke(store):
    token, secret = api_tokens.create_token(store.db, "bob")
    with pytest.raises(UnknownToken):
        api_tokens.revoke_token(store.db, token.token_id, owner="alice")
    assert api_tokens.actor_for_token(store.db, secret) is not None
    api_tokens.revoke_token(store.db, token.token_id, owner="bob")
    assert api_tokens.actor_for_token(store.db, secret) is None
    assert api_tokens.list_tokens(store.db, "bob")[0].revoked_at
    with pytest.raises(UnknownToken, match="no active token"):
        api_tokens.revoke_token(store.db, token.token_id)


def test_listing_shows_each_accounts_tokens_newest_first_and_when_they_were_last_used(store):
    older, secret = api_tokens.create_token(store.db, "alice", "first")
    newer, _ = api_tokens.create_token(store.db, "alice", "second")
    api_tokens.create_token(store.db, "bob")
    assert [t.label for t in api_tokens.list_tokens(store.db, "alice")] == ["second", "first"]
    assert len(api_tokens.list_tokens(store.db)) == 3
    assert api_tokens.list_tokens(store.db, "alice")[1].last_used_at is None
    api_tokens.actor_for_token(store.db, secret)
    first_use = api_tokens.list_tokens(store.db, "alice")[1].last_used_at
    assert first_use
    api_tokens.actor_for_token(store.db, secret)
    assert api_tokens.list_tokens(store.db, "alice")[1].last_used_at == first_use, "not rewritten on every call"
    api_tokens.actor_for_token(store.db, secret, now=datetime.now(UTC) + timedelta(minutes=2))
    assert api_tokens.list_tokens(store.db, "alice")[1].last_used_at > first_use


def test_no_token_for_an_unknown_account(store):
    with pytest.raises(UnknownAccount, match="There is no account 'mallory'"):
        api_tokens.create_token(store.db, "mallory")
    assert api_tokens.list_tokens(store.db) == []


def test_the_command_line_prints_the_token_once_then_lists_and_revokes_it(db_url, store):
    made = cli(db_url, "create", "alice", "--label", "ci")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert api_tokens.actor_for_token(store.db, secret) == Actor("alice", "reviewer")
    assert "shown only this once" in made.stderr and secret not in made.stderr
    [token] = api_tokens.list_tokens(store.db, "alice")
    listed = cli(db_url, "list")
    assert listed.returncode == 0 and token.token_id in listed.stdout and "'ci'" in listed.stdout
    assert secret not in listed.stdout
    assert cli(db_url, "revoke", token.token_id).returncode == 0
    assert api_tokens.actor_for_token(store.db, secret) is None


def test_the_command_line_refuses_an_unknown_user_with_a_clear_error(db_url, store):
    refused = cli(db_url, "create", "mallory")
    assert refused.returncode == 1
    assert refused.stdout == "" and refused.stderr.strip() == "error: There is no account 'mallory'."
    assert api_tokens.list_tokens(store.db) == []
