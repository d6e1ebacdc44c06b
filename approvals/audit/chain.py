"""The hash chain: each entry's SHA-256 covers its canonical JSON, `prev_hash` included, so changing, removing or
inserting any entry breaks every hash after it.

`append(tx, event)` is the one way in, through `oversight.chain_event`, which also signs the new head: call it
inside the transaction that commits the event (a decision, an approval of a multi-approver item, an expiry, a
delivery, a pause), so the event, its entry and its signed head commit together or not at all. One chain
across replicas: the transaction holds the audit lock (`Lock.AUDIT`: an advisory lock on PostgreSQL, so the next
statement sees the last committed head; SQLite's BEGIN IMMEDIATE already serializes writers) before reading the
head; the primary key on `seq` turns any fork into an error instead of a second branch. The rows themselves are
approvals/store/audit_log.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from approvals.core.digest import canonical_json, sha256_hex
from approvals.store import audit_log
from approvals.store.database import Database, Lock, Row, Transaction, utcnow

GENESIS = "0" * 64
"""`prev_hash` of entry 1."""
EXPORT_PAGE = 5000


def entry_hash(entry: dict[str, Any]) -> str:
    """Hex SHA-256 over the entry's canonical JSON without `hash`."""
    return sha256_hex(canonical_json({k: v for k, v in entry.items() if k != "hash"}))


def chained(event: dict[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """The entry `event` becomes at position `seq`, hash included."""
    entry = {"recorded_at": utcnow(), **event, "seq": seq, "prev_hash": prev_hash}
    return {**entry, "hash": entry_hash(entry)}


def append(tx: Transaction, event: dict[str, Any]) -> dict[str, Any]:
    """Chain `event` (a dict with a `type` and JSON values) in the caller's transaction; returns the entry.

    Call it last in the transaction: on PostgreSQL the chain's lock is held from here until the commit.
    """
    tx.lock(Lock.AUDIT)
    last = audit_log.last_entry(tx)
    seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
    entry = chained(event, seq, prev)
    audit_log.insert_entry(tx, seq, prev, entry["hash"], entry["type"], entry.get("thread_id"),
                           entry.get("interrupt_id"), entry.get("decision_id"), entry["recorded_at"],
                           canonical_json(without_hash(entry)))
    return entry


def without_hash(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "hash"}


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str


def head(db: Database) -> Head | None:
    last = audit_log.last_entry(db)
    return Head(int(last["seq"]), last["hash"]) if last else None


def stored_entries(db: Database, from_seq: int = 1, to_seq: int | None = None) -> Iterator[Row]:
    """The stored rows from `from_seq` to `to_seq` (default: the end), in seq order, a page at a time (a long
    chain never sits in memory)."""
    last = to_seq if to_seq is not None else 2**62
    while True:
        rows = audit_log.entries_between(db, from_seq, last, EXPORT_PAGE)
        yield from rows
        if len(rows) < EXPORT_PAGE:
            return
        from_seq = int(rows[-1]["seq"]) + 1


def first_seq_since(db: Database, since: str) -> int | None:
    """The first entry recorded at or after `since` (ISO time), or None when there is none."""
    return audit_log.first_seq_since(db, since)


def entries_of(rows: Iterable[Row]) -> Iterator[dict[str, Any]]:
    """Stored rows as entries (the stored JSON plus the stored hash)."""
    for row in rows:
        yield {**json.loads(row["entry"]), "hash": row["hash"]}


def export_line(row: Row) -> str:
    """A stored row as an export line: its canonical JSON with `,"hash":"…"` added last.

    Dropping that last member gives back exactly the text that was hashed, so anyone can check a line with
    sed and sha256sum; and no entry is parsed or re-serialised to export it.
    """
    return f'{row["entry"][:-1]},"hash":"{row["hash"]}"}}'


def line_hash_ok(line: str, entry: dict[str, Any]) -> bool:
    """Whether the line's `hash` is SHA-256 over the entry without it: over the line minus its last member when
    the line is as exported, else over the entry's canonical JSON (a line another tool re-serialised)."""
    suffix = f',"hash":"{entry.get("hash")}"}}'
    text = line.rstrip("\r\n")
    if text.endswith(suffix) and sha256_hex(text[: -len(suffix)] + "}") == entry.get("hash"):
        return True
    return entry.get("hash") == entry_hash(entry)


def first_break(entries: Iterable[tuple[dict[str, Any], bool]], prev_hash: str | None = GENESIS
                ) -> tuple[int, str] | None:
    """The first entry that does not chain, as (seq, reason); None when all do.

    Each entry comes with whether its hash matched its content (checked by the caller on the text it has).
    `prev_hash=None` accepts the first entry's own `prev_hash` (a range export starts mid-chain).
    """
    expected_seq: int | None = None if prev_hash is None else 1
    for entry, hash_ok in entries:
        seq = entry.get("seq")
        if not isinstance(seq, int):
            return (expected_seq or 0, "an entry without a seq")
        if expected_seq is not None and seq != expected_seq:
            return (expected_seq, f"seq {expected_seq} is missing (found {seq})")
        if prev_hash is not None and entry.get("prev_hash") != prev_hash:
            return (seq, "its prev_hash is not the previous entry's hash")
        if not hash_ok:
            return (seq, "its hash does not match its content")
        prev_hash, expected_seq = entry["hash"], seq + 1
    return None


def checked_rows(rows: Iterable[Row]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Stored rows as (entry, hash matches): the hash is checked on the stored text itself, which `append`
    wrote as canonical JSON; an entry stored under another seq than its own fails as a gap."""
    for row in rows:
        entry = {**json.loads(row["entry"]), "hash": row["hash"]}
        if entry.get("seq") != int(row["seq"]):
            entry["seq"] = -1
        yield entry, sha256_hex(row["entry"]) == row["hash"]
