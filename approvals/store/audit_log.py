"""The audit chain's tables: `audit_log` (one row per entry, by `seq`) and `audit_heads` (each head as signed, by
seq and public key), the whole-table reads `audit verify` holds to the chain, and the oversight's reads of
entries (take-overs, a delivery's tool calls, the metrics).

The chain's logic (hashing, signing, the rules of a break) stays in approvals/audit/; this module only reads and
writes rows, with the caller's transaction: an entry and its signed head are written in the transaction of the
event they record, after `tx.lock(Lock.AUDIT)`, so the head read here is the last committed one. The reads for
`audit verify` (decisions with the arguments History shows, approvals, the ledger) are whole tables read once,
because verifying means looking at every row; nothing else should read them so.
"""

from __future__ import annotations

from typing import Any

from approvals.store.database import Queries, Row, Transaction

_INSERT_ENTRY = ("INSERT INTO audit_log (seq, prev_hash, hash, type, thread_id, interrupt_id, decision_id, recorded_at,"
                 " entry) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_INSERT_HEAD = ("INSERT INTO audit_heads (seq, hash, signature, public_key, signed_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (seq, public_key) DO NOTHING")
_HEAD_COLUMNS = "seq, hash, signature, public_key"

# -- entries ------------------------------------------------------------------------------------------------


def last_entry(q: Queries) -> Row | None:
    """The chain's head as stored (`seq`, `hash`), None while the chain is empty."""
    rows = q.query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
    return rows[0] if rows else None


def insert_entry(tx: Queries, seq: int, prev_hash: str, entry_hash: str, kind: str, thread_id: str | None,
                 interrupt_id: str | None, decision_id: str | None, recorded_at: str, entry_json: str) -> None:
    """One entry at `seq`; the primary key on `seq` refuses a second entry there (a fork is an error)."""
    tx.execute(_INSERT_ENTRY, (seq, prev_hash, entry_hash, kind, thread_id, interrupt_id, decision_id, recorded_at,
                               entry_json))


def insert_entries(tx: Transaction, rows: list[tuple]) -> None:
    """Many entries at once, each a tuple in `insert_entry`'s order (filling a chain for a benchmark)."""
    tx.executemany(_INSERT_ENTRY, rows)


def entries_between(q: Queries, from_seq: int, to_seq: int, limit: int) -> list[Row]:
    """Up to `limit` stored rows (`seq`, `hash`, `entry`) from `from_seq` to `to_seq`, in seq order."""
    return q.query("SELECT seq, hash, entry FROM audit_log WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT ?",
                   (from_seq, to_seq, limit))


def first_seq_since(q: Queries, since: str) -> int | None:
    """The first entry recorded at or after `since` (ISO time), or None when there is none."""
    rows = q.query("SELECT MIN(seq) AS seq FROM audit_log WHERE recorded_at >= ?", (since,))
    return int(rows[0]["seq"]) if rows and rows[0]["seq"] is not None else None


# -- signed heads --------------------------------------------------------------------------------------------


def insert_head(tx: Queries, seq: int, head_hash: str, signature: str, public_key: str, signed_at: str) -> None:
    """A signed head; the same head signed again by the same key is kept once."""
    tx.execute(_INSERT_HEAD, (seq, head_hash, signature, public_key, signed_at))


def insert_heads(tx: Transaction, rows: list[tuple]) -> None:
    """Many signed heads at once, each a tuple in `insert_head`'s order."""
    tx.executemany(_INSERT_HEAD, rows)


def public_keys(q: Queries) -> set[str]:
    """Every public key that signed a head here."""
    return {row["public_key"] for row in q.query("SELECT DISTINCT public_key FROM audit_heads")}


def heads_from(q: Queries, from_seq: int) -> list[Row]:
    """Every signed head (`seq`, `hash`, `signature`, `public_key`) from `from_seq` on, in seq order."""
    return q.query(f"SELECT {_HEAD_COLUMNS} FROM audit_heads WHERE seq >= ? ORDER BY seq", (from_seq,))


def heads_at(q: Queries, seq: int, head_hash: str) -> list[Row]:
    """The heads that sign exactly this seq and hash (one per key that signed it)."""
    return q.query(f"SELECT {_HEAD_COLUMNS} FROM audit_heads WHERE seq = ? AND hash = ?", (seq, head_hash))


def first_mismatched_head(q: Queries, end: int) -> int | None:
    """The lowest seq (1..`end`) of a head whose hash is not its entry's, or whose entry is gone; worked out in SQL
    so a long chain's heads never become Python objects."""
    rows = q.query("SELECT MIN(h.seq) AS seq FROM audit_heads h LEFT JOIN audit_log l ON l.seq = h.seq"
                   " WHERE h.seq >= 1 AND h.seq <= ? AND (l.hash IS NULL OR l.hash <> h.hash)", (end,))
    return _seq(rows[0]["seq"])


def last_head_seq(q: Queries) -> int | None:
    """The highest seq a signed head names (a legacy head at seq 0 names no entry and is left out)."""
    return _seq(q.query("SELECT MAX(seq) AS seq FROM audit_heads WHERE seq >= 1")[0]["seq"])


def _seq(value: Any) -> int | None:
    return None if value is None else int(value)


# -- the rows the chain covers (audit verify) ----------------------------------------------------------------


def decisions_with_shown_args(q: Queries) -> list[Row]:
    """Every decisions row, with the arguments History shows for its item (`shown_args`; `shown_thread` is None
    when the item's pending row is gone)."""
    return q.query("SELECT d.*, p.args AS shown_args, p.thread_id AS shown_thread FROM decisions d"
                   " LEFT JOIN pending p ON p.thread_id = d.thread_id AND p.interrupt_id = d.interrupt_id")


def all_approvals(q: Queries) -> list[Row]:
    """Every approval of a multi-approver item."""
    return q.query("SELECT * FROM approvals")


def all_ledger_rows(q: Queries) -> list[Row]:
    """Every tool side effect the ledger recorded."""
    return q.query("SELECT * FROM ledger")


# -- what the oversight reads (take-overs, a delivery's tool calls, the metrics) ---------------------------


def latest_entry(q: Queries, thread_id: str, interrupt_id: str, kind: str) -> str | None:
    """The newest chained entry (JSON) of this type about the item, or None."""
    rows = q.query("SELECT entry FROM audit_log WHERE thread_id = ? AND interrupt_id = ? AND type = ?"
                   " ORDER BY seq DESC LIMIT 1", (thread_id, interrupt_id, kind))
    return rows[0]["entry"] if rows else None


def decision_entry(q: Queries, decision_id: str) -> str | None:
    """The newest chained "decision" entry (JSON) of the decision, or None."""
    rows = q.query("SELECT entry FROM audit_log WHERE decision_id = ? AND type = 'decision' ORDER BY seq DESC"
                   " LIMIT 1", (decision_id,))
    return rows[0]["entry"] if rows else None


def decision_entries_since(q: Queries, since: str) -> list[str]:
    """Every chained decision and approval (JSON), in chain order, recorded at or after `since`."""
    rows = q.query("SELECT entry FROM audit_log WHERE type IN ('decision', 'approval') AND recorded_at >= ?"
                   " ORDER BY seq", (since,))
    return [row["entry"] for row in rows]
