"""The browser-side clock the UI benchmarks share: the first frame drawn after a condition on the page holds.

The page notes the time itself (a MutationObserver installed before the page's own scripts, then the next
animation frame, on the navigation's clock): Playwright's waits poll with a growing backoff (0, 20, 50, 100,
100, then every 500 ms), which would round each sample up to its next poll.
"""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Browser, Page

from approvals.identity import sessions
from tests.e2e.harness import wait_ready

# Installed before any of the page's own scripts. `window.__shown` is the condition (a JS expression);
# `window.__firstDrawn` is the first frame drawn after it became true, in seconds since the navigation started.
FIRST_DRAWN = """
(() => {
  window.__shown = %s;
  const observer = new MutationObserver(() => {
    if (window.__firstDrawn === undefined && document.body && window.__shown()) {
      requestAnimationFrame(() => {
        if (window.__firstDrawn === undefined) window.__firstDrawn = performance.now() / 1000;
      });
    }
  });
  observer.observe(document, {childList: true, subtree: true, characterData: true, attributes: true});
})();
"""


def opened(browser: Browser, url: str, shown: str, session: str | None = None) -> Page:
    """A page in a fresh browser context that notes when `shown` (a JS expression) first holds, on every load;
    `session` is the app's session token the browser carries (who it is signed in as)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    if session:
        context.add_cookies([{"name": sessions.COOKIE, "value": session, "url": url}])
    context.add_init_script(FIRST_DRAWN % f"() => ({shown})")
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    wait_ready(page)
    return page


def reload_seconds(page: Page) -> float:
    """Reload and return how long until the page's condition was first drawn; waits for the run to finish."""
    page.reload(wait_until="commit")
    page.wait_for_function("window.__firstDrawn !== undefined")
    wait_ready(page)  # let the run finish before the next reload
    return page.evaluate("window.__firstDrawn")


def action_seconds(page: Page, shown: str, act: Callable[[], object]) -> float:
    """Run `act()` (a key press, a click) and return how long until `shown` was first drawn after it."""
    page.evaluate(f"window.__shown = () => ({shown}); window.__firstDrawn = undefined;"
                  " window.__started = performance.now() / 1000;")
    act()
    page.wait_for_function("window.__firstDrawn !== undefined")
    wait_ready(page)
    return page.evaluate("window.__firstDrawn - window.__started")


def measure_reloads(rounds: int, warmup: int, pages: dict[str, Page]) -> dict[str, list[float]]:
    """Reload each page in turn (alternating which goes first); the first `warmup` rounds are not kept."""
    samples: dict[str, list[float]] = {name: [] for name in pages}
    for round_number in range(warmup + rounds):
        order = list(pages.items())[:: 1 if round_number % 2 else -1]
        for name, page in order:
            seconds = reload_seconds(page)
            if round_number >= warmup:
                samples[name].append(seconds)
    return samples
