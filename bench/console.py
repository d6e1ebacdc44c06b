"""The reviewer console in a real browser, with 10,000 threads and 1,000 pending, against a blank page's reload:

- reload of the signed-in console until the queue table is drawn (target <= 1.5x the blank page);
- Approve pressed (the A key) until the next item's card is drawn (target <= 1.0x a blank-page reload).

Same clock as bench/reload.py (bench/draw_clock.py), same servers setup; the browser carries a signed-in
reviewer's session cookie. The database is built as bench/queue.py builds it (seed conversations through the
graph, copies through the checkpointer).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from playwright.sync_api import Page, sync_playwright

from approvals.identity import sessions
from bench.common import REVIEWER, app_service, arguments, backend_name, fresh_database, median, report
from bench.draw_clock import action_seconds, opened, reload_seconds
from bench.queue import build
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, keys_live, start_streamlit, stop

WARMUP = 3
RELOAD_RATIO, APPROVE_RATIO = 1.5, 1.0
BLANK_SHOWN = "document.body.innerText.includes('Blank page')"
QUEUE_SHOWN = ("document.querySelector('.st-key-console_queue canvas')"
               " && document.body.innerText.includes(' pending')")
# The next item is drawn: the URL names it, and its Approve button and conversation are no longer stale.
NEXT_SHOWN = """
new URLSearchParams(location.search).get('thread') === %r
  && [...document.querySelectorAll('.st-key-console_approve button, [data-testid=stChatMessage]')]
       .filter(e => !e.closest('[data-stale=true]')).length >= 2
"""


def main() -> None:
    args = arguments(__doc__, threads=10_000, pending=1_000, rounds=20)
    with fresh_database(args.database_url) as url, tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        with app_service(url) as service:
            started = time.perf_counter()
            build(service, args.threads, args.pending)
            print(f"built {args.threads} threads ({args.pending} pending) in {time.perf_counter() - started:.1f} s")
            queue = [item.thread_id for item in service.list_pending(limit=WARMUP + args.rounds + 1, viewer=REVIEWER)]
            built = {d.decision_id for d in service.decisions(limit=args.threads, viewer=REVIEWER)}
            token = sessions.start(service.db, REVIEWER, signed_in=True)
        blank, blank_url = start_streamlit({}, Path(logs) / "blank.log", script="bench/blank_page.py")
        console, console_url = start_streamlit({"DATABASE_URL": url}, Path(logs) / "console.log")
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                blank_page = opened(browser, blank_url, BLANK_SHOWN)
                console_page = opened(browser, f"{console_url}/console", QUEUE_SHOWN, token)
                reviewer = opened(browser, f"{console_url}/console?thread={queue[0]}", QUEUE_SHOWN, token)
                samples = measure(args.rounds, blank_page, console_page, reviewer, queue)
                browser.close()
        finally:
            stop(blank)
            stop(console)
        with app_service(url) as service:  # every A press decided its own item, once
            decided = [(d.thread_id, d.decided_by, d.decision)
                       for d in service.decisions(limit=args.threads, viewer=REVIEWER)
                       if d.decision_id not in built]
        assert sorted(decided) == sorted((thread_id, "alice", "approve") for thread_id in queue[:WARMUP + args.rounds])
    blank_s = median(samples["blank"])
    reload_s, approve_s = median(samples["reload"]), median(samples["approve"])
    report(f"Console reload to the queue table drawn, {args.threads} threads, {args.pending} pending, "
           f"median of {args.rounds}", backend_name(url), ("blank Streamlit page reload", blank_s),
           ("signed-in console reload", reload_s),
           f"target: ours <= {RELOAD_RATIO}x: {'met' if reload_s / blank_s <= RELOAD_RATIO else 'MISSED'}")
    report(f"Approve pressed to the next item drawn, median of {args.rounds}", backend_name(url),
           ("blank Streamlit page reload", blank_s), ("A pressed, next item drawn", approve_s),
           f"target: ours <= {APPROVE_RATIO}x: {'met' if approve_s / blank_s <= APPROVE_RATIO else 'MISSED'}")


def measure(rounds: int, blank: Page, console: Page, reviewer: Page, queue: list[str]) -> dict[str, list[float]]:
    """Rounds alternate the three measurements; each A press decides the open item and opens the next one."""
    samples: dict[str, list[float]] = {"blank": [], "reload": [], "approve": []}
    for round_number in range(WARMUP + rounds):
        following = queue[round_number + 1]
        taken: dict[str, Callable[[], float]] = {
            "blank": lambda: reload_seconds(blank),
            "reload": lambda: reload_seconds(console),
            "approve": partial(approve_seconds, reviewer, following),
        }
        for name, take in list(taken.items())[:: 1 if round_number % 2 else -1]:
            seconds = take()
            if round_number >= WARMUP:
                samples[name].append(seconds)
    return samples


def approve_seconds(reviewer: Page, following: str) -> float:
    """A pressed once the open item's keys are live (a press before it is read does nothing), to `following` drawn."""
    keys_live(reviewer)
    return action_seconds(reviewer, NEXT_SHOWN % following, partial(reviewer.keyboard.press, "a"))


if __name__ == "__main__":
    main()
