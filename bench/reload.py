"""Reload-to-card: a browser reload of a conversation with a pending approval until its Approve button is drawn,
against the same reload of a naive hand-written page (bench/naive_page.py, the peer) and of a blank Streamlit
page (bench/blank_page.py, the floor), each served by its own real `streamlit run` on the same database.

Targets (medians, reloads alternating): ours <= 0.9x the naive page, and heading towards <= 1.3x the blank page.
The naive page reads the SQLite file with SqliteSaver, so the peer is measured on SQLite only.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from playwright.sync_api import sync_playwright

from approvals.identity import sessions
from bench.common import (
    REQUESTER,
    app_service,
    arguments,
    backend_name,
    fresh_database,
    median,
    report,
    request_refunds,
)
from bench.draw_clock import measure_reloads, opened
from tests.e2e.harness import CHROMIUM, CHROMIUM_ARGS, start_streamlit, stop

WARMUP = 3
PEER_RATIO, FLOOR_RATIO = 0.9, 1.3
BLANK_SHOWN = "document.body.innerText.includes('Blank page')"
CARD_SHOWN = "[...document.querySelectorAll('.st-key-conversation_card button')].some(b => b.innerText === 'Approve')"
NAIVE_SHOWN = "[...document.querySelectorAll('button')].some(b => b.innerText === 'Approve')"


def main() -> None:
    args = arguments(__doc__, rounds=20)
    with fresh_database(args.database_url) as url, tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        with app_service(url) as service:
            thread_id = request_refunds(service, 1)[0][0]
            token = sessions.start(service.db, REQUESTER, signed_in=True)  # the browser is the requester
        servers = {"blank": start_streamlit({}, Path(logs) / "blank.log", script="bench/blank_page.py"),
                   "card": start_streamlit({"DATABASE_URL": url}, Path(logs) / "app.log")}
        if backend_name(url) == "sqlite":
            servers["naive"] = start_streamlit({"DATABASE_URL": url}, Path(logs) / "naive.log",
                                               script="bench/naive_page.py")
        shown = {"blank": BLANK_SHOWN, "card": CARD_SHOWN, "naive": NAIVE_SHOWN}
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                samples = measure_reloads(args.rounds, WARMUP, {
                    name: opened(browser, f"{base}/?thread={thread_id}", shown[name], token if name == "card" else None)
                    for name, (_, base) in servers.items()})
                browser.close()
        finally:
            for process, _ in servers.values():
                stop(process)
    medians = {name: median(values) for name, values in samples.items()}
    ours = ("conversation with its approval card", medians["card"])
    if "naive" in medians:
        met = medians["card"] / medians["naive"] <= PEER_RATIO
        report(f"Reload to the approval card against the peer, median of {args.rounds}", backend_name(url),
               ("naive hand-written page (bench/naive_page.py)", medians["naive"]), ours,
               f"target: ours <= {PEER_RATIO}x: {'met' if met else 'MISSED'}")
    met = medians["card"] / medians["blank"] <= FLOOR_RATIO
    report(f"Reload to the approval card against the floor, median of {args.rounds}", backend_name(url),
           ("blank Streamlit page", medians["blank"]), ours,
           f"heading towards ours <= {FLOOR_RATIO}x: {'met' if met else 'not yet'}")


if __name__ == "__main__":
    main()
