"""Real-browser helpers: start `streamlit run app.py` on a free port, wait for a page the way Streamlit's e2e tests
do."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from approvals.core.actors import Actor
from approvals.service.facade import ApprovalService
from approvals.store.schema import open_store

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(
    env_overrides: dict[str, str], log_path: Path, script: str = "app.py", port: int | None = None
) -> tuple[subprocess.Popen, str]:
    """Start the app (or another `script`, served the same way) like a user would; return the process and its base
    URL once /_stcore/health answers. `port` when something must know the URL first (an OIDC client's redirect)."""
    port = port or free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env_overrides}
    if "OPENAI_API_KEY" not in env_overrides:  # the offline scripted model, unless a test brings a model server
        env.pop("OPENAI_API_KEY", None)
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"streamlit did not become healthy:\n{log_path.read_text()}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_ready(page: Page, timeout: float = 30_000) -> None:
    """Wait as Streamlit's own e2e tests do: connected, script not running, no skeleton left."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_selector("[data-testid='stSkeleton']", state="detached", timeout=timeout)


def visit(page: Page, url: str) -> Page:
    page.goto(url)
    wait_ready(page)
    return page


def sign_in(page: Page, url: str, username: str) -> Page:
    """Open `url` (a console page) and sign in there with the demo password; returns once the console shows who."""
    from playwright.sync_api import expect

    visit(page, url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(f"{username}-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {username}")).to_be_visible()
    wait_ready(page)
    return page


def keys_live(page: Page) -> None:
    """Wait until the open item's keys are live: its "Ready" sign shows once the item (or its latest step, a
    confirmation) has been on screen long enough to be read (ui/on_screen.py)."""
    from playwright.sync_api import expect

    wait_ready(page)
    expect(page.locator("[class*='st-key-console_live_']").last).to_be_visible()


def carols_email(app_db: str) -> str:
    """Carol asks for an email (reviewer-only) on the app's SQLite file; returns the thread id."""
    return requested(app_db, "Email jo@example.com about the delay")[0]


def db_value(app_db: str, sql: str, thread_id: str) -> object:
    """The first column of the first row, read straight from the app's SQLite file."""
    with sqlite3.connect(app_db) as conn:
        return conn.execute(sql, (thread_id,)).fetchone()[0]


def requested(app_db: str, *texts: str) -> list[str]:
    """Carol asks for each text in a conversation of its own, oldest first (queue order); returns the thread ids."""
    store = open_store(app_db)
    try:
        service = ApprovalService(store)
        thread_ids = [service.new_thread_id() for _ in texts]
        for thread_id, text in zip(thread_ids, texts, strict=True):
            service.send_message(thread_id, text, Actor("carol", "requester"))
        return thread_ids
    finally:
        store.close()


def until(check: Callable[[], bool], what: str) -> None:
    """Wait up to 30 s for `check` (a read of the app's database, say) to hold; fail saying `what` never did."""
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def served_app(folder: Path) -> Iterator[tuple[str, str]]:
    """For a module-scoped fixture (`yield from served_app(tmp_path_factory.mktemp(...))`): one app for the
    module's tests, each working on conversations of its own; yields (base URL, its SQLite file)."""
    app_db = str(folder / "app.db")
    process, base = start_streamlit({"DATABASE_URL": app_db}, folder / "streamlit.log")
    yield base, app_db
    stop(process)
