"""Opening the store: LangGraph's checkpointer plus the app's own tables, on SQLite (default) or PostgreSQL.

The checkpoint is the source of truth for graph state; our tables (an index for the queue, the decision log,
claims, accounts, sessions, API tokens, the webhook outbox, the tool ledger) are versioned Alembic migrations
(approvals/store/migrations), applied on start under a schema lock so replicas starting together all come up.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import create_engine, make_url
from sqlalchemy.pool import NullPool

from approvals.store.changelog import install_change_log
from approvals.store.database import Database, Transaction
from approvals.store.ledger import SqlLedger
from approvals.store.migrations import upgrade

if TYPE_CHECKING:  # imported where it is used: a SQLite deployment never loads psycopg
    from langgraph.checkpoint.postgres import PostgresSaver

DEFAULT_SQLITE_PATH = Path("data/app.db")
BUSY_TIMEOUT_S = 30.0
SCHEMA_LOCK_KEY = 0x61707072  # any constant shared by every process that creates the schema
SCHEMA_LOCK_TIMEOUT_S = 60.0



@dataclass
class Store:
    """Everything the app persists, behind one object that pages get from `st.cache_resource`."""

    db: Database
    checkpointer: BaseCheckpointSaver
    ledger: SqlLedger
    url: str
    close: Callable[[], None]


def open_store(url: str | None = None) -> Store:
    """`DATABASE_URL` (or `url`) picks the backend: unset → SQLite at data/app.db; postgresql://… → PostgreSQL."""
    url = url or os.environ.get("DATABASE_URL") or str(DEFAULT_SQLITE_PATH)
    if url.startswith(("postgresql://", "postgres://")):
        return _open_postgres(url)
    return _open_sqlite(url.removeprefix("sqlite:///"))


def _sqlite_connect(path: str, synchronous: Literal["NORMAL", "FULL"]) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    return conn


def _open_sqlite(path: str) -> Store:
    from langgraph.checkpoint.sqlite import SqliteSaver

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    idle: queue.LifoQueue[sqlite3.Connection] = queue.LifoQueue()

    def borrow() -> sqlite3.Connection:
        # A small pool instead of one connection per thread: Streamlit starts a new thread for every rerun.
        try:
            return idle.get_nowait()
        except queue.Empty:
            # FULL: in WAL mode, NORMAL can lose a committed decision on power loss while the refund it
            # triggered already ran. The checkpointer keeps NORMAL: a lost checkpoint is redone by recover().
            return _sqlite_connect(path, "FULL")

    def give_back(conn: sqlite3.Connection) -> None:
        idle.put(conn)

    db = Database("sqlite", borrow, give_back)
    # The saver serializes use of its connection with a lock.
    checkpointer = SqliteSaver(_sqlite_connect(path, "NORMAL"))
    checkpointer.setup()
    _migrate_sqlite(path)

    def close() -> None:
        checkpointer.conn.close()
        while not idle.empty():
            idle.get_nowait().close()

    return Store(db, checkpointer, SqlLedger(db), path, close)


def _open_postgres(url: str) -> Store:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg import Connection
    from psycopg.rows import DictRow, dict_row
    from psycopg_pool import ConnectionPool

    saver_pool = ConnectionPool(
        url, min_size=1, max_size=8, open=True, connection_class=Connection[DictRow],
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    app_pool = ConnectionPool(url, min_size=1, max_size=8, open=True, kwargs={"autocommit": True})
    db = Database("postgres", app_pool.getconn, app_pool.putconn)
    checkpointer = PostgresSaver(saver_pool)
    try:
        _create_postgres_schema(db, url, checkpointer)
    except BaseException:
        saver_pool.close()
        app_pool.close()
        raise

    def close() -> None:
        saver_pool.close()
        app_pool.close()

    return Store(db, checkpointer, SqlLedger(db), url, close)


def _migrate_sqlite(path: str) -> None:
    """Our migrations inside one BEGIN IMMEDIATE: the write lock is the schema lock between processes."""
    engine = create_engine("sqlite://", creator=lambda: _sqlite_connect(path, "FULL"), poolclass=NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        upgrade(conn)
        install_change_log(Transaction(conn.connection.dbapi_connection, "sqlite"), "sqlite")
        conn.commit()
    engine.dispose()


def _create_postgres_schema(db: Database, url: str, checkpointer: PostgresSaver) -> None:
    """Run the checkpointer's migrations and ours while holding a session-level advisory lock.

    Replicas starting together on an empty database would otherwise collide: concurrent CREATE TABLE IF NOT
    EXISTS fails on pg_type, and two checkpointer migrations insert the same version. The lock is polled with
    pg_try_advisory_lock on an autocommit connection, outside any transaction: the checkpointer's migrations run
    CREATE INDEX CONCURRENTLY, which waits for every transaction holding an older snapshot, including the catalog
    snapshot a transaction keeps after its first statement, or a replica blocked on the lock, and PostgreSQL
    cannot see that deadlock (measured: it hangs forever). A crashed holder's lock ends with its connection.
    """
    import psycopg

    deadline = time.monotonic() + SCHEMA_LOCK_TIMEOUT_S
    with psycopg.connect(url, autocommit=True) as lock:
        while lock.execute("SELECT pg_try_advisory_lock(%s)", (SCHEMA_LOCK_KEY,)).fetchone() != (True,):
            if time.monotonic() > deadline:
                raise TimeoutError(f"another process held the schema lock for {SCHEMA_LOCK_TIMEOUT_S:.0f} s")
            time.sleep(0.05)
        checkpointer.setup()
        _migrate_postgres(url)
        with db.transaction() as tx:
            install_change_log(tx, "postgres")
        lock.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def _migrate_postgres(url: str) -> None:
    """Our migrations in a transaction of their own, run while the caller holds the schema lock."""
    engine = create_engine(make_url(url).set(drivername="postgresql+psycopg"), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            upgrade(conn)
    finally:
        engine.dispose()
