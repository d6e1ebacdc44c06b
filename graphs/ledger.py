"""Where tool side effects are recorded, keyed by tool_call_id, so a re-run step never repeats one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol


class Ledger(Protocol):
    def run_once(self, tool_call_id: str, thread_id: str, tool: str, args: dict, effect: Callable[[], str]) -> str:
        """Run `effect` unless this tool_call_id already ran; return the recorded result either way."""
        ...


class MemoryLedger:
    """A process-local ledger for graphs built without a database (tests, notebooks)."""

    def __init__(self) -> None:
        self._results: dict[str, str] = {}
        self._lock = threading.Lock()

    def run_once(self, tool_call_id: str, thread_id: str, tool: str, args: dict, effect: Callable[[], str]) -> str:
        with self._lock:
            if tool_call_id not in self._results:
                self._results[tool_call_id] = effect()
            return self._results[tool_call_id]
