"""Save docs/conversation.png: the conversation page with a pending $25 refund card, from a real app and browser.

Usage: python scripts/screenshot.py [output.png]. Starts `streamlit run app.py` on a throwaway database with the
browser tests' harness, sends "Refund order 1234 for $25" and captures the page once the card is up.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from harness import CHROMIUM, CHROMIUM_ARGS, start_streamlit, stop, wait_ready  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

REQUEST = "Refund order 1234 for $25"


def show_pending_card(page: Page, base: str) -> None:
    page.goto(base)
    wait_ready(page)
    page.get_by_test_id("stChatInputTextArea").fill(REQUEST)
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Approve").wait_for()
    wait_ready(page)


def main(output: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        process, base = start_streamlit({"DATABASE_URL": str(Path(tmp) / "app.db")}, Path(tmp) / "streamlit.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(30_000)
                show_pending_card(page, base)
                output.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(output), full_page=True)
                browser.close()
        finally:
            stop(process)
    print(f"saved {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "conversation.png")
