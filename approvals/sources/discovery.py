"""Interrupts written by other processes reach the queue: a change log filled by triggers, drained by the scheduler.

A worker running a registered graph with the standard SqliteSaver (on the app's SQLite file) or PostgresSaver
(on DATABASE_URL) knows nothing about the app. Triggers on the checkpointer's own tables note the thread of every
new checkpoint and every new interrupt write in `thread_changes`, in the writer's own transaction, so nothing
is missed whoever writes. `discover()` indexes just those threads from their latest checkpoint (never a
get_state loop over all threads) and deletes the rows it handled. On PostgreSQL, several replicas drain the
same log: each row goes to one of them, and a replica that dies mid-batch leaves its rows for the next.
`reconcile()` in the service stays the full rebuild.
"""

from __future__ import annotations

import logging
from typing import Protocol

from approvals.store import changelog
from approvals.store.database import Database

log = logging.getLogger(__name__)


class Indexer(Protocol):
    """What discovery hands changed threads to (the service): the source needs no import of it."""

    db: Database

    def sync_index(self, thread_id: str) -> None: ...


DISCOVERY_SECONDS = 1.0
"""How often the scheduler's "discovery" job looks for changes; an interrupt reaches the queue within about this
long."""
BATCH = 200

def discover(service: Indexer, batch: int = BATCH) -> int:
    """Index the threads noted in the change log (up to `batch` log rows); returns how many rows were handled."""
    return changelog.drain(service.db, batch, lambda thread_ids: _index(service, thread_ids))


def discover_all(service: Indexer) -> int:
    """Drain the change log; returns how many rows were handled."""
    handled = 0
    while (count := discover(service)) > 0:
        handled += count
        if count < BATCH:
            break
    return handled


def _index(service: Indexer, thread_ids: list[str]) -> None:
    for thread_id in dict.fromkeys(thread_ids):
        try:
            service.sync_index(thread_id)
        except Exception:
            # One unreadable thread (e.g. a state class this process cannot import) must not stop the rest.
            log.exception("could not index thread %s; it is retried on its next change or a reconcile", thread_id)
