"""Save the README's screenshots, from a real app and browser: the conversation and the reviewer console, each at
1400×900 and 420 px wide (docs/conversation.png, docs/conversation-narrow.png, docs/console.png,
docs/console-narrow.png), and the durability lab with alice's own run beside the shipped table (docs/lab.png).

Usage: python scripts/screenshot.py [DIR]. Starts `streamlit run app.py` on a throwaway database with the browser
tests' harness; carol asks for an email and a few more actions (a queue of eight), then carol's conversation and
alice's console with the email open are captured, at 1400×900 and on a 420 px touch screen (there alice taps
the first email's row); then alice runs the lab's experiment (2 runs per cell).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "e2e")]

from harness import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    keys_live,
    sign_in,
    start_streamlit,
    stop,
    visit,
    wait_ready,
)
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright  # noqa: E402

from approvals.core.actors import Actor  # noqa: E402
from approvals.service.facade import ApprovalService  # noqa: E402
from approvals.store.schema import open_store  # noqa: E402
from ui.queue import REFRESH_SECONDS  # noqa: E402

CAROL = Actor("carol", "requester")
QUEUE = [
    "Refund order 56 for $999",
    "Delete customer 77",
    "Email al@example.com about the refund",
    "Refund order 57 for $180",
    "Email bo@example.com about the invoice",
    "Refund order 58 for $420",
    "Email cy@example.com about the delay",
]
QUEUE_REFRESH_S = REFRESH_SECONDS + 1
ROW_HEIGHT = 35
"""st.dataframe's row (and header) height in pixels."""
WIDE, NARROW = ViewportSize(width=1400, height=900), ViewportSize(width=420, height=900)


def seed(app_db: str) -> None:
    """A queue of other requests ahead of carol's email, made through the service as the app would."""
    store = open_store(app_db)
    try:
        service = ApprovalService(store)
        for text in QUEUE:
            service.send_message(service.new_thread_id(), text, CAROL)
    finally:
        store.close()


def carols_email(browser: Browser, base: str) -> tuple[Page, str]:
    page = browser.new_page(viewport=WIDE)
    page.set_default_timeout(30_000)
    sign_in(page, f"{base}/console", "carol")
    visit(page, base)
    page.get_by_test_id("stChatInputTextArea").fill("Email jo@example.com about the delay")
    page.keyboard.press("Enter")
    page.get_by_text("Waiting for a reviewer").wait_for()
    wait_ready(page)
    return page, page.url


def capture(page: Page, path: Path) -> None:
    page.wait_for_timeout(500)
    wait_ready(page)
    page.screenshot(path=str(path))
    print(f"saved {path}")


def phone(browser: Browser, url: str, username: str) -> Page:
    """A 420 px touch screen, its own browser session, signed in as `username` on `url` (a console page)."""
    page = browser.new_context(viewport=NARROW, is_mobile=True, has_touch=True).new_page()
    page.set_default_timeout(30_000)
    return sign_in(page, url, username)


def tap_row(page: Page, row: int, heading: str) -> None:
    """Tap the queue's `row` (1 is the first), as a reviewer on a phone would: its item opens and comes into view
    under a heading that contains `heading`."""
    table = page.locator(".st-key-console_queue").bounding_box()
    assert table, "the console shows its queue"
    page.touchscreen.tap(table["x"] + 100, table["y"] + ROW_HEIGHT * (row + 0.5))
    page.get_by_role("heading", name=re.compile(re.escape(heading))).wait_for()
    keys_live(page)


def lab(page: Page, base: str, path: Path) -> None:
    """Alice's own run (2 runs per cell) under the shipped table: the shipped table at the top of the screen, her
    run and where it differs from the shipped one below it."""
    visit(page, f"{base}/durability")
    page.get_by_role("spinbutton", name="Runs per cell").fill("2")
    page.get_by_role("button", name="Run the experiment").click()
    page.get_by_text("Your last run, measured").first.wait_for(timeout=180_000)
    wait_ready(page)
    page.get_by_role("heading", name="Is the payload there after a reload?").evaluate("h => h.scrollIntoView()")
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    print(f"saved {path}")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app_db = str(Path(tmp) / "app.db")
        env = {"DATABASE_URL": app_db, "APPROVAL_DEMO": "1", "DURABILITY_LAB_RUNS": str(Path(tmp) / "lab")}
        process, base = start_streamlit(env, Path(tmp) / "streamlit.log")
        try:
            seed(app_db)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                carol, url = carols_email(browser, base)
                capture(carol, out / "conversation.png")
                carol_phone = phone(browser, f"{base}/console", "carol")
                visit(carol_phone, url)
                carol_phone.get_by_text("Waiting for a reviewer").wait_for()
                capture(carol_phone, out / "conversation-narrow.png")
                alice = browser.new_page(viewport=WIDE)
                alice.set_default_timeout(30_000)
                sign_in(alice, f"{base}/console?thread={url.split('thread=')[1]}", "alice")
                alice.get_by_text("Claimed by you until").wait_for()
                alice.wait_for_timeout(QUEUE_REFRESH_S * 1000)  # the queue's next refresh shows who holds the email
                keys_live(alice)
                capture(alice, out / "console.png")
                alice_phone = phone(browser, f"{base}/console", "alice")
                tap_row(alice_phone, QUEUE.index("Email al@example.com about the refund") + 1, "al@example.com")
                capture(alice_phone, out / "console-narrow.png")
                lab(alice, base, out / "lab.png")
                browser.close()
        finally:
            stop(process)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
