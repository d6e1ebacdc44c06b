"""Export and verify: what `python -m approvals audit export | verify` do, usable from tests and benchmarks too.

An export is JSON Lines: the entries in seq order, then one head line `{"type": "head", "seq", "hash",
"signature", "public_key"}`. Verifying a file needs nothing but the file and a public key; verifying the live
database also holds every decisions row to its chained entry, so an UPDATE of `decided_by` is named by its seq.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from approvals.audit.chain import (
    GENESIS,
    Head,
    checked_rows,
    export_line,
    first_break,
    first_seq_since,
    head,
    line_hash_ok,
    stored_entries,
)
from approvals.audit.events import LATER_FIELDS, row_fields
from approvals.audit.signing import SignedHead, sign_head, signature_valid, signed_heads
from approvals.core.digest import canonical_json
from approvals.store.database import Database


@dataclass(frozen=True)
class Problem:
    """The first thing that does not verify: the seq it is at (None when no entry is involved), and why."""

    seq: int | None
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}" if self.seq is not None else self.reason


def export(db: Database, out: TextIO, since: str | None = None, key: Ed25519PrivateKey | None = None) -> SignedHead:
    """Write the chain (from the first entry recorded at or after `since`, when given) and its head, signed with
    `key` (default: the key at APPROVAL_AUDIT_KEY)."""
    current = head(db) or Head(0, GENESIS)
    start = first_seq_since(db, since) if since else 1
    if start is not None:
        for row in stored_entries(db, start, current.seq):
            out.write(export_line(row) + "\n")
    signed = sign_head(db, current, key)
    out.write(canonical_json({"type": "head", "seq": signed.seq, "hash": signed.hash, "signature": signed.signature,
                              "public_key": signed.public_key}) + "\n")
    return signed


def verify_export(lines: Iterable[str], trusted_keys: set[str]) -> Problem | None:
    """Check an export: every entry chains (from the first entry's prev_hash: a range export starts mid-chain,
    a full one at the genesis), the head names the last entry, and a trusted key signed it.

    One pass, holding one entry at a time: a long export never sits in memory (nor in the garbage collector's).
    """
    reader = _ExportReader()
    entries = reader.entries(lines)
    first = next(entries, None)
    start = GENESIS if first is None or first[0].get("seq") == 1 else None
    broken = first_break(itertools.chain([first], entries), start) if first is not None else None
    if reader.problem is not None:
        return reader.problem
    if broken:
        return Problem(*broken)
    return _check_head(reader.head, reader.last, trusted_keys)


class _ExportReader:
    """Reads an export's lines into (entry, hash matches), remembering the last entry, the head, or what is wrong."""

    def __init__(self) -> None:
        self.head: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.problem: Problem | None = None

    def entries(self, lines: Iterable[str]) -> Iterator[tuple[dict[str, Any], bool]]:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                self.problem = Problem(None, f"line {number} is not JSON")
                return
            if not isinstance(record, dict):
                self.problem = Problem(None, f"line {number} is not an entry")
                return
            if self.head is not None:
                self.problem = Problem(record.get("seq"), "an entry after the head line")
                return
            if record.get("type") == "head":
                self.head = record
                continue
            self.last = record
            yield record, line_hash_ok(line, record)


def _check_head(head_line: dict[str, Any] | None, last: dict[str, Any] | None, trusted: set[str]) -> Problem | None:
    if head_line is None:
        return Problem(None, "the export has no head line")
    last_seq, last_hash = (last["seq"], last["hash"]) if last else (0, GENESIS)
    if (head_line.get("seq"), head_line.get("hash")) != (last_seq, last_hash):
        return Problem(head_line.get("seq"), "the head does not name the last entry")
    key = str(head_line.get("public_key") or "")
    if key not in trusted:
        return Problem(head_line.get("seq"), "the head was signed by a key this installation never used")
    if not signature_valid(str(head_line.get("hash")), str(head_line.get("signature")), key):
        return Problem(head_line.get("seq"), "the head's signature does not verify")
    return None


def verify_live(db: Database) -> Problem | None:
    """The whole chain in the database, each signed head against it, and each decisions row against its entry."""
    decisions: dict[str, tuple[int, dict[str, Any]]] = {}
    hashes: dict[int, str] = {}
    broken = first_break(_tapped(checked_rows(stored_entries(db)), decisions, hashes))
    problems = [Problem(*broken)] if broken else []
    problems += _head_problems(signed_heads(db), hashes, broken[0] if broken else None)
    problems += _row_problems(db, decisions)
    return min(problems, key=lambda p: p.seq if p.seq is not None else 2**62) if problems else None


def _tapped(entries: Iterator[tuple[dict[str, Any], bool]], decisions: dict[str, tuple[int, dict[str, Any]]],
            hashes: dict[int, str]) -> Iterator[tuple[dict[str, Any], bool]]:
    """Pass the entries through, keeping each decision entry (the latest per decision id) and every hash."""
    for checked in entries:
        entry = checked[0]
        if entry.get("type") == "decision" and entry.get("decision_id"):
            decisions[entry["decision_id"]] = (entry["seq"], entry)
        hashes[entry["seq"]] = entry["hash"]
        yield checked


def _head_problems(heads: list[SignedHead], hashes: dict[int, str], broken_at: int | None) -> list[Problem]:
    problems = []
    for signed in heads:
        if signed.seq and hashes.get(signed.seq) != signed.hash and (broken_at is None or signed.seq < broken_at):
            problems.append(Problem(signed.seq, "the chain no longer has the hash a signed head named here"))
        elif not signature_valid(signed.hash, signed.signature, signed.public_key):
            problems.append(Problem(signed.seq, "a stored head's signature does not verify"))
    return problems


def _row_problems(db: Database, decisions: dict[str, tuple[int, dict[str, Any]]]) -> list[Problem]:
    """A decisions row changed, added or removed behind the app's back, named by its entry's seq."""
    problems, seen = [], set()
    for row in db.query("SELECT * FROM decisions"):
        seen.add(row["decision_id"])
        chained = decisions.get(row["decision_id"])
        if chained is None:
            problems.append(Problem(None, f"decision {row['decision_id']} is not in the chain"))
            continue
        seq, entry = chained
        changed = sorted(k for k, v in row_fields(row).items()
                         if entry.get(k) != v and (k not in LATER_FIELDS or k in entry))
        if changed:
            problems.append(Problem(seq, f"the decisions row differs from its entry in {', '.join(changed)}"))
    problems += [Problem(seq, f"decision {decision_id} is chained but its row is gone")
                 for decision_id, (seq, _) in decisions.items() if decision_id not in seen]
    return problems
