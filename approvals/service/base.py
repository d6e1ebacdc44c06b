"""The service's shared ground: the store, the graphs, per-thread locks and reading a thread's checkpoint.

Why the guard lives in the service: with LangGraph alone, two processes resuming the same interrupt at once both
succeed and the tool runs twice, and a late resume on a finished thread is silently ignored. Every decision is
first recorded with a compare-and-set (UNIQUE (thread_id, interrupt_id)); only the winner resumes the graph.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from langgraph.pregel import Pregel

from approvals.core.actors import Actor
from approvals.core.errors import InvalidThreadId, ThreadBusy, UnknownThread
from approvals.core.interrupts import ThreadSnapshot
from approvals.core.records import PendingApproval
from approvals.core.runs import Run
from approvals.core.visibility import may_see
from approvals.identity.facade import Identity
from approvals.service.policy import PolicySource, policy_for_rules
from approvals.service.ports import AgentBackend
from approvals.service.run_rows import new_replica_id
from approvals.sources import deployments
from approvals.sources.deployments import AgentServer, Deployment, DeploymentUnavailable, Remote
from approvals.sources.local_graphs import LocalGraphs
from approvals.sources.registry import GraphRegistry, load_registry
from approvals.store import queue_index, runs, threads
from approvals.store.database import Transaction
from approvals.store.schema import Store
from graphs import build_graph

THREAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ServiceBase:
    """What every part of the service shares: the store, the graphs, per-thread locks and reading a checkpoint."""

    def __init__(self, store: Store, graph: Pregel | None = None, registry: GraphRegistry | None = None,
                 policy: PolicySource | None = None, remotes: dict[str, Deployment] | None = None):
        """`graph` is the built-in agent (default: built on the store, tool side effects in its ledger); every
        other graph comes from `registry` (default: langgraph.json plus APPROVAL_GRAPHS); who may decide what
        comes from `policy` (default: approvals.toml or APPROVALS_CONFIG, re-read when it changes)."""
        self.store = store
        self.policy = policy if policy is not None else PolicySource()
        self.db = store.db
        self.identity = Identity(store.db)
        """Accounts, sessions and API tokens, for pages and routes (which hold no database)."""
        self.graph = graph or build_graph(store.checkpointer, ledger=store.ledger)
        self._followed_version = self.policy.current().version
        """The policy version the queue was last re-evaluated under (DecisionService.follow_policy)."""
        self.registry = registry if registry is not None else load_registry()
        self.local = LocalGraphs(store.checkpointer, self.graph, self.registry, policy_for_rules(self.policy.current))
        """The app's own checkpointer and registered graphs: where most threads live."""
        configured = remotes if remotes is not None else deployments.configured()
        self.remotes = {name: Remote(deployment) for name, deployment in configured.items()}
        """Agent Server deployments (APPROVAL_DEPLOYMENTS / approvals.toml): their threads are items too."""
        self.runs_on = os.environ.get("APPROVAL_RUNS_ON", "").strip()
        """The deployment the built-in agent's runs go to ("": this process, the offline default)."""
        self.replica = new_replica_id()
        """Owner of the runs this process records (approvals/service/run_rows.py)."""
        self.dispatch: Callable[[Run], None] | None = None
        """Where a run recorded by this process goes to be carried out: the BackgroundRunner, once one works for this
        service. Without one, a queued run waits for its lease to lapse and a runner on any replica takes it."""
        self._last_created = datetime.min.replace(tzinfo=UTC)
        self._created_guard = threading.Lock()
        # Re-entrant: a run that stops at an item the policy decides itself resumes it from the same thread.
        self._locks: defaultdict[str, threading.RLock] = defaultdict(threading.RLock)
        self._locks_guard = threading.Lock()

    def _creation_time(self) -> datetime:
        """Now, but strictly after this replica's previous run: "N ahead" compares creation times (stored to the
        millisecond), so two runs started in the same millisecond must still be in order."""
        with self._created_guard:
            self._last_created = max(datetime.now(UTC), self._last_created + timedelta(milliseconds=1))
            return self._last_created

    def graph_for(self, name: str) -> Pregel:
        """The graph a thread of the app's checkpointer runs on (LocalGraphs.graph_for)."""
        return self.local.graph_for(name)

    def is_registered(self, name: str) -> bool:
        return self.local.is_registered(name)

    def resumable(self, pending: PendingApproval) -> None:
        """Raise (UnregisteredGraph, DeploymentUnavailable) when the app cannot resume this item: refused before
        anything is saved."""
        self.backend(pending.deployment).check_resumable(pending.graph)

    def remote(self, name: str) -> Remote:
        """The configured deployment; one that is no longer configured is named, so nothing is taken as done."""
        if name not in self.remotes:
            raise DeploymentUnavailable(f"Deployment {name!r} is not configured here (APPROVAL_DEPLOYMENTS or"
                                        " [deployments] in approvals.toml); its items wait until it is.")
        return self.remotes[name]

    # -- where a thread lives: the one place that tells the backends apart ------------------------------------

    def backend(self, deployment: str) -> AgentBackend:
        """The backend of a thread whose snapshot or item names `deployment` ("": the app's own checkpointer)."""
        return AgentServer(self.remote(deployment)) if deployment else self.local

    def agent_backend(self) -> AgentBackend:
        """Where the built-in agent's runs go: APPROVAL_RUNS_ON's deployment, else this process."""
        return AgentServer(self.remote(self.runs_on), starts_threads=True) if self.runs_on else self.local

    def _elsewhere(self, thread_id: str) -> AgentBackend | None:
        """The backend of a thread the app's checkpointer does not have: the deployment it was indexed from, or
        APPROVAL_RUNS_ON for a conversation with runs; None when it lives nowhere (yet)."""
        if deployment := queue_index.indexed_deployment(self.db, thread_id):
            return self.backend(deployment)
        return self.agent_backend() if self.runs_on and runs.has_runs(self.db, thread_id) else None

    def _snapshot(self, thread_id: str) -> ThreadSnapshot | None:
        """The thread's latest state from where it lives, its graph identified: the app's checkpointer is read
        first (most threads live there, and that read is also the answer), else the backend it lives on."""
        if (snapshot := self.local.snapshot(thread_id)) is not None:
            return snapshot
        return backend.snapshot(thread_id) if (backend := self._elsewhere(thread_id)) is not None else None

    @staticmethod
    def new_thread_id() -> str:
        """A UUID in the form an Agent Server keeps as is, so a conversation has one id here and on a deployment."""
        return str(uuid.uuid4())

    @staticmethod
    def check_thread_id(raw: str | None) -> str:
        """A well-formed thread id, or InvalidThreadId with a message a user can act on."""
        if not raw or not THREAD_ID.fullmatch(raw):
            raise InvalidThreadId(f"{raw!r} is not a valid conversation id.")
        return raw

    def _owner(self, thread_id: str) -> str | None:
        """Who the conversation belongs to (its requester), or None when there is no such conversation."""
        return threads.thread_owner(self.db, thread_id)

    def require_thread(self, thread_id: str | None, *, viewer: Actor) -> str:
        """The id of a conversation `viewer` may read; anything else gets the message an unknown id gets.

        Its requester and reviewers may read a conversation. Refusing someone else's with the very words an
        unknown id gets means ids cannot be probed.
        """
        thread_id = self.check_thread_id(thread_id)
        owner = self._owner(thread_id)
        if owner is None or not may_see(viewer, owner):
            raise UnknownThread(f"There is no conversation {thread_id!r}.")
        return thread_id

    def _exclusive(self, thread_id: str, wait: bool = False) -> _ThreadLock:
        """One graph run per thread in this process: a second click or a rerun must not start a parallel run."""
        with self._locks_guard:
            lock = self._locks[thread_id]
        return _ThreadLock(lock, wait)

    def _index_writer(self, thread_id: str, read: bool = True, *, synced: bool = True
                      ) -> AbstractContextManager[tuple[Transaction, ThreadSnapshot | None]]:
        """A transaction holding the thread's index lock, and its latest checkpoint (when `read`) to write the
        index rows from (`queue_index.index_writer` says when the checkpoint is read, and why)."""
        return queue_index.index_writer(self.db, thread_id, lambda: self._snapshot(thread_id) if read else None,
                                        synced=synced)


class _ThreadLock:
    def __init__(self, lock: threading.RLock, wait: bool):
        self._lock, self._wait = lock, wait

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=self._wait):
            raise ThreadBusy("The agent is still working on this conversation.")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
