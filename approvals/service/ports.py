"""The one interface the service reads, resumes and runs threads through, wherever they live.

Two implementations: the app's own checkpointer with its registered graphs (approvals/sources/local_graphs.py,
`LocalGraphs`) and an Agent Server deployment behind langgraph-sdk (approvals/sources/deployments.py,
`AgentServer`). The service picks one per thread (ServiceBase.backend, from where the thread lives) and calls
only this, so no "local or remote" branch sits anywhere else.
"""

from __future__ import annotations

from typing import Any, Protocol

from approvals.core.interrupts import ThreadSnapshot
from approvals.core.records import PendingApproval
from approvals.core.runs import Run


class AgentBackend(Protocol):
    """Where a thread lives: read it (with its open interrupts), name its graph, resume it, run the agent on it."""

    name: str
    """"" for the app's own checkpointer; else the deployment's name (what its snapshots and items carry)."""

    def snapshot(self, thread_id: str) -> ThreadSnapshot | None:
        """The thread's latest state with its open interrupts and its graph identified; None when it has none
        here yet."""

    def identify(self, snapshot: ThreadSnapshot) -> ThreadSnapshot:
        """The snapshot with its graph named: `graph_id` when the run recorded it, else what the backend can tell
        (node names, the pending calls' tools, the state's channels); a real tie stays "graph unknown"."""

    def check_resumable(self, graph: str) -> None:
        """Raise (UnregisteredGraph, DeploymentUnavailable) when a thread of `graph` cannot be resumed here: the
        decision command refuses such an item before anything is saved."""

    def resume(self, pending: PendingApproval, value: Any, clearance: str) -> None:
        """Resume this one interrupt, by its id, with `value` and wait for the run to stop again. `clearance` is
        what the decider was cleared for ("" for none), for a graph whose tools re-check it."""

    def finish_cut(self, snapshot: ThreadSnapshot, clearance: str) -> None:
        """Finish the steps of a resume that was cut mid-way (the decision is in the state already)."""

    def advance(self, run: Run) -> None:
        """A run of the built-in agent (a message, or a continuation of a cut run), up to its next stop."""
