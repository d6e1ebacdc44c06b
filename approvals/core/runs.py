"""A run of a conversation as the database records it: what every replica reads to show "working" or a failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RunKind = Literal["message", "decision", "continue"]
RunState = Literal["queued", "running", "done", "failed"]
ACTIVE_STATES: tuple[RunState, ...] = ("queued", "running")


@dataclass(frozen=True)
class Run:
    """One run of the agent on a thread, from a message or a decision to its next stop (an interrupt or an answer)."""

    run_id: str
    thread_id: str
    kind: RunKind
    """"message" (the requester wrote), "decision" (a recorded decision is applied) or "continue" (a Retry)."""
    state: RunState
    requester: str
    input: str
    """The message text of a "message" run, so a run cut before its first checkpoint can still be started."""
    decision_id: str | None
    replica: str
    """The process that owns the run; another replica takes it over once `lease_until` has passed."""
    heartbeat_at: str
    lease_until: str
    attempts: int
    error: str
    created_at: str
    started_at: str | None
    ended_at: str | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True)
class RunStatus:
    """What a conversation page shows about a thread's latest run, and how busy the runner is."""

    run: Run
    queued_ahead: int
    """Runs waiting for a slot that were queued before this one (0 once it runs)."""
    max_runs: int
    """How many runs one replica works on at once (APPROVAL_MAX_RUNS)."""
