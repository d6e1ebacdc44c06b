"""Signing in with `st.login` against a real OpenID Connect provider (the npm package oidc-provider, started here):
a reviewer's groups are the ID token's `groups` claim, read again at each sign-in. Ann signs in while the directory
says finance and decides a finance-only refund; her groups change to support; after signing out and in again
the next finance-only refund opens without its decision buttons, saying which group decides it, and nothing is
recorded."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import ROOT, free_port, keys_live, requested, start_streamlit, stop, visit, wait_ready
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PROVIDER_DIR = ROOT / "tests" / "oidc"
CLIENT_ID, CLIENT_SECRET = "approvals-console", "test-only-client-secret"
POLICY = """
[[rules]]
name = "finance-refunds"
tool = "issue_refund"
groups = ["finance"]
"""


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the OIDC provider exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the OIDC provider did not answer:\n{log.read_text()}")


@pytest.fixture
def groups_file(tmp_path: Path) -> Path:
    """The provider's directory: account name → groups, read by it whenever it issues an ID token."""
    path = tmp_path / "groups.json"
    path.write_text(json.dumps({"ann": ["finance"]}))
    return path


@pytest.fixture
def oidc_app(tmp_path: Path, app_db: str, groups_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app with `[auth]` pointing at a running oidc-provider; yields the app's base URL."""
    if shutil.which("node") is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the OIDC tests need node and `npm ci --prefix tests/oidc` (the README's test command)")
    app_port, provider_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    log = tmp_path / "oidc-provider.log"
    provider = subprocess.Popen(
        ["node", "provider.js"], cwd=PROVIDER_DIR, stdout=log.open("w"), stderr=subprocess.STDOUT,
        env={**os.environ, "OIDC_PORT": str(provider_port), "OIDC_CLIENT_ID": CLIENT_ID,
             "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_GROUPS_FILE": str(groups_file),
             "OIDC_REDIRECT_URI": f"http://127.0.0.1:{app_port}/oauth2callback"})
    try:
        wait_for(f"{issuer}/.well-known/openid-configuration", provider, log)
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(f"""REVIEWER_EMAILS = "ann@example.test"

[auth]
redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"
cookie_secret = "test-only-cookie-secret-0123456789"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
server_metadata_url = "{issuer}/.well-known/openid-configuration"
client_kwargs = {{ scope = "openid email groups", prompt = "login" }}
""")
        policy = tmp_path / "approvals.toml"
        policy.write_text(POLICY)
        monkeypatch.setenv("APPROVALS_CONFIG", str(policy))  # the requests seeded below meet the same policy
        app, base = start_streamlit({"DATABASE_URL": app_db, "APPROVALS_CONFIG": str(policy),
                                     "STREAMLIT_SECRETS_FILES": str(secrets)}, tmp_path / "streamlit.log",
                                    port=app_port)
        try:
            yield base
        finally:
            stop(app)
    finally:
        stop(provider)


def decisions(app_db: str) -> list[tuple]:
    with sqlite3.connect(app_db) as conn:
        return conn.execute("SELECT thread_id, decision, decided_by FROM decisions").fetchall()


def sign_in_with_provider(page: Page, console_url: str, login: str) -> None:
    """The console's Sign in (st.login), the provider's login form (and its consent page when it asks), back."""
    visit(page, console_url)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    consent = page.get_by_role("button", name="Continue")
    expect(consent.or_(page.get_by_test_id("stApp"))).to_be_visible()
    if consent.is_visible():
        consent.click()
    page.get_by_test_id("stApp").wait_for()
    visit(page, console_url)  # Streamlit's callback lands at the app's root
    expect(page.get_by_text(f"Signed in as {login}@example.test (reviewer).")).to_be_visible()


def sign_out_everywhere(page: Page) -> None:
    """The console's Sign out (st.logout) ends the provider's session as well: it asks, and returns to the app."""
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    wait_ready(page)
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def approve(page: Page) -> None:
    keys_live(page)
    page.locator(".st-key-console_approve button").click()
    wait_ready(page)


def test_a_reviewers_groups_come_from_the_id_token_and_a_changed_claim_applies_at_the_next_sign_in(
        oidc_app, app_db, groups_file, new_page):
    first, second = requested(app_db, "Refund order 3 for $500", "Refund order 4 for $600")
    page = new_page()
    sign_in_with_provider(page, f"{oidc_app}/console?thread={first}", "ann")
    approve(page)
    deadline = time.monotonic() + 30
    while decisions(app_db) != [(first, "approve", "ann@example.test")]:
        assert time.monotonic() < deadline, f"ann's approval in finance was not recorded: {decisions(app_db)}"
        time.sleep(0.2)

    sign_out_everywhere(page)
    groups_file.write_text(json.dumps({"ann": ["support"]}))  # the directory moves ann to support
    sign_in_with_provider(page, f"{oidc_app}/console?thread={second}", "ann")
    refusal = "Only a reviewer in finance can decide this request (rule 'finance-refunds')."
    expect(page.get_by_text(refusal)).to_be_visible()  # said on opening it: she may not claim it
    expect(page.locator(".st-key-console_approve button")).to_have_count(0)
    assert decisions(app_db) == [(first, "approve", "ann@example.test")]
