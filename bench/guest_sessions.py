"""A new browser's cost: the guest session its first page run creates, against the same row written durably.

Every new browser that runs a page makes a guest session (a bare page load writes nothing), so a crowd of them (or
a script) must not queue fsyncs in front of decisions. Ours is `sessions.start_guest` (no fsync: SQLite
synchronous=NORMAL in WAL, PostgreSQL synchronous_commit off, for that one write); the baseline is the same insert
through `sessions.start`, committed durably as decisions are. Target: ours <= 0.5x the baseline (medians).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, sys.path[0] is bench/, where queue.py would shadow the standard library's queue module.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from approvals.core.actors import Actor
from approvals.identity import sessions
from approvals.store.schema import open_store
from bench.common import arguments, backend_name, fresh_database, median, ratio_target, report, seconds

GUEST = Actor("guest-bench", "requester")


def main() -> None:
    args = arguments(__doc__.splitlines()[0], rounds=300)
    with fresh_database(args.database_url) as url:
        store = open_store(url)
        try:
            durable, unsynced = [], []
            for _ in range(args.rounds):  # interleaved, so both see the same disk and cache
                durable.append(seconds(lambda: sessions.start(store.db, GUEST, signed_in=False)))
                unsynced.append(seconds(lambda: sessions.start_guest(store.db)))
        finally:
            store.close()
    baseline, ours = median(durable), median(unsynced)
    report("Guest session per cookie-less page load", backend_name(url), ("durable insert", baseline),
           ("start_guest", ours), ratio_target(baseline, ours, 0.5))


if __name__ == "__main__":
    main()
