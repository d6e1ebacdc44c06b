"""Export and verify: what `python -m approvals audit export | verify` do, usable from tests and benchmarks too.

An export is JSON Lines: the entries in seq order, then every stored signed head from the first exported seq on,
each a line `{"type": "head", "seq", "hash", "signature", "public_key"}` (the last one signs the last entry).
Export signs nothing: heads are signed as entries are appended, so a chain rewritten behind the app's back has
no signed tip to export. Verifying needs the chain, its heads and a trusted public key; the live database is
also held row by row to the chain (decisions, their delivery, the ledger, approvals of multi-approver items, the
arguments History shows). Heads a witness kept outside the database (`--heads`) catch a rewrite whose own heads
were deleted.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

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
from approvals.audit.rows import Chained, Problem, earliest, row_problems
from approvals.audit.signing import (
    SignedHead,
    current_public_key,
    first_bad_signature,
    head_of,
    signature_valid,
    signed_heads,
)
from approvals.store import audit_log
from approvals.store.database import Database

Witness = dict[int, str]
"""Heads held outside the database: seq -> hash."""


# -- export ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    """What an export wrote: its last entry (None: no entry), and whether a stored head signs it."""

    tip: Head | None
    signed: bool


def export(db: Database, out: TextIO, since: str | None = None) -> Exported:
    """Write the chain (from the first entry recorded at or after `since`, when given), then every stored head
    from that entry on, heads past the chain's end included (they show that entries were removed)."""
    current = head(db)
    start = first_seq_since(db, since) if since else 1
    if current is None or start is None:
        return Exported(None, False)
    for row in stored_entries(db, start, current.seq):
        out.write(export_line(row) + "\n")
    signed = False
    for stored in signed_heads(db, start):
        out.write(head_line(stored) + "\n")
        signed = signed or (stored.seq, stored.hash) == (current.seq, current.hash)
    return Exported(current, signed)


def head_line(head: SignedHead) -> str:
    """The head's canonical JSON line, written out by hand: a long export has one per entry, and sorting and
    encoding a dict for each took longer than writing the entries."""
    return (f'{{"hash":{json.dumps(head.hash)},"public_key":{_key_string(head.public_key)},"seq":{int(head.seq)},'
            f'"signature":{json.dumps(head.signature)},"type":"head"}}')


@functools.lru_cache(maxsize=16)
def _key_string(public_key: str) -> str:
    """A public key as canonical_json writes it, encoded once: the few keys repeat on every line."""
    return json.dumps(public_key, ensure_ascii=False)


# -- heads, ours and a witness's ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadFacts:
    """What verify needs to know of the signed heads, however they were read (an export's lines, or SQL)."""

    mismatch: int | None
    """The first seq, up to the chain's tip, whose signed head names another hash than the chain has there."""
    last: int | None
    """The highest seq a signed head names (None: no head)."""
    at_tip: list[SignedHead]
    """The heads that sign the chain's tip as it is (its seq and hash)."""
    in_order: Callable[[], Iterable[SignedHead]]
    """Every head up to the tip in seq order: read only when the tip's signature fails, to find the first."""


def listed_heads(heads: list[SignedHead], hashes: dict[int, str], first_seq: int, tip: Head | None) -> HeadFacts:
    """HeadFacts of heads read from an export; `hashes` holds the chain's hash per seq from `first_seq` on (a range
    export leaves earlier heads unchecked)."""
    heads = [h for h in heads if h.seq >= first_seq]
    end = tip.seq if tip else 0
    mismatch = next((h.seq for h in heads if h.seq <= end and hashes.get(h.seq) != h.hash), None)
    at_tip = [h for h in heads if tip is not None and (h.seq, h.hash) == (tip.seq, tip.hash)]
    return HeadFacts(mismatch, max((h.seq for h in heads), default=None), at_tip,
                     lambda: [h for h in heads if h.seq <= end])


def stored_heads(db: Database, tip: Head | None) -> HeadFacts:
    """HeadFacts of the database's heads, worked out in SQL: a long chain's heads never become Python objects
    (a legacy head at seq 0, signed by an export of an empty chain, names no entry and is left out)."""
    end = tip.seq if tip else 0
    at_tip = audit_log.heads_at(db, end, tip.hash) if tip else []
    return HeadFacts(audit_log.first_mismatched_head(db, end), audit_log.last_head_seq(db),
                     [head_of(row) for row in at_tip], lambda: [h for h in signed_heads(db) if h.seq <= end])


def head_problems(facts: HeadFacts, tip: Head | None, trusted: set[str]) -> list[Problem]:
    """Every head must name an entry the chain has, with its hash; the tip must be signed by a trusted key.

    A head whose hash does not match names the rewritten seq, a head past the end names the removed one.
    """
    if tip is None:
        return [] if facts.last is None else [Problem(1, f"seq 1 is missing: a signed head names seq {facts.last}"
                                                         ", and the chain is empty")]
    if facts.last is None:
        return [Problem(tip.seq, "no signed head at all: the chain's tip is unsigned (are heads missing?)")]
    problems = [] if facts.mismatch is None else [
        Problem(facts.mismatch, "the chain does not have the hash the signed head names here")]
    if facts.last > tip.seq:
        problems.append(Problem(tip.seq + 1, f"seq {tip.seq + 1} is missing: a signed head names seq {facts.last},"
                                             f" the chain ends at seq {tip.seq}"))
    elif facts.last < tip.seq:
        problems.append(Problem(facts.last + 1, "no signed head from here on: the last signed head is at seq "
                                                f"{facts.last}, the chain ends at seq {tip.seq}"))
    elif facts.at_tip:
        problems += _tip_signature(facts, tip, trusted)
    return problems


