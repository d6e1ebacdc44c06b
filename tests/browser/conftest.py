"""Real-browser fixtures: a real `streamlit run app.py` on a free port, driven by Playwright with Debian's chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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

playwright_sync = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)", pytrace=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(env_overrides: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, str]:
    """Start the app like a user would; return the process and its base URL once /_stcore/health answers."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env_overrides}
    env.pop("OPENAI_API_KEY", None)
    log = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
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
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser: object) -> Iterator[Callable[[], object]]:
    """Factory for pages in fresh browser contexts (each is a separate user: own cookies, own session)."""
    contexts = []

    def make() -> object:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield make
    for context in contexts:
        context.close()


def wait_ready(page: object, timeout: float = 30_000) -> None:
    """Wait as Streamlit's own e2e tests do: connected, script not running, no skeleton left."""
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    page.wait_for_selector("[data-testid='stSkeleton']", state="detached", timeout=timeout)
