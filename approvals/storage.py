"""The database: LangGraph's checkpointer plus the app's own tables, on SQLite (default) or PostgreSQL.

The checkpoint is the source of truth for graph state; the tables here are an index for the queue, the
decision log (UNIQUE per interrupt, so a second decision cannot land), claims, accounts, API tokens, the
webhook outbox and the tool ledger.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver

from approvals.discovery import install_change_log

DEFAULT_SQLITE_PATH = Path("data/app.db")
BUSY_TIMEOUT_S = 30.0
SCHEMA_LOCK_KEY = 0x61707072  # any constant shared by every process that creates the schema
SCHEMA_LOCK_TIMEOUT_S = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    requester TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    graph TEXT NOT NULL DEFAULT 'support'
);
CREATE INDEX IF NOT EXISTS threads_updated ON threads (updated_at);
CREATE INDEX IF NOT EXISTS threads_requester ON threads (requester, updated_at);  -- a person's own conversations
CREATE TABLE IF NOT EXISTS pending (
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    requester TEXT NOT NULL,
    policy TEXT NOT NULL,
    args_summary TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL,
    graph TEXT NOT NULL DEFAULT 'support',
    kind TEXT NOT NULL DEFAULT 'hitl',
    PRIMARY KEY (thread_id, interrupt_id)
);
CREATE INDEX IF NOT EXISTS pending_queue ON pending (status, created_at, thread_id);  -- the queue order: no sort step
CREATE TABLE IF NOT EXISTS decisions (
    decision_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    response TEXT NOT NULL,
    tool TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    edit_diff TEXT NOT NULL,
    message TEXT NOT NULL,
    applied_at TEXT,
    UNIQUE (thread_id, interrupt_id)
);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (decided_at);
CREATE TABLE IF NOT EXISTS claims (
    thread_id TEXT NOT NULL,
    interrupt_id TEXT NOT NULL,
    claimed_by TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (thread_id, interrupt_id)
);
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    signed_in INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username);
CREATE TABLE IF NOT EXISTS sign_in_failures (
    username TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sign_in_failures_user ON sign_in_failures (username, failed_at);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens (username, created_at);
CREATE TABLE IF NOT EXISTS outbox (
    event_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_attempt_at);  -- a sender's claim reads due rows only
CREATE TABLE IF NOT EXISTS ledger (
    tool_call_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    tool TEXT NOT NULL,
    args TEXT NOT NULL,
    result TEXT NOT NULL,
    executed_at TEXT NOT NULL
);
"""

ADDED_COLUMNS = {
    "threads": {"graph": "TEXT NOT NULL DEFAULT 'support'"},
    "pending": {"graph": "TEXT NOT NULL DEFAULT 'support'", "kind": "TEXT NOT NULL DEFAULT 'hitl'"},
}
"""Columns newer than a database made by an earlier version; added in place (defaults: the built-in graph)."""

Row = dict[str, Any]


