"""The console's history view without Streamlit: decision filters, CSV export and the series behind the charts."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from approvals.core.actors import Actor
from approvals.core.hidden_text import reveal, shown
from approvals.core.human import arg_text
from approvals.core.records import DecisionRecord
from approvals.core.visibility import QueueFilter
from approvals.service.facade import ApprovalService
from approvals.store import queue_index
from approvals.store.database import iso

HISTORY_LIMIT = 5000
"""The history view covers this many of the newest decisions."""

AGE_BUCKETS: list[tuple[str, float]] = [
    ("< 5 min", 5),
    ("5–15 min", 15),
    ("15–30 min", 30),
    ("30–60 min", 60),
    ("1–4 h", 240),
    ("4–24 h", 1440),
    ("> 1 day", math.inf),
]
"""(label, upper bound in minutes), in age order; each bucket starts where the previous one ends."""


@dataclass(frozen=True)
class AuditFilter:
    """Empty tuples match everything."""

    deciders: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()

    def matches(self, record: DecisionRecord) -> bool:
        return all(
            not wanted or value in wanted
            for wanted, value in (
                (self.deciders, record.decided_by), (self.decisions, record.decision), (self.tools, record.tool)
            )
        )


def history(
    service: ApprovalService, viewer: Actor, filters: AuditFilter = AuditFilter(), limit: int = HISTORY_LIMIT
) -> list[DecisionRecord]:
    """Newest first, the latest `limit` decisions `viewer` may see that match `filters`."""
    return [record for record in service.decisions(limit, viewer=viewer) if filters.matches(record)]


def diff_rows(diffs: list[dict]) -> list[dict]:
    """An edit diff (`approvals.core.decisions.edit_diff`) as one row per changed argument, in human terms
    (amounts as money: `$250.00`; structured values as JSON)."""
    return [
        {"tool": diff["tool"], "argument": name, "before": _value(name, before), "after": _value(name, after)}
        for diff in diffs
        for name, (before, after) in diff["changes"].items()
    ]


def _value(name: str, value: object) -> str:
    return arg_text(name, value) if isinstance(value, str | int | float | bool) else json.dumps(value)


def describe_diff(diffs: list[dict]) -> str:
    """One line, e.g. `issue_refund.amount: $250.00 → $200.00`; empty when nothing was edited."""
    return "; ".join(f"{row['tool']}.{row['argument']}: {row['before']} → {row['after']}" for row in diff_rows(diffs))


HISTORY_COLUMNS = (
    "decided at", "decided by", "decision", "tool", "arguments", "ran with", "requested by", "requested at",
    "waited (min)", "edit", "message", "thread",
)

Proposed = dict[tuple[str, str], dict]
"""(thread_id, interrupt_id) → the arguments as proposed, from the pending index."""


def proposed_arguments(service: ApprovalService, records: list[DecisionRecord]) -> Proposed:
    """What each decided request proposed, read from the index (one query), so history can say what ran."""
    thread_ids = sorted({r.thread_id for r in records})
    found: Proposed = {}
    for start in range(0, len(thread_ids), 500):
        chunk = thread_ids[start:start + 500]
        rows = queue_index.proposed_args(service.db, chunk)
        found.update({(row["thread_id"], row["interrupt_id"]): json.loads(row["args"] or "{}") for row in rows})
    return found


def ran_with(record: DecisionRecord, proposed: dict) -> dict | None:
    """The arguments the tool ran with: as proposed, with an edit's changes applied; None when nothing ran."""
    if record.decision not in ("approve", "edit", "mixed"):
        return None
    after = dict(proposed)
    for diff in record.edit_diff:
        after.update({name: new for name, (_, new) in diff["changes"].items()})
    return after


def history_rows(records: list[DecisionRecord], proposed: Proposed | None = None) -> list[dict]:
    """The history table and the CSV: who decided what, when, how long it waited, what was proposed, what it ran
    with after any edit, and what was edited; hidden characters escaped (a spreadsheet would render them)."""
    proposed = proposed or {}
    rows = []
    for r in records:
        before = proposed.get((r.thread_id, r.interrupt_id))
        after = ran_with(r, before) if before is not None else None
        rows.append(dict(zip(HISTORY_COLUMNS, (
            r.decided_at, r.decided_by, r.decision, r.tool, _json(before), _json(after), r.requested_by,
            r.requested_at, round(r.waited_seconds / 60, 2), describe_diff(r.edit_diff), r.message, r.thread_id,
        ), strict=True)))
    return [{column: reveal(value) if isinstance(value, str) else value for column, value in row.items()}
            for row in rows]


def _json(value: dict | None) -> str:
    return "" if value is None else shown(value)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is run as a formula by spreadsheets (OWASP's CSV injection list)."""


def spreadsheet_safe(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading apostrophe; numbers are left as they are."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def to_csv(records: list[DecisionRecord], proposed: Proposed | None = None) -> str:
    """decisions.csv: requester names and messages are anyone's text, so none of it may open as a formula."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HISTORY_COLUMNS)
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in history_rows(records, proposed))
    return out.getvalue()


def pending_by_age(service: ApprovalService, viewer: Actor, now: datetime | None = None) -> list[dict]:
    """Pending items per age bucket, from one indexed count per bucket edge (no rows are loaded)."""
    now = now or datetime.now(UTC)

    def older_than(minutes: float) -> int:
        if math.isinf(minutes):
            return 0
        cutoff = iso(now - timedelta(minutes=minutes))
        return service.count_pending(QueueFilter(created_before=cutoff), viewer=viewer)

    lower = service.count_pending(viewer=viewer)
    rows = []
    for label, upper_minutes in AGE_BUCKETS:
        upper = older_than(upper_minutes)
        rows.append({"age": label, "pending": lower - upper})
        lower = upper
    return rows


def hourly(records: list[DecisionRecord]) -> list[dict]:
    """Per hour (UTC) in which decisions were made: how many, and the median minutes they had waited."""
    waits: defaultdict[str, list[float]] = defaultdict(list)
    for record in records:
        waits[record.decided_at[:13]].append(record.waited_seconds / 60)
    return [
        {
            "hour": f"{hour.replace('T', ' ')}:00",
            "decisions": len(minutes),
            "median wait (min)": round(statistics.median(minutes), 2),
        }
        for hour, minutes in sorted(waits.items())
    ]


def median_wait_minutes(records: list[DecisionRecord]) -> float | None:
    return round(statistics.median(r.waited_seconds / 60 for r in records), 2) if records else None

