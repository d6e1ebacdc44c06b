"""Shared fixtures: a real database file per test (never a mocked checkpointer), and the service on top."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ["APPROVAL_DEMO"] = "1"  # the app under test is the quick start's, demo accounts included (and children)
# every append signs the audit chain's head: tests (and the apps they start) sign with a key of their own, never
# the developer's ~/.config one
os.environ["APPROVAL_AUDIT_KEY"] = str(Path(tempfile.mkdtemp(prefix="approvals-test-key-")) / "audit-key.pem")
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

import postgres_cluster
from harness import CHROMIUM, CHROMIUM_ARGS, start_streamlit, stop
from playwright.sync_api import Browser, Page, expect, sync_playwright
from streamlit.testing.v1 import AppTest

from approvals.core.actors import Actor
from approvals.identity.accounts import seed_demo_accounts
from approvals.service.facade import ApprovalService
from approvals.store.schema import Store, open_store

# Assertions wait up to 15 s (Playwright's default is 5): on a 2-core CI machine a decision that resumes an agent
# on another server can take longer than 5 s to show. A test that promises a time passes its own timeout.
expect.set_options(timeout=15_000)

ALICE = Actor("alice", "reviewer")
BOB = Actor("bob", "reviewer")
CAROL = Actor("carol", "requester")
GUEST = Actor("guest-test", "requester", signed_in=False)
"""A browser's private guest, as approvals.sessions names one."""

FINANCE_POLICY = """
[[rules]]
name = "finance-refunds"
tool = "issue_refund"
groups = ["finance"]
when = "args.amount <= 1000.0"

[[rules]]
name = "big-refunds"
tool = "issue_refund"
groups = ["finance"]
approvers = 2
"""
"""The channel tests' policy: refunds decided by finance, one reviewer up to $1,000 and two above."""