def iso(moment: datetime) -> str:
    """Timestamps are ISO-8601 UTC text with milliseconds: sortable as strings, identical on SQLite and PostgreSQL."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def utcnow() -> str:
    return iso(datetime.now(UTC))


class Database:
    """A small portable SQL layer: `?` placeholders, dict rows, one transaction per `transaction()` block."""

    def __init__(self, dialect: Literal["sqlite", "postgres"], borrow: Callable[[], Any], give_back: Callable[[Any], None]):
        self.dialect = dialect
        self._borrow = borrow
        self._give_back = give_back

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        conn = self._borrow()
        try:
            # SQLite: take the write lock up front, no deadlock on upgrade. PostgreSQL connections are in
            # autocommit mode (see `_statement`), so a transaction is opened explicitly.
            conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            yield Transaction(conn, self.dialect)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            self._give_back(conn)

    def query(self, sql: str, params: tuple | list = ()) -> list[Row]:
        with self._statement() as tx:
            return tx.query(sql, params)

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        with self._statement() as tx:
            return tx.execute(sql, params)

    @contextmanager
    def _statement(self) -> Iterator[Transaction]:
        """A single statement in autocommit mode: atomic by itself, and a read takes no write lock."""
        conn = self._borrow()
        try:
            yield Transaction(conn, self.dialect)
        finally:
            self._give_back(conn)


class Transaction:
    def __init__(self, conn: Any, dialect: str):
        self._conn = conn
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        # psycopg reads "%" as a placeholder marker, so a literal one (LIKE 'a%') must be doubled first
        return sql.replace("%", "%%").replace("?", "%s") if self.dialect == "postgres" else sql

    def query(self, sql: str, params: tuple | list = ()) -> list[Row]:
        cursor = self._conn.execute(self._sql(sql), tuple(params))
        if cursor.description is None:
            return []
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        return self._conn.execute(self._sql(sql), tuple(params)).rowcount

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        if self.dialect == "postgres":
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)
        else:
            self._conn.executemany(sql, rows)


@dataclass
class Store:
    """Everything the app persists, behind one object that pages get from `st.cache_resource`."""

    db: Database
    checkpointer: BaseCheckpointSaver
    ledger: SqlLedger
    url: str
    close: Callable[[], None]


class SqlLedger:
    """Tool side effects keyed by tool_call_id: the first run records its result, every re-run reads it back."""

    def __init__(self, db: Database):
        self._db = db

    def run_once(self, tool_call_id: str, thread_id: str, tool: str, args: dict, effect: Callable[[], str]) -> str:
        recorded = self.result(tool_call_id)
        if recorded is not None:
            return recorded
        result = effect()
        inserted = self._db.execute(
            "INSERT INTO ledger (tool_call_id, thread_id, tool, args, result, executed_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (tool_call_id) DO NOTHING",
            (tool_call_id, thread_id, tool, json.dumps(args, sort_keys=True), result, utcnow()),
        )
        return result if inserted else self.result(tool_call_id)  # a concurrent run was first: its result stands

    def result(self, tool_call_id: str) -> str | None:
        rows = self._db.query("SELECT result FROM ledger WHERE tool_call_id = ?", (tool_call_id,))
        return rows[0]["result"] if rows else None

    def entries(self, thread_id: str | None = None) -> list[Row]:
        if thread_id is None:
            return self._db.query("SELECT * FROM ledger ORDER BY executed_at")
        return self._db.query("SELECT * FROM ledger WHERE thread_id = ? ORDER BY executed_at", (thread_id,))


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
    checkpointer = SqliteSaver(_sqlite_connect(path, "NORMAL"))  # the saver serializes use of its connection with a lock
    checkpointer.setup()
    with db.transaction() as tx:
        _create_tables(tx)
        _upgrade_tables(tx)
        install_change_log(tx, "sqlite")

    def close() -> None:
        checkpointer.conn.close()
        while not idle.empty():
            idle.get_nowait().close()

    return Store(db, checkpointer, SqlLedger(db), path, close)


def _open_postgres(url: str) -> Store:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    saver_pool = ConnectionPool(
        url, min_size=1, max_size=8, open=True, kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    )
    app_pool = ConnectionPool(url, min_size=1, max_size=8, open=True, kwargs={"autocommit": True})
    db = Database("postgres", app_pool.getconn, app_pool.putconn)
    checkpointer = PostgresSaver(saver_pool)
    try:
        _create_postgres_schema(db, checkpointer)
    except BaseException:
        saver_pool.close()
        app_pool.close()
        raise

    def close() -> None:
        saver_pool.close()
        app_pool.close()

    return Store(db, checkpointer, SqlLedger(db), url, close)


def _create_postgres_schema(db: Database, checkpointer: BaseCheckpointSaver) -> None:
    """Create our tables and the checkpointer's while holding a transaction-scoped advisory lock.

    Replicas starting together on an empty database would otherwise collide: concurrent CREATE TABLE IF NOT
    EXISTS fails on pg_type, and two checkpointer migrations insert the same version. We poll with
    pg_try_advisory_xact_lock instead of blocking in pg_advisory_xact_lock: the checkpointer's migrations run
    CREATE INDEX CONCURRENTLY, which waits for every transaction holding an older snapshot, including a replica
    blocked on the lock, and PostgreSQL cannot see that deadlock (measured: it hangs forever).
    """
    deadline = time.monotonic() + SCHEMA_LOCK_TIMEOUT_S
    while True:
        with db.transaction() as tx:
            if tx.query("SELECT pg_try_advisory_xact_lock(?) AS locked", (SCHEMA_LOCK_KEY,))[0]["locked"]:
                _create_tables(tx)
                checkpointer.setup()  # on its own autocommit connection: CREATE INDEX CONCURRENTLY needs one
                _upgrade_tables(tx)
                install_change_log(tx, "postgres")
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"another process held the schema lock for {SCHEMA_LOCK_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def _create_tables(tx: Transaction) -> None:
    for statement in filter(str.strip, SCHEMA.split(";")):
        tx.execute(statement)


def _upgrade_tables(tx: Transaction) -> None:
    """Add the columns a database made by an earlier version lacks. On PostgreSQL this runs after the
    checkpointer's migrations: its CREATE INDEX CONCURRENTLY would wait forever on this catalog read's snapshot."""
    for table, columns in ADDED_COLUMNS.items():
        present = set(_columns(tx, table))
        for name, definition in columns.items():
            if name not in present:
                tx.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")


def _columns(tx: Transaction, table: str) -> list[str]:
    if tx.dialect == "sqlite":
        return [row["name"] for row in tx.query(f"SELECT name FROM pragma_table_info('{table}')")]
    return [row["column_name"] for row in tx.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema()",
        (table,),
    )]
