"""Nobody gets in where they don't belong (issue 19, findings 2, 3, 4, 6 and 7), on SQLite and PostgreSQL.

Session fixation, API tokens that outlive their welcome, lockout used as a weapon, demo accounts that come back,
stale roles, and tables that only grow: each tried the way an attacker (or a forgetful admin) would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from conftest import ALICE, CAROL
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from approvals.core.actors import Actor
from approvals.http.guards import ClientAddressMiddleware
from approvals.http.web import BrowserSessionMiddleware
from approvals.identity import accounts, api_tokens, housekeeping, sessions, throttle
from approvals.identity.facade import Identity
from approvals.service.scheduler import Scheduler, housekeeping_job
from approvals.store.schema import Store, open_store

HTML = {"Accept": "text/html"}


def sign_in(store: Store, token: str, username: str, password: str, now: datetime | None = None, *,
            client: str = "", device: str | None = None) -> tuple[str, str]:
    code = sessions.begin_sign_in(store.db, token, username, password, client=client, device=device, now=now)
    traded = sessions.finish_sign_in(store.db, token, code, device, now)
    assert traded is not None
    return traded


@pytest.fixture
def browser(store: Store) -> TestClient:
    """A browser in front of the real session middleware (a one-page app stands in for Streamlit)."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<html>app</html>")

    app = Starlette(routes=[Route("/{path:path}", page)])
    return TestClient(BrowserSessionMiddleware(app, identity=lambda: Identity(store.db)), follow_redirects=False)


def open_page(store: Store, browser: TestClient) -> str:
    """Load a page, then run it as Streamlit would once the browser connects with its cookie; the token."""
    browser.get("/", headers=HTML)
    token = browser.cookies[sessions.COOKIE]
    assert sessions.actor_or_start(store.db, token) is not None
    return token


# -- finding 3: session fixation -------------------------------------------------------------------------------


def test_a_planted_token_never_becomes_the_victims_signed_in_session(store: Store, browser: TestClient):
    planted = open_page(store, browser)  # the attacker's live guest token, set in the victim's browser
    code = sessions.begin_sign_in(store.db, planted, "alice", "alice-demo")
    answer = browser.get(f"/auth/session?code={code}&next=/console%3Fthread%3Dt1", headers=HTML)
    assert answer.status_code == 303 and answer.headers["location"] == "/console?thread=t1"
    fresh = browser.cookies[sessions.COOKIE]
    assert fresh != planted
    assert sessions.actor_for(store.db, planted) is None  # what the attacker holds is dead
    assert sessions.actor_for(store.db, fresh) == ALICE
    assert "HttpOnly" in answer.headers["set-cookie"] and throttle.DEVICE_COOKIE in answer.headers["set-cookie"]


def test_a_sign_in_code_works_once_and_only_with_the_cookie_that_asked_for_it(store: Store, browser: TestClient):
    mine = open_page(store, browser)
    code = sessions.begin_sign_in(store.db, mine, "alice", "alice-demo")
    with TestClient(browser.app, follow_redirects=False) as other:  # another person who got hold of the code
        theirs = open_page(store, other)
        assert other.get(f"/auth/session?code={code}", headers=HTML).status_code == 303
        assert other.cookies[sessions.COOKIE] == theirs and sessions.actor_for(store.db, theirs).name != "alice"
    assert sessions.finish_sign_in(store.db, mine, code) is None  # spent by the failed try: ask for a new one
    late = sessions.begin_sign_in(store.db, mine, "alice", "alice-demo")
    assert sessions.finish_sign_in(store.db, mine, late, now=datetime.now(UTC) + timedelta(minutes=3)) is None


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_the_hand_off_never_redirects_off_site(store: Store, browser: TestClient, target: str):
    code = sessions.begin_sign_in(store.db, open_page(store, browser), "alice", "alice-demo")
    answer = browser.get("/auth/session", params={"code": code, "next": target})
    assert answer.headers["location"] == "/console"