def _tip_signature(facts: HeadFacts, tip: Head, trusted: set[str]) -> list[Problem]:
    by_trusted = [h for h in facts.at_tip if h.public_key in trusted]
    if not by_trusted:
        return [Problem(tip.seq, "the head at the tip is not signed by a trusted key (after a key rotation, give "
                                 "the old public key with --public-key)")]
    if any(signature_valid(h.hash, h.signature, h.public_key) for h in by_trusted):
        return []
    bad = first_bad_signature(facts.in_order()) or by_trusted[0]
    return [Problem(bad.seq, "the signed head's signature does not verify")]


def read_witness(lines: Iterable[str]) -> Witness:
    """Heads kept outside the database: "audit.head" webhook events (their JSON bodies, one a line) or the head
    lines of earlier exports; other lines (an export's entries) are skipped. ValueError names a bad line."""
    held: Witness = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise ValueError(f"line {number} of the witness's heads is not JSON") from None
        if not isinstance(record, dict) or not (record.get("type") == "head" or record.get("event") == "audit.head"):
            continue
        if not isinstance(record.get("seq"), int) or not isinstance(record.get("hash"), str):
            raise ValueError(f"line {number} of the witness's heads has no seq and hash")
        held[record["seq"]] = record["hash"]
    return held


def witness_problems(witness: Witness, hashes: dict[int, str], first_seq: int, tip: Head | None) -> list[Problem]:
    """The chain against heads a witness kept: a different hash names the rewritten seq, a head past the end
    names the first removed one (the witness's heads are taken as held: they never were in the database)."""
    end = tip.seq if tip else 0
    for seq in sorted(s for s in witness if s >= first_seq):
        if seq > end:
            return [Problem(end + 1, f"seq {end + 1} is missing: the witness holds heads up to seq "
                                     f"{max(witness)}, the chain ends at seq {end}")]
        if hashes.get(seq) != witness[seq]:
            return [Problem(seq, "the chain differs from the head the witness holds for this seq")]
    return []


# -- an export file ----------------------------------------------------------------------------------------


def verify_export(lines: Iterable[str], trusted_keys: set[str], witness: Witness | None = None) -> Problem | None:
    """Check an export: every entry chains (from the first entry's prev_hash: a range export starts mid-chain,
    a full one at the genesis), every head names its entry, a trusted key signed the last one, and the heads a
    witness holds (when given) match.

    One pass, holding one entry at a time (and every hash): a long export never sits in memory.
    """
    reader = _ExportReader()
    entries = reader.entries(lines)
    first = next(entries, None)
    broken = None
    if first is not None:
        start = GENESIS if first[0].get("seq") == 1 else None
        broken = first_break(itertools.chain([first], entries), start)  # a chain, unlike a generator, does not
        for _ in entries:  # close `entries` when dropped: past a break, the rest still gives hashes and heads
            pass
    if reader.problem is not None:
        return reader.problem
    if first is None and not reader.heads:
        return Problem(None, "the export has no entry and no head line")
    first_seq = first[0]["seq"] if first is not None and isinstance(first[0].get("seq"), int) else 1
    tip = Head(reader.last["seq"], reader.last["hash"]) if reader.last else None
    problems = [Problem(*broken)] if broken else []
    problems += head_problems(listed_heads(reader.heads, reader.hashes, first_seq, tip), tip, trusted_keys)
    problems += witness_problems(witness or {}, reader.hashes, first_seq, tip)
    return earliest(problems)


@dataclass
class _ExportReader:
    """Reads an export's lines into (entry, hash matches), keeping each entry's hash, the last entry, the heads,
    or what is wrong."""

    heads: list[SignedHead] = field(default_factory=list)
    hashes: dict[int, str] = field(default_factory=dict)
    last: dict[str, Any] | None = None
    problem: Problem | None = None

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
            if record.get("type") == "head":
                if not self._keep_head(record):
                    self.problem = Problem(None, f"line {number} is not a head (seq, hash, signature, public_key)")
                    return
                continue
            if self.heads:
                self.problem = Problem(record.get("seq"), "an entry after the head lines")
                return
            self.last = record
            if isinstance(record.get("seq"), int):
                self.hashes[record["seq"]] = str(record.get("hash"))
            yield record, line_hash_ok(line, record)

    def _keep_head(self, record: dict[str, Any]) -> bool:
        seq, head_hash = record.get("seq"), record.get("hash")
        signature, public_key = record.get("signature"), record.get("public_key")
        if not (type(seq) is int and type(head_hash) is str and type(signature) is str and type(public_key) is str):
            return False
        self.heads.append(SignedHead(seq, head_hash, signature, public_key))
        return True


# -- the live database -------------------------------------------------------------------------------------


def verify_live(db: Database, also_trusted: Iterable[str] = (), witness: Witness | None = None) -> Problem | None:
    """The whole chain in the database, its signed heads (the tip signed by this installation's key, or one of
    `also_trusted`: an old key's PEM after a rotation), the witness's heads when given, and every row the chain
    covers against its entry."""
    current = current_public_key()
    trusted_keys = {*also_trusted, *([current] if current else [])}
    chained = Chained()
    broken = first_break(chained.tap(checked_rows(stored_entries(db))))
    tip = head(db)
    problems = [Problem(*broken)] if broken else []
    problems += head_problems(stored_heads(db, tip), tip, trusted_keys)
    problems += witness_problems(witness or {}, chained.hashes, 1, tip)
    problems += row_problems(db, chained)
    return earliest(problems)