E2E = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e starts a process (a served app, a browser, `langgraph dev`, the CLI): mark it
    `e2e`, so `python -m pytest -m "not e2e"` is the quick loop without each file having to say so."""
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def keep_main_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest installs its script as sys.modules["__main__"] and leaves it there; a later test that spawns a
    process would make the child re-run that script (a page, or a function's temporary script). Put it back."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the test's database lives: a fresh SQLite file, then a fresh PostgreSQL database (same test twice).

    A test runs on both backends when it names this fixture (or `@pytest.mark.usefixtures("db_url")`, for a file
    `pytestmark`): the store's own contract, SQL that differs between them, and what replicas do at once. A use
    case that only takes `store` or `service` runs once, on SQLite: the repositories it calls are the same on both.
    """
    if request.param == "sqlite":
        return str(tmp_path / "app.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[postgres_cluster.Databases]:
    """One PostgreSQL server per session (TEST_DATABASE_URL or a throwaway cluster) and a migrated template.

    Without PostgreSQL the postgres tests are skipped locally, but fail when CI=true: CI never silently skips.
    """
    if reason := postgres_cluster.unavailable_reason():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests", pytrace=False)
        pytest.skip(reason)
    with postgres_cluster.server() as server_url:
        blank = postgres_cluster.Databases(server_url)
        template_url = blank.create("approvals_template")
        open_store(template_url).close()  # schema and checkpointer migrations once; copies start migrated
        yield postgres_cluster.Databases(server_url, template=urlsplit(template_url).path.lstrip("/"))
        blank.drop(template_url)


@pytest.fixture
def postgres_url(postgres_databases: postgres_cluster.Databases) -> Iterator[str]:
    """A fresh database per test, copied from the template (CREATE DATABASE ... TEMPLATE is fast)."""
    url = postgres_databases.create()
    yield url
    postgres_databases.drop(url)


@pytest.fixture
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The test's store, its demo accounts seeded: on `db_url` when the test names it (both backends), else on a
    fresh SQLite file."""
    url = request.getfixturevalue("db_url") if "db_url" in request.fixturenames else str(tmp_path / "app.db")
    store = open_store(url)
    seed_demo_accounts(store.db)
    yield store
    store.close()


@pytest.fixture
def service(store: Store) -> ApprovalService:
    return ApprovalService(store)


@pytest.fixture
def refund_pending(service: ApprovalService) -> tuple[str, str]:
    """A guest's $25 refund waiting for approval: (thread_id, interrupt_id)."""
    thread_id = service.new_thread_id()
    service.send_message(thread_id, "Refund order 1234 for $25", GUEST)
    return thread_id, service.pending_approval(thread_id, viewer=ALICE).interrupt_id


# -- real browser: a fresh `streamlit run app.py` per test, Debian's chromium driven by Playwright --------


@pytest.fixture
def app_db(tmp_path: Path) -> str:
    return str(tmp_path / "app.db")


@pytest.fixture
def app_server(tmp_path: Path, app_db: str) -> Iterator[str]:
    """Base URL of a fresh app on its own SQLite file (DATABASE_URL), stopped after the test."""
    process, base = start_streamlit({"DATABASE_URL": app_db}, tmp_path / "streamlit.log")
    yield base
    stop(process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def page_factory(browser: Browser, **context: Any) -> Iterator[Callable[[], Page]]:
    """Yields a factory of pages, each in a fresh browser context made with `context` (a separate user: own
    cookies, own session); closes them all afterwards. For fixtures: `yield from page_factory(browser, ...)`."""
    contexts = []

    def make() -> Page:
        contexts.append(browser.new_context(**context))
        page = contexts[-1].new_page()
        page.set_default_timeout(30_000)
        return page

    yield make
    for made in contexts:
        made.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Factory for pages in fresh browser contexts (each is a separate user: own cookies, own session)."""
    yield from page_factory(browser, viewport={"width": 1280, "height": 900})


# -- AppTest: the browser's session cookie -----------------------------------------------------------------


class BrowserCookie:
    """AppTest runs pages without a browser, so without the cookie the middleware sets: this jar stands in.

    Every AppTest of one test reads the same jar, like tabs of one browser.
    """

    def __init__(self) -> None:
        self.token: str | None = None
        self.device: str | None = None

    def follow(self, url: str) -> None:
        """What the browser does with the sign-in redirect: trade the code at the middleware for new cookies."""
        import resources
        from approvals.identity import sessions

        code = parse_qs(urlsplit(url).query)["code"][0]
        traded = sessions.finish_sign_in(resources.approval_service().db, self.token, code, self.device)
        if traded is not None:
            self.token, self.device = traded

    def become(self, actor: Actor) -> str:
        """Start a session for `actor` on the page's own database and carry its token."""
        import resources
        from approvals.identity import sessions

        self.token = sessions.start(resources.approval_service().db, actor, signed_in=actor.signed_in)
        return self.token


BROWSER = BrowserCookie()
"""The browser of the running AppTest test; emptied for each test by `browser_cookie`."""


@pytest.fixture
def browser_cookie(monkeypatch: pytest.MonkeyPatch) -> BrowserCookie:
    """Pages read the session token from BROWSER (and nowhere else) during this test."""
    import ui.identity

    BROWSER.token = BROWSER.device = None
    monkeypatch.setattr(ui.identity, "browser_token", lambda: BROWSER.token)
    monkeypatch.setattr(ui.identity, "follow", BROWSER.follow)
    return BROWSER


@pytest.fixture
def page_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, browser_cookie: BrowserCookie) -> Iterator[Store]:
    """The SQLite file behind the pages' cached service (DATABASE_URL), opened by the test through a store of its
    own: it plays the requesters, workers and other reviewers."""
    import resources

    path = str(tmp_path / "app.db")
    monkeypatch.setenv("DATABASE_URL", path)
    resources.approval_service.clear()
    store = open_store(path)
    yield store
    store.close()
    resources.approval_service.clear()


def as_read(at: AppTest) -> AppTest:
    """The console's open item as a reviewer sees it after reading: its screen drew every step READ_SECONDS ago,
    so the next press is not refused as too soon (ui/on_screen.py)."""
    from datetime import UTC, datetime, timedelta

    from approvals.core.reading import READ_SECONDS
    from approvals.store.database import iso
    from ui.on_screen import SHOWN_KEY

    earlier = iso(datetime.now(UTC) - timedelta(seconds=READ_SECONDS + 1))
    at.session_state[SHOWN_KEY] = dict.fromkeys(at.session_state[SHOWN_KEY], earlier)
    return at


def click_after_reading(at: AppTest, name: str) -> AppTest:
    """Click the open item's `name` button (console_approve, console_confirm_edit…), keyed by the item it was
    drawn for, as a reviewer who has read it."""
    [button] = [button for button in as_read(at).button if (button.key or "").startswith(f"{name}_")]
    return button.click().run(timeout=30)