def test_signing_out_kills_the_token_and_the_next_page_load_gets_a_new_one(store: Store, browser: TestClient):
    guest = open_page(store, browser)
    signed_in, _ = sign_in(store, guest, "carol", "carol-demo")
    sessions.sign_out(store.db, signed_in)
    with TestClient(browser.app) as same_browser_after_sign_out:
        answer = same_browser_after_sign_out.get("/", headers={**HTML, "Cookie": f"{sessions.COOKIE}={signed_in}"})
    new_token = answer.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert new_token not in (guest, signed_in)
    assert sessions.actor_or_start(store.db, new_token).name.startswith("guest-")  # once the page runs
    assert sessions.actor_for(store.db, signed_in) is None


def test_api_tokens_expire_are_listed_with_their_last_use_and_end_with_revoke_all(store: Store, monkeypatch):
    monkeypatch.setenv("APPROVAL_TOKEN_DAYS", "1")
    token, secret = api_tokens.create_token(store.db, "alice")
    now = datetime.now(UTC)
    assert api_tokens.actor_for_token(store.db, secret, now) == ALICE
    listed = api_tokens.list_tokens(store.db, "alice")[0]
    assert listed.last_used_at is not None and listed.expires_at[:10] == (now + timedelta(days=1)).date().isoformat()
    assert api_tokens.actor_for_token(store.db, secret, now + timedelta(days=1, minutes=1)) is None
    monkeypatch.delenv("APPROVAL_TOKEN_DAYS")
    _, lasting = api_tokens.create_token(store.db, "alice")
    assert api_tokens.actor_for_token(store.db, lasting, now + timedelta(days=89)) == ALICE
    assert api_tokens.actor_for_token(store.db, lasting, now + timedelta(days=91)) is None
    assert sessions.revoke_all(store.db, "alice") == 2  # both tokens (no browser session was open)
    assert api_tokens.actor_for_token(store.db, lasting, now) is None


def test_a_bad_token_lifetime_is_refused_with_a_clear_message(store: Store, monkeypatch):
    monkeypatch.setenv("APPROVAL_TOKEN_DAYS", "-3")
    with pytest.raises(ValueError, match="APPROVAL_TOKEN_DAYS must be between 0 and 3660 days"):
        api_tokens.create_token(store.db, "alice")
    assert api_tokens.list_tokens(store.db) == []


# -- finding 7: stale roles ------------------------------------------------------------------------------------


def test_a_session_follows_its_account_when_it_is_demoted_or_deleted(store: Store):
    token, _ = sign_in(store, sessions.start_guest(store.db), "alice", "alice-demo")
    store.db.execute("UPDATE accounts SET role = 'requester' WHERE username = 'alice'")
    assert sessions.actor_for(store.db, token) == Actor("alice", "requester")
    store.db.execute("DELETE FROM accounts WHERE username = 'alice'")
    assert sessions.actor_for(store.db, token) is None


# -- finding 4: lockout as a weapon ------------------------------------------------------------------------------


def test_a_two_hour_attack_never_keeps_alice_out_on_her_own_browser(store: Store):
    start = datetime.now(UTC)
    _, device = sign_in(store, sessions.start_guest(store.db), "alice", "alice-demo", start, client="10.0.0.5")
    signed_in = 0
    for minute in range(1, 121):
        now = start + timedelta(minutes=minute)
        for second in range(0, 60, 10):  # the attacker tries every 10 s, from one address
            with contextlib.suppress(sessions.SignInRefused):
                sessions.begin_sign_in(store.db, sessions.start_guest(store.db), "alice", "guess",
                                       client="203.0.113.9", now=now + timedelta(seconds=second))
        if minute % 10 == 0:  # alice signs in every 10 minutes from the browser she used before
            sign_in(store, sessions.start_guest(store.db), "alice", "alice-demo", now, client="10.0.0.5",
                    device=device)
            signed_in += 1
    assert signed_in == 12
    assert throttle.accounts_under_attack(store.db, start + timedelta(minutes=120)) == [
        ("alice", len(store.db.query("SELECT 1 AS f FROM sign_in_failures WHERE failed_at > ?",
                                     ((start + timedelta(minutes=60)).isoformat(timespec="milliseconds"),))))]


