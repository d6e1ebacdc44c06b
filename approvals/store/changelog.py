"""The change log: triggers on the checkpointer's own tables note every thread a writer touched, in its transaction.

Why triggers: a worker running a registered graph with LangGraph's standard saver knows nothing about the app, so
the only place to learn of its checkpoints and interrupts without polling every thread is the database itself.
`approvals/sources/discovery.py` drains the log (`drain`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from approvals.store.database import Database, Transaction

_SQLITE_LOG = [
    "CREATE TABLE IF NOT EXISTS thread_changes (id INTEGER PRIMARY KEY AUTOINCREMENT, thread_id TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS thread_changes_checkpoint AFTER INSERT ON checkpoints"
    " BEGIN INSERT INTO thread_changes (thread_id) VALUES (NEW.thread_id); END",
    "CREATE TRIGGER IF NOT EXISTS thread_changes_interrupt AFTER INSERT ON writes WHEN NEW.channel = '__interrupt__'"
    " BEGIN INSERT INTO thread_changes (thread_id) VALUES (NEW.thread_id); END",
]
# PostgresSaver upserts (INSERT ... ON CONFLICT DO UPDATE), so its triggers fire on UPDATE as well.
_POSTGRES_LOG = [
    "CREATE TABLE IF NOT EXISTS thread_changes (id BIGSERIAL PRIMARY KEY, thread_id TEXT NOT NULL)",
    "CREATE OR REPLACE FUNCTION approvals_thread_changed() RETURNS trigger LANGUAGE plpgsql AS"
    " 'BEGIN INSERT INTO thread_changes (thread_id) VALUES (NEW.thread_id); RETURN NULL; END'",
    "CREATE OR REPLACE TRIGGER thread_changes_checkpoint AFTER INSERT OR UPDATE ON checkpoints"
    " FOR EACH ROW EXECUTE FUNCTION approvals_thread_changed()",
    "CREATE OR REPLACE TRIGGER thread_changes_interrupt AFTER INSERT OR UPDATE ON checkpoint_writes"
    " FOR EACH ROW WHEN (NEW.channel = '__interrupt__') EXECUTE FUNCTION approvals_thread_changed()",
]


def install_change_log(tx: Transaction, dialect: Literal["sqlite", "postgres"]) -> None:
    """Create the change log and its triggers (after the checkpointer's tables exist).

    The first time, every thread already in the checkpointer goes into the log: a worker may have written to the
    database before the app ever started on it.
    """
    exists = (
        "SELECT 1 AS found FROM sqlite_master WHERE type = 'trigger' AND name = 'thread_changes_checkpoint'"
        if dialect == "sqlite"
        else "SELECT 1 AS found FROM pg_trigger WHERE tgname = 'thread_changes_checkpoint'"
    )
    first_time = not tx.query(exists)
    for statement in _SQLITE_LOG if dialect == "sqlite" else _POSTGRES_LOG:
        tx.execute(statement)
    if first_time:
        tx.execute("INSERT INTO thread_changes (thread_id) SELECT DISTINCT thread_id FROM checkpoints")


def drain(db: Database, batch: int, handle: Callable[[list[str]], None]) -> int:
    """Hand the threads of the oldest `batch` log rows to `handle`, then delete those rows; returns how many.

    PostgreSQL: several replicas drain the same log; `FOR UPDATE SKIP LOCKED` gives each row to one of them, and
    the rows stay locked (and undeleted on a crash) until handled. SQLite has one writer at a time, so ids are
    committed in order: everything up to the last id read is done.
    """
    if db.dialect == "postgres":
        with db.transaction() as tx:
            rows = tx.query("SELECT id, thread_id FROM thread_changes ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
                            (batch,))
            handle([row["thread_id"] for row in rows])
            if rows:
                ids = [row["id"] for row in rows]
                tx.execute(f"DELETE FROM thread_changes WHERE id IN ({', '.join('?' * len(ids))})", ids)
        return len(rows)
    rows = db.query("SELECT id, thread_id FROM thread_changes ORDER BY id LIMIT ?", (batch,))
    handle([row["thread_id"] for row in rows])
    if rows:
        db.execute("DELETE FROM thread_changes WHERE id <= ?", (rows[-1]["id"],))
    return len(rows)
