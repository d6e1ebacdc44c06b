"""The live database held row by row to the chain: decisions, their delivery, the ledger (what ran), each approval
of a multi-approver item and the arguments History shows. A row changed, added or removed behind the app's back
is named by the seq of the entry that chained it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from approvals.audit.events import LATER_FIELDS, POLICY_FIELDS, approval_fields, ledger_fields, row_fields
from approvals.store import audit_log
from approvals.store.database import Database, Row


@dataclass(frozen=True)
class Problem:
    """The first thing that does not verify: the seq it is at (None when no entry is involved), and why."""

    seq: int | None
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}" if self.seq is not None else self.reason


def earliest(problems: list[Problem]) -> Problem | None:
    return min(problems, key=lambda p: p.seq if p.seq is not None else 2**62) if problems else None


@dataclass
class Chained:
    """What the chain says about rows of other tables, gathered in the one pass over it."""

    hashes: dict[int, str] = field(default_factory=dict)
    decisions: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    deliveries: dict[str, tuple[int, Any]] = field(default_factory=dict)
    ledger: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    approvals: dict[tuple[Any, ...], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    unrecorded_approvals: set[tuple[Any, ...]] = field(default_factory=set)
    """Items with entries from before approvals rows were chained: their rows have no entry to be held to."""

    def tap(self, entries: Iterator[tuple[dict[str, Any], bool]]) -> Iterator[tuple[dict[str, Any], bool]]:
        """Pass the entries through, keeping what the row checks need (the latest entry per row)."""
        for checked in entries:
            entry = checked[0]
            seq, kind = entry["seq"], entry.get("type")
            self.hashes[seq] = entry["hash"]
            if kind in ("decision", "approval"):
                self._decision(seq, kind, entry)
            elif kind == "delivery" and entry.get("decision_id"):
                self.deliveries[entry["decision_id"]] = (seq, entry.get("applied_at"))
                for ran in entry.get("executed") or []:
                    if isinstance(ran, dict) and ran.get("tool_call_id"):
                        self.ledger[ran["tool_call_id"]] = (seq, ran)
            yield checked

    def _decision(self, seq: int, kind: str, entry: dict[str, Any]) -> None:
        item = (entry.get("thread_id"), entry.get("interrupt_id"))
        if kind == "decision" and entry.get("decision_id"):
            self.decisions[entry["decision_id"]] = (seq, entry)
        if isinstance(entry.get("approval_row"), dict):
            self.approvals[(*item, entry["approval_row"].get("approver"))] = (seq, entry["approval_row"])
        elif entry.get("imported") or "policy_version" not in entry:
            self.unrecorded_approvals.add(item)


def row_problems(db: Database, chained: Chained) -> list[Problem]:
    """Every row the chain covers, against its entry."""
    return _decision_problems(db, chained) + _approval_problems(db, chained) + _ledger_problems(db, chained)


def _decision_problems(db: Database, chained: Chained) -> list[Problem]:
    """A decisions row changed, added or removed behind the app's back, its delivery time, or the arguments
    History shows for it (pending.args), named by its entry's seq."""
    problems, seen = [], set()
    for row in audit_log.decisions_with_shown_args(db):
        seen.add(row["decision_id"])
        found = chained.decisions.get(row["decision_id"])
        if found is None:
            problems.append(Problem(None, f"decision {row['decision_id']} is not in the chain"))
            continue
        seq, entry = found
        changed = sorted(k for k, v in row_fields(row).items() if entry.get(k) != v and _chained_field(k, entry))
        if changed:
            problems.append(Problem(seq, f"the decisions row differs from its entry in {', '.join(changed)}"))
        problems += _applied_problems(row, seq, entry, chained.deliveries.get(row["decision_id"]))
        if "shown_args" in entry and _shown_args(row) != entry["shown_args"]:
            problems.append(Problem(seq, "pending.args (the arguments History shows) differs from the entry"))
    problems += [Problem(seq, f"decision {decision_id} is chained but its row is gone")
                 for decision_id, (seq, _) in chained.decisions.items() if decision_id not in seen]
    return problems


def _chained_field(key: str, entry: dict[str, Any]) -> bool:
    """Whether the entry chains this column: later columns where it has them, the rule and policy version where it
    has `policy_version` (an older entry's `rule` was the request's policy label)."""
    if key in LATER_FIELDS:
        return key in entry
    return "policy_version" in entry if key in POLICY_FIELDS else True


def _shown_args(row: Row) -> Any:
    return json.loads(row["shown_args"] or "{}") if row["shown_thread"] is not None else None


def _applied_problems(row: Row, seq: int, entry: dict[str, Any], delivered: tuple[int, Any] | None
                      ) -> list[Problem]:
    if delivered is not None and row["applied_at"] != delivered[1]:
        return [Problem(delivered[0], "the decisions row's applied_at differs from its delivery entry")]
    if delivered is None and row["applied_at"] is not None and not entry.get("imported"):
        # no seq of its own: where a delivery entry was removed, the chain's own problem names that seq
        return [Problem(None, f"decision {row['decision_id']} (seq {seq}) has an applied_at but no delivery is "
                              "chained")]
    return []


def _approval_problems(db: Database, chained: Chained) -> list[Problem]:
    """An approvals row (one approval of a multi-approver item) changed, added or removed."""
    problems, seen = [], set()
    for row in audit_log.all_approvals(db):
        key = (row["thread_id"], row["interrupt_id"], row["approver"])
        seen.add(key)
        found = chained.approvals.get(key)
        if found is None:
            if key[:2] not in chained.unrecorded_approvals:
                problems.append(Problem(None, f"the approval by {key[2]} of {key[0]}/{key[1]} is not in the chain"))
            continue
        changed = sorted(k for k, v in approval_fields(row).items() if found[1].get(k) != v)
        if changed:
            problems.append(Problem(found[0], f"the approvals row of {key[2]} differs from its entry in "
                                              f"{', '.join(changed)}"))
    problems += [Problem(seq, f"the approval by {key[2]} is chained but its approvals row is gone")
                 for key, (seq, _) in chained.approvals.items() if key not in seen]
    return problems


def _ledger_problems(db: Database, chained: Chained) -> list[Problem]:
    """A ledger row (what ran) that a delivery entry chained, changed or removed."""
    problems, seen = [], set()
    for row in audit_log.all_ledger_rows(db):
        found = chained.ledger.get(row["tool_call_id"])
        if found is None:
            continue  # a tool that ran without an approval, or before the chain
        seen.add(row["tool_call_id"])
        actual = {**ledger_fields(row), "result": row["result"]}  # entries before digests kept the result itself
        changed = sorted(k for k, v in found[1].items() if actual.get(k) != v)
        if changed:
            problems.append(Problem(found[0], f"the ledger row of tool call {row['tool_call_id']} differs from its "
                                              f"entry in {', '.join(changed)}"))
    problems += [Problem(seq, f"the ledger row of tool call {call_id} is chained but gone")
                 for call_id, (seq, _) in chained.ledger.items() if call_id not in seen]
    return problems