def test_other_clients_wait_growing_delays_instead_of_a_lock(store: Store):
    now = datetime.now(UTC)
    token = sessions.start_guest(store.db)
    failures = throttle.FREE_TRIES + 3
    for attempt in range(failures):  # each try waits out the delay the previous failures earned
        with pytest.raises(sessions.SignInRefused, match="Wrong username or password"):
            sessions.begin_sign_in(store.db, token, "carol", "wrong", client="198.51.100.1", now=now)
        last, now = now, now + throttle.delay(attempt + 1) + timedelta(milliseconds=1)
    assert [throttle.delay(n).total_seconds() for n in range(2, 7)] == [0, 2, 4, 8, 16]
    with pytest.raises(sessions.SignInRefused, match="Too many failed sign-ins. Try again in 16 s"):
        sessions.begin_sign_in(store.db, token, "carol", "carol-demo", client="198.51.100.2", now=last)
    sign_in(store, token, "carol", "carol-demo", now, client="198.51.100.2")  # waited it out: no lock


# -- issue 27, finding 3: a throttle that cannot be raced, steered or turned on everyone ----------------------------


def test_parallel_wrong_passwords_are_checked_only_as_often_as_the_delay_allows(store: Store, monkeypatch):
    """Four failures earn a 4 s wait; once it is over, eight parallel guesses get one password check, not eight."""
    checks: list[int] = []
    real_verify = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda *a: checks.append(1) or real_verify(*a))
    now = datetime.now(UTC)
    for attempt in range(throttle.FREE_TRIES + 1):
        with pytest.raises(sessions.SignInRefused, match="Wrong username or password"):
            sessions.begin_sign_in(store.db, sessions.start_guest(store.db), "carol", "guess", client="203.0.113.7",
                                   now=now)
        now += throttle.delay(attempt + 1) + timedelta(milliseconds=1)
    checks.clear()
    guests = [sessions.start_guest(store.db) for _ in range(8)]
    start = threading.Barrier(len(guests))

    def guess(token: str) -> str:
        start.wait()
        try:
            sessions.begin_sign_in(store.db, token, "carol", "guess", client="203.0.113.7", now=now)
        except sessions.SignInRefused as refused:
            return str(refused)
        return "signed in"

    with ThreadPoolExecutor(len(guests)) as pool:
        answers = list(pool.map(guess, guests))
    assert sorted(answer.split(".")[0] for answer in answers) == ["Too many failed sign-ins"] * 7 + [
        "Wrong username or password"]
    assert len(checks) == 1


def test_a_stranger_without_an_address_never_slows_bob_on_a_new_browser(store: Store):
    """Clients whose address is unknown (this host, a proxy nobody named) share no bucket: the account's own
    count still slows guesses at bob, and bob's known browser is never slowed."""
    now = datetime.now(UTC)
    _, bobs_laptop = sign_in(store, sessions.start_guest(store.db), "bob", "bob-demo", now)
    for username in ("carol", "alice", "nobody", "carol", "alice", "nobody", "carol", "alice"):
        with contextlib.suppress(sessions.SignInRefused):
            sessions.begin_sign_in(store.db, sessions.start_guest(store.db), username, "guess", now=now)
    sign_in(store, sessions.start_guest(store.db), "bob", "bob-demo", now)  # a new browser, at once
    for _ in range(throttle.FREE_TRIES + 2):  # now the stranger guesses at bob himself
        with contextlib.suppress(sessions.SignInRefused):
            sessions.begin_sign_in(store.db, sessions.start_guest(store.db), "bob", "guess", now=now)
    with pytest.raises(sessions.SignInRefused, match="Too many failed sign-ins"):
        sessions.begin_sign_in(store.db, sessions.start_guest(store.db), "bob", "bob-demo", now=now)
    sign_in(store, sessions.start_guest(store.db), "bob", "bob-demo", now, device=bobs_laptop)


