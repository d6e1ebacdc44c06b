"""Reload-to-card: a browser reload of a conversation with a pending approval until its Approve button shows,
against reloading a blank Streamlit page (bench/blank_page.py) served the same way until its text shows.

Both servers are real `streamlit run` processes (tests/browser/harness.py) and the browser is Debian's chromium
driven by Playwright. The page itself notes when the content is first drawn (a MutationObserver, then the next
animation frame, against the navigation's own clock): Playwright's waits poll with a growing backoff, which would
round each sample up to its next poll. Target: the card page <= 1.3x the blank page (medians, reloads alternating).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from approvals import sessions  # noqa: E402
from bench.common import (REQUESTER, app_service, arguments, backend_name, fresh_database, median,  # noqa: E402
                          report, request_refunds)
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, start_streamlit, stop, wait_ready  # noqa: E402

WARMUP = 3
TARGET_RATIO = 1.3
BLANK_SHOWN = "document.body.innerText.includes('Blank page')"
CARD_SHOWN = "[...document.querySelectorAll('.st-key-conversation_card button')].some(b => b.innerText === 'Approve')"
# Installed before any of the page's own scripts: the first frame drawn after `shown` became true, in seconds
# since the navigation started.
FIRST_DRAWN = """
(() => {
  const observer = new MutationObserver(() => {
    if (document.body && (%s)) {
      observer.disconnect();
      requestAnimationFrame(() => { window.__firstDrawn = performance.now() / 1000; });
    }
  });
  observer.observe(document, {childList: true, subtree: true, characterData: true});
})();
"""


def main() -> None:
    args = arguments(__doc__, rounds=20)
    with fresh_database(args.database_url) as url, tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        with app_service(url) as service:
            thread_id = request_refunds(service, 1)[0][0]
            token = sessions.start(service.db, REQUESTER, signed_in=True)  # the browser is the requester
        app, app_url = start_streamlit({"DATABASE_URL": url}, Path(logs) / "app.log")
        blank, blank_url = start_streamlit({}, Path(logs) / "blank.log", script="bench/blank_page.py")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                samples = measure(args.rounds, {
                    "blank": opened(browser, blank_url, BLANK_SHOWN),
                    "card": opened(browser, f"{app_url}/?thread={thread_id}", CARD_SHOWN,
                                   {"name": sessions.COOKIE, "value": token, "url": app_url}),
                })
                browser.close()
        finally:
            stop(app)
            stop(blank)
    baseline_s, ours_s = median(samples["blank"]), median(samples["card"])
    met = ours_s / baseline_s <= TARGET_RATIO
    report(f"Reload to visible content, median of {args.rounds}", backend_name(url),
           ("blank Streamlit page", baseline_s), ("conversation with its approval card", ours_s),
           f"target: ours <= {TARGET_RATIO}x: {'met' if met else 'MISSED'}")


def opened(browser: Browser, url: str, shown: str, cookie: dict | None = None) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    if cookie:
        context.add_cookies([cookie])
    context.add_init_script(FIRST_DRAWN % shown)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    wait_ready(page)
    return page


def measure(rounds: int, pages: dict[str, Page]) -> dict[str, list[float]]:
    """Reload each page in turn (alternating which goes first); the first rounds warm both servers up."""
    samples: dict[str, list[float]] = {name: [] for name in pages}
    for round_number in range(WARMUP + rounds):
        order = list(pages.items())[:: 1 if round_number % 2 else -1]
        for name, page in order:
            page.reload(wait_until="commit")
            page.wait_for_function("window.__firstDrawn !== undefined")
            wait_ready(page)  # let the run finish before the next reload
            if round_number >= WARMUP:
                samples[name].append(page.evaluate("window.__firstDrawn"))
    return samples


if __name__ == "__main__":
    main()
