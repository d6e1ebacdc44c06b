"""A small portable SQL layer over sqlite3 and psycopg: `?` placeholders, dict rows, explicit transactions.

Timestamps are ISO-8601 UTC text with milliseconds, so they sort as strings and read the same on both backends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, Literal, Protocol

Row = dict[str, Any]


class Queries(Protocol):
    """What a repository function needs: a `Database` (each statement on its own) or a `Transaction` (the
    caller's unit of work). Repositories take either, so the caller decides what commits together."""

    @property
    def dialect(self) -> str: ...

    def query(self, sql: str, params: tuple | list = ()) -> list[Row]: ...

    def execute(self, sql: str, params: tuple | list = ()) -> int: ...


class Lock(IntEnum):
    """The named locks a transaction can hold until it ends: one list, so no two places pick the same key.

    PostgreSQL: a transaction-scoped advisory lock (class, hash of the key). SQLite: nothing to take, because
    `BEGIN IMMEDIATE` already gives a transaction the one write lock.
    """

    AUDIT = 0x61756474  # appending to the audit chain
    INDEX = 0x617070  # writing one thread's queue index rows
    TALLY = 0x617071  # counting one item's approvals
    SIGN_IN = 0x7369676E  # counting and recording a sign-in try (approvals.identity.throttle)
    PAUSES = 0x70617573  # counting the stop switch's pauses and adding one


def iso(moment: datetime) -> str:
    """Timestamps are ISO-8601 UTC text with milliseconds: sortable as strings, identical on SQLite and PostgreSQL."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def utcnow() -> str:
    return iso(datetime.now(UTC))


class Database:
    """A small portable SQL layer: `?` placeholders, dict rows, one transaction per `transaction()` block."""

    def __init__(
        self, dialect: Literal["sqlite", "postgres"], borrow: Callable[[], Any], give_back: Callable[[Any], None]
    ):
        self.dialect = dialect
        self._borrow = borrow
        self._give_back = give_back

    @contextmanager
    def transaction(self, *, synced: bool = True) -> Iterator[Transaction]:
        """One transaction. `synced=False` commits without waiting for the disk: only for writes a power cut may
        lose harmlessly, because what follows redoes them (a delivery's "applied": recovery delivers again, finds
        the interrupt answered and marks it then). A later synced commit makes it durable with itself (SQLite's
        WAL and PostgreSQL's are written in order), so nothing after it is kept while it is lost.
        """
        conn = self._borrow()
        unsynced_sqlite = not synced and self.dialect == "sqlite"
        try:
            if unsynced_sqlite:
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL: the commit is written, not fsynced
            # SQLite: take the write lock up front, no deadlock on upgrade. PostgreSQL connections are in
            # autocommit mode (see `_statement`), so a transaction is opened explicitly.
            conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            if not synced and self.dialect == "postgres":
                conn.execute("SET LOCAL synchronous_commit = off")
            yield Transaction(conn, self.dialect)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            try:
                if unsynced_sqlite:
                    conn.execute("PRAGMA synchronous=FULL")
            finally:
                self._give_back(conn)

    def query(self, sql: str, params: tuple | list = ()) -> list[Row]:
        with self._statement() as tx:
            return tx.query(sql, params)

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        with self._statement() as tx:
            return tx.execute(sql, params)

    def execute_unsynced(self, sql: str, params: tuple | list = ()) -> int:
        """One write committed without waiting for the disk: for rows a power cut may lose harmlessly (a guest's
        session: the browser just gets a new one). SQLite: synchronous=NORMAL for this statement (WAL: no fsync);
        PostgreSQL: synchronous_commit off for this transaction.
        """
        with self.transaction(synced=False) as tx:
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

    def lock(self, name: Lock, key: str = "") -> None:
        """Hold the named lock (per `key`) until this transaction commits or rolls back."""
        if self.dialect == "postgres":
            self.query("SELECT pg_advisory_xact_lock(?, hashtext(?))", (int(name), key))

    @property
    def for_update(self) -> str:
        """` FOR UPDATE` on PostgreSQL (lock the rows read); SQLite's write lock is the transaction's already."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""

    @property
    def skip_locked(self) -> str:
        """` FOR UPDATE SKIP LOCKED` on PostgreSQL: replicas taking a batch each get different rows."""
        return " FOR UPDATE SKIP LOCKED" if self.dialect == "postgres" else ""

    def _sql(self, sql: str) -> str:
        # psycopg reads "%" as a placeholder marker, so a literal one (LIKE 'a%') must be doubled first
        return sql.replace("%", "%%").replace("?", "%s") if self.dialect == "postgres" else sql

    def query(self, sql: str, params: tuple | list = ()) -> list[Row]:
        cursor = self._conn.execute(self._sql(sql), tuple(params))
        if cursor.description is None:
            return []
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        return self._conn.execute(self._sql(sql), tuple(params)).rowcount

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        if self.dialect == "postgres":
            with self._conn.cursor() as cursor:
                cursor.executemany(self._sql(sql), rows)
        else:
            self._conn.executemany(sql, rows)