async def _seen_client(scope_client: tuple[str, int], forwarded: str) -> tuple[str, int] | None:
    """The client a page or route sees behind the server's own proxy handling (uvicorn's, as `streamlit run`
    wraps the app) and ClientAddressMiddleware."""
    seen: list = []

    async def app(scope, receive, send) -> None:
        seen.append(scope["client"])

    served = ProxyHeadersMiddleware(ClientAddressMiddleware(app), trusted_hosts="127.0.0.1,::1")
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-forwarded-for", forwarded.encode())],
             "client": scope_client}
    await served(scope, None, None)  # type: ignore[arg-type]
    return seen[0] and tuple(seen[0])


@pytest.mark.parametrize("trusted, peer, forwarded, believed", [
    ("", ("127.0.0.1", 50001), "198.51.100.4", None),  # a local client names any address: not believed
    ("", ("203.0.113.9", 50001), "198.51.100.4", ("203.0.113.9", 50001)),
    ("127.0.0.1", ("127.0.0.1", 50001), "198.51.100.4", ("198.51.100.4", 0)),  # a same-host proxy, named
    ("10.0.0.0/8", ("10.1.2.3", 50001), "198.51.100.4, 10.9.9.9", ("198.51.100.4", 0)),
    ("10.0.0.0/8", ("203.0.113.9", 50001), "198.51.100.4", ("203.0.113.9", 50001)),  # not a named proxy
    ("10.0.0.0/8", ("127.0.0.1", 50001), "198.51.100.4", None),
])
def test_forwarded_for_is_believed_only_from_a_proxy_named_in_configuration(monkeypatch, trusted, peer, forwarded,
                                                                            believed):
    monkeypatch.setenv("APPROVAL_TRUSTED_PROXIES", trusted)
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    with ThreadPoolExecutor(1) as pool:  # a thread of its own: Playwright's sync API may hold this one's loop
        seen = pool.submit(asyncio.run, _seen_client(peer, forwarded)).result()
    if believed is None:  # unknown: what st.context.ip_address reads as no address
        assert seen is not None and seen[0] in ("127.0.0.1", "::1")
    else:
        assert seen == believed


