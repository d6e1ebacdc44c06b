"""Oversight metrics, per reviewer and per tool, read from the audit chain: how decisions are made, not who is best.

For a lead watching for rubber-stamping (automation bias, EU AI Act Article 14): how many decisions, the approve
/ edit / reject shares, the median time from request to decision and from the decider opening the item to the
decision, and how many approvals came faster than APPROVAL_FAST_SECONDS after opening. Rows are in name order;
nothing is ranked. The chain is the source because its entries cannot be changed without `audit verify` noticing.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from approvals.core.actors import Actor
from approvals.core.errors import NotAllowed
from approvals.store import audit_log
from approvals.store.database import Database

DEFAULT_FAST_SECONDS = 3.0
NOT_REVIEWERS = ("policy:", "system (")
"""Deciders that are rules, not people (a policy's own decision, expiry): counted per tool, not per reviewer."""


def fast_seconds() -> float:
    """Approvals made within this many seconds of opening the item are flagged (APPROVAL_FAST_SECONDS, default 3)."""
    return float(os.environ.get("APPROVAL_FAST_SECONDS") or DEFAULT_FAST_SECONDS)


@dataclass(frozen=True)
class OversightRow:
    name: str
    decisions: int
    approve_share: float
    edit_share: float
    reject_share: float
    median_request_to_decision_s: float | None
    median_open_to_decision_s: float | None
    """Over the decisions whose decider opened the item first (console or API); None when there were none."""
    fast_approvals: int
    """Approvals made less than `fast_seconds` after the decider opened the item."""


@dataclass(frozen=True)
class OversightMetrics:
    by_reviewer: list[OversightRow]
    by_tool: list[OversightRow]
    fast_seconds: float
    since: str | None


def oversight_metrics(db: Database, viewer: Actor, since: str | None = None,
                      fast: float | None = None) -> OversightMetrics:
    """The metrics over decisions recorded at or after `since` (all, for None); reviewers only."""
    if not viewer.is_reviewer:
        raise NotAllowed("Only reviewers can read the oversight metrics.")
    fast = fast_seconds() if fast is None else fast
    # an approval of a multi-approver item that waited for others is a reviewer's act too
    entries = [json.loads(entry) for entry in audit_log.decision_entries_since(db, since or "")]
    people = [e for e in entries if not str(e.get("decided_by", "")).startswith(NOT_REVIEWERS)]
    return OversightMetrics(_grouped(people, lambda e: e["decided_by"], fast),
                            _grouped(entries, lambda e: e["tool"], fast), fast, since)


def _grouped(entries: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str],
             fast: float) -> list[OversightRow]:
    groups: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        groups[str(key(entry))].append(entry)
    return [_row(name, group, fast) for name, group in sorted(groups.items())]


def _row(name: str, entries: list[dict[str, Any]], fast: float) -> OversightRow:
    count = len(entries)
    kinds = [e["decision"] for e in entries]
    waited = [_seconds(e["requested_at"], e["decided_at"]) for e in entries]
    opened = [(e["decision"], _seconds(e["opened_at"], e["decided_at"])) for e in entries if e.get("opened_at")]
    return OversightRow(
        name=name, decisions=count,
        approve_share=kinds.count("approve") / count, edit_share=kinds.count("edit") / count,
        reject_share=kinds.count("reject") / count,
        median_request_to_decision_s=_median(waited),
        median_open_to_decision_s=_median([seconds for _, seconds in opened]),
        fast_approvals=sum(1 for kind, seconds in opened if kind == "approve" and seconds < fast),
    )


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None
