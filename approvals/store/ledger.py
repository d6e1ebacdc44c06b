"""The tool ledger: a tool's side effect happens once per tool call id, however often its step is re-run."""

from __future__ import annotations

import json
from collections.abc import Callable

from approvals.store.database import Database, Queries, Row, utcnow


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
        if inserted:
            return result
        first = self.result(tool_call_id)  # a concurrent run was first: its result stands
        return result if first is None else first

    def result(self, tool_call_id: str) -> str | None:
        rows = self._db.query("SELECT result FROM ledger WHERE tool_call_id = ?", (tool_call_id,))
        return rows[0]["result"] if rows else None

    def entries(self, thread_id: str | None = None) -> list[Row]:
        if thread_id is None:
            return self._db.query("SELECT * FROM ledger ORDER BY executed_at")
        return self._db.query("SELECT * FROM ledger WHERE thread_id = ? ORDER BY executed_at", (thread_id,))


def executed_calls(q: Queries, tool_call_ids: list[str]) -> list[Row]:
    """The ledger rows of these tool calls (those that ran), oldest first."""
    if not tool_call_ids:
        return []
    marks = ", ".join("?" * len(tool_call_ids))
    return q.query(f"SELECT * FROM ledger WHERE tool_call_id IN ({marks}) ORDER BY executed_at", tool_call_ids)