def test_a_bad_trusted_proxy_setting_stops_the_app_with_the_reason(monkeypatch):
    monkeypatch.setenv("APPROVAL_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    with pytest.raises(ValueError, match="APPROVAL_TRUSTED_PROXIES: 'proxy.internal' is not an IP address"):
        ClientAddressMiddleware(lambda *a: None)  # type: ignore[arg-type]


# -- issue 27, finding 7: a bare GET writes nothing -----------------------------------------------------------------


def test_cookie_less_page_loads_write_no_session_row_until_the_browser_runs_the_page(store: Store,
                                                                                    browser: TestClient):
    def rows() -> int:
        return len(store.db.query("SELECT 1 AS found FROM sessions"))

    for _ in range(5):
        with TestClient(browser.app) as crawler:
            assert sessions.COOKIE in crawler.get("/", headers=HTML).headers["set-cookie"]
    assert rows() == 0
    token = open_page(store, browser)
    assert rows() == 1 and browser.get("/", headers=HTML).headers.get("set-cookie") is None  # kept, not replaced
    assert sessions.actor_or_start(store.db, token) == sessions.actor_or_start(store.db, token)  # the same guest
    assert rows() == 1


# -- finding 2: demo accounts ---------------------------------------------------------------------------------


def test_removed_demo_accounts_are_not_created_again(store: Store):
    store.db.execute("DELETE FROM accounts WHERE username = 'alice'")
    store.db.execute("INSERT INTO accounts (username, role, password_hash) VALUES ('dana', 'reviewer', ?)",
                     (accounts.hash_password("long-and-private"),))
    assert accounts.seed_demo_accounts(store.db) == []
    assert accounts.check_password(store.db, "alice", "alice-demo") is None


@pytest.mark.parametrize("flag, database_url, own_account, expected", [
    (None, None, False, True),  # the offline quick start
    (None, "postgresql://db/app", False, False),
    (None, None, True, False),
    ("1", "postgresql://db/app", True, True),
    ("0", None, False, False),
])
def test_demo_mode_is_on_only_for_the_quick_start_unless_the_variable_says(
        tmp_path, monkeypatch, flag, database_url, own_account, expected):
    for name, value in (("APPROVAL_DEMO", flag), ("DATABASE_URL", database_url)):
        monkeypatch.setenv(name, value) if value else monkeypatch.delenv(name, raising=False)
    store = open_store(str(tmp_path / "app.db"))
    try:
        if own_account:
            store.db.execute("INSERT INTO accounts (username, role, password_hash) VALUES ('dana', 'reviewer', 'x')")
        assert accounts.demo_mode(store.db) is expected
    finally:
        store.close()


def test_a_bad_demo_flag_is_a_clear_error(store: Store, monkeypatch):
    monkeypatch.setenv("APPROVAL_DEMO", "maybe")
    with pytest.raises(ValueError, match="APPROVAL_DEMO must be 1 or 0, not 'maybe'"):
        accounts.demo_mode(store.db)


# -- finding 6: unbounded tables ------------------------------------------------------------------------------


def test_one_replica_purges_ended_sessions_dead_tokens_and_old_failures(store: Store, db_url: str):
    now = datetime.now(UTC)
    live = sessions.start_guest(store.db)
    stale = sessions.start(store.db, CAROL, signed_in=True)
    store.db.execute("UPDATE sessions SET last_seen_at = ? WHERE username = 'carol'",
                     ((now - timedelta(days=2)).isoformat(),))
    revoked, secret = api_tokens.create_token(store.db, "bob")
    api_tokens.revoke_token(store.db, revoked.token_id)
    store.db.execute("UPDATE api_tokens SET revoked_at = ?", ((now - timedelta(days=8)).isoformat(),))
    kept, kept_secret = api_tokens.create_token(store.db, "alice")
    throttle.reserve(store.db, "alice", "client:x", False, now - timedelta(days=2))
    throttle.reserve(store.db, "alice", "client:x", False, now)
    other = open_store(db_url)  # a second replica on the same database
    try:
        clocks = [Scheduler(replica.db, [housekeeping_job(replica.db)], "replica") for replica in (store, other)]
        assert [clock.run_due(now) for clock in clocks] == [["identity-purge"], []]  # one replica did it
    finally:
        other.close()
    assert sessions.actor_for(store.db, live) is not None and sessions.actor_for(store.db, stale) is None
    assert [t.token_id for t in api_tokens.list_tokens(store.db)] == [kept.token_id]
    assert len(store.db.query("SELECT 1 AS f FROM sign_in_failures")) == 1
    assert clocks[0].run_due(now + housekeeping.every() / 2) == []
    assert clocks[0].run_due(now + housekeeping.every()) == ["identity-purge"]  # the next period's run


def test_a_guest_session_leaves_the_connection_as_durable_as_before(store: Store):
    """Guests are written without an fsync; the setting must not leak to the decision written next."""
    setting = "PRAGMA synchronous" if store.db.dialect == "sqlite" else "SHOW synchronous_commit"
    before = store.db.query(setting)
    sessions.start_guest(store.db)
    assert store.db.query(setting) == before
    if store.db.dialect == "sqlite":
        assert before == [{"synchronous": 2}]  # FULL
