"""The approvals service: the one way pages, tests and benchmarks start threads, list and decide approvals.

Why the guard lives here: with LangGraph alone, two processes resuming the same interrupt at once both succeed
and the tool runs twice, and a late resume on a finished thread is silently ignored. Every decision is first
recorded with a compare-and-set (UNIQUE (thread_id, interrupt_id)); only the winner resumes the graph.

Threads may belong to any registered graph (approvals/registry.py); what a thread waits for is read from its
latest checkpoint (approvals/interrupts.py), so a thread of a graph the app cannot load is still listed. Each
open interrupt is its own item and is resumed by its own id.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.pregel import Pregel
from langgraph.types import Command

from approvals import claims, notifications
from approvals.auth import Actor
from approvals.interrupts import ReviewRequest, ThreadSnapshot, check_answer, read_snapshot, review_request
from approvals.models import (
    AlreadyDecided,
    ApprovalError,
    DecisionRecord,
    InvalidThreadId,
    NotAllowed,
    NotPending,
    PendingApproval,
    QueueItem,
    ThreadBusy,
    ThreadSummary,
    UnknownThread,
)
from approvals.registry import BUILTIN_GRAPH, GraphRegistry, load_registry
from approvals.storage import Row, Store, Transaction, utcnow
from graphs import build_graph
from graphs.hitl import Edit, HITLRequest, HITLResponse, InvalidDecision, Reject, Respond, parse_response

THREAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_MESSAGE_CHARS = 4000
DURABILITY = "sync"  # each step is on disk before the next starts; "exit" loses everything on a crash


@dataclass(frozen=True)
class QueueFilter:
    tools: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    requesters: tuple[str, ...] = ()
    created_before: str | None = None
    """Only items created before this ISO time (i.e. older than some age)."""
    owner: str | None = None
    """Only this requester's items: set by the service for viewers who are not reviewers, never by a page."""

    def where(self) -> tuple[str, list[Any]]:
        clauses, params = ["status = 'pending'"], []
        if self.owner is not None:
            clauses.append("requester = ?")
            params.append(self.owner)
        for column, values in (("tool", self.tools), ("policy", self.policies), ("requester", self.requesters)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if self.created_before:
            clauses.append("created_at < ?")
            params.append(self.created_before)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class BulkResult:
    """What a bulk decision did: the decisions that landed, and for every other item the reason it did not."""

    decided: list[DecisionRecord]
    failed: list[tuple[QueueItem, str]]


INDEX_LOCK_CLASS = 0x617070  # PostgreSQL advisory lock class for "indexing thread X" (the second key is its hash)


class ApprovalService:
    def __init__(self, store: Store, graph: Pregel | None = None, registry: GraphRegistry | None = None):
        """`graph` is the built-in agent (default: built on the store, tool side effects in its ledger); every
        other graph comes from `registry` (default: langgraph.json plus APPROVAL_GRAPHS)."""
        self.store = store
        self.db = store.db
        self.graph = graph or build_graph(store.checkpointer, ledger=store.ledger)
        self.registry = registry if registry is not None else load_registry()
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def graph_for(self, name: str) -> Pregel:
        """The graph a thread runs on, with the app's checkpointer; UnregisteredGraph when it cannot be loaded."""
        return self.graph if name == BUILTIN_GRAPH else self.registry.load(name, self.store.checkpointer)

    def is_registered(self, name: str) -> bool:
        return name == BUILTIN_GRAPH or name in self.registry

    # -- threads -----------------------------------------------------------------------------------------

    @staticmethod
    def new_thread_id() -> str:
        return uuid.uuid4().hex

    @staticmethod
    def check_thread_id(raw: str | None) -> str:
        """A well-formed thread id, or InvalidThreadId with a message a user can act on."""
        if not raw or not THREAD_ID.fullmatch(raw):
            raise InvalidThreadId(f"{raw!r} is not a valid conversation id.")
        return raw

    def _owner(self, thread_id: str) -> str | None:
        """Who the conversation belongs to (its requester), or None when there is no such conversation."""
        rows = self.db.query("SELECT requester FROM threads WHERE thread_id = ?", (thread_id,))
        return rows[0]["requester"] if rows else None

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

    def recent_threads(self, limit: int = 30, *, viewer: Actor) -> list[ThreadSummary]:
        """The viewer's own conversations with the built-in agent, most recent first (reviewers too see only their
        own here; other graphs' threads run in their own workers)."""
        rows = self.db.query(
            "SELECT t.thread_id, t.title, t.requester, t.updated_at,"
            " EXISTS (SELECT 1 FROM pending p WHERE p.thread_id = t.thread_id AND p.status = 'pending') AS awaiting"
            " FROM threads t WHERE t.requester = ? AND t.graph = ? ORDER BY t.updated_at DESC LIMIT ?",
            (viewer.name, BUILTIN_GRAPH, limit),
        )
        return [ThreadSummary(r["thread_id"], r["title"], r["requester"], r["updated_at"], bool(r["awaiting"])) for r in rows]

    def messages(self, thread_id: str, *, viewer: Actor) -> list[BaseMessage]:
        snapshot = self._snapshot(self.require_thread(thread_id, viewer=viewer))
        return snapshot.messages if snapshot else []

    def send_message(self, thread_id: str, text: str, actor: Actor) -> None:
        """Add the user's message and run the agent until it answers or stops for an approval."""
        thread_id = self.check_thread_id(thread_id)
        text = text.strip()
        if not text or len(text) > MAX_MESSAGE_CHARS:
            raise ApprovalError(f"A message must have 1 to {MAX_MESSAGE_CHARS} characters.")
        if (owner := self._owner(thread_id)) is not None and owner != actor.name:
            if may_see(actor, owner):
                raise NotAllowed(f"This conversation is {owner}'s; only they can write in it.")
            raise UnknownThread(f"There is no conversation {thread_id!r}.")
        with self._exclusive(thread_id):
            snapshot = self._snapshot(thread_id)
            if snapshot is not None and snapshot.graph != BUILTIN_GRAPH:
                raise NotAllowed(f"This conversation runs on the graph {snapshot.graph!r} in its own worker.")
            if snapshot is not None and snapshot.interrupts:
                raise NotPending("This conversation is waiting for an approval; decide it before writing more.")
            self._touch_thread(thread_id, text, actor)
            self.graph.invoke(
                {"messages": [HumanMessage(text)], "requester": actor.name},
                self._config(thread_id, BUILTIN_GRAPH, actor.name),
                durability=DURABILITY,
            )
            self.sync_index(thread_id)

    def _touch_thread(self, thread_id: str, text: str, actor: Actor) -> None:
        now = utcnow()
        self.db.execute(
            "INSERT INTO threads (thread_id, title, requester, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (thread_id) DO UPDATE SET updated_at = excluded.updated_at",
            (thread_id, text[:80], actor.name, now, now),
        )

    # -- pending approvals -------------------------------------------------------------------------------

    def pending_approval(
        self, thread_id: str, *, viewer: Actor, with_messages: bool = False, interrupt_id: str | None = None
    ) -> PendingApproval | None:
        """One open interrupt of the thread, from the checkpoint itself (what a refresh must show), or None.

        With `interrupt_id`, that one only; without, the first (a thread may wait on several at once).
        """
        return self._pending(self.require_thread(thread_id, viewer=viewer), with_messages, interrupt_id)

    def pending_approvals(self, thread_id: str, *, viewer: Actor, with_messages: bool = False) -> list[PendingApproval]:
        """Every open interrupt of the thread (parallel tool calls may wait at once), each its own item."""
        snapshot = self._snapshot(self.require_thread(thread_id, viewer=viewer))
        return _pending_in(snapshot, with_messages) if snapshot else []

    def approval(self, thread_id: str, interrupt_id: str, *, viewer: Actor, with_messages: bool = False) -> PendingApproval:
        """One pending approval, or why not: UnknownThread (unknown or not the viewer's), AlreadyDecided, NotPending."""
        pending = self._pending(self.require_thread(thread_id, viewer=viewer), with_messages, interrupt_id)
        if pending is None:
            if existing := self._decision(thread_id, interrupt_id):
                raise AlreadyDecided(existing.decided_by, existing.decided_at, existing.decision)
            raise NotPending("This approval is no longer pending.")
        return pending

    def _pending(self, thread_id: str, with_messages: bool = False, interrupt_id: str | None = None
                 ) -> PendingApproval | None:
        return _open_interrupt(self._snapshot(thread_id), interrupt_id, with_messages)

    def list_pending(
        self, filters: QueueFilter = QueueFilter(), limit: int = 200, offset: int = 0, *, viewer: Actor
    ) -> list[QueueItem]:
        """Oldest first, straight from the index (never a get_state loop over threads); a requester's own only."""
        where, params = _scoped(filters, viewer).where()
        rows = self.db.query(
            "SELECT thread_id, interrupt_id, checkpoint_id, tool, requester, policy, args_summary, created_at, graph,"
            f" kind FROM pending WHERE {where} ORDER BY created_at, thread_id LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [QueueItem(**row) for row in rows]

    def count_pending(self, filters: QueueFilter = QueueFilter(), *, viewer: Actor) -> int:
        where, params = _scoped(filters, viewer).where()
        return int(self.db.query(f"SELECT COUNT(*) AS n FROM pending WHERE {where}", params)[0]["n"])

    def sync_index(self, thread_id: str) -> None:
        """Make the index agree with the thread's checkpoint: its interrupts pending, everything else resolved.

        Works for any thread, including one written by another process; the thread row is added when missing.
        """
        with self._index_writer(thread_id) as (tx, snapshot):
            if snapshot is not None:
                _add_thread_row(tx, snapshot)
            _write_index(tx, thread_id, snapshot)

    def reconcile(self) -> int:
        """Rebuild the index (and the thread list) from the checkpoints; returns how many threads were checked."""
        thread_ids = sorted({c.config["configurable"]["thread_id"] for c in self.store.checkpointer.list(None)})
        for thread_id in thread_ids:
            self.sync_index(thread_id)
        orphaned = {r["thread_id"] for r in self.db.query("SELECT DISTINCT thread_id FROM pending WHERE status <> 'resolved'")}
        for thread_id in orphaned - set(thread_ids):
            self.db.execute("UPDATE pending SET status = 'resolved' WHERE thread_id = ?", (thread_id,))
        return len(thread_ids)

    @contextmanager
    def _index_writer(self, thread_id: str, read: bool = True) -> Iterator[tuple[Transaction, ThreadSnapshot | None]]:
        """A transaction for the thread's index rows, and its latest checkpoint (when `read`) to write them from.

        PostgreSQL: several replicas may index one thread at once (discovery, a resume); the checkpoint is read
        under a per-thread advisory lock, so the writer that read the newer checkpoint writes last. SQLite: read
        before the write lock, because SqliteSaver holds its connection's lock while it waits for the write
        lock, and reading through it from inside our write transaction would deadlock until the busy timeout.
        A writer that still lands out of order is corrected by discovery, which every checkpoint write wakes.
        """
        snapshot = self._snapshot(thread_id) if read and self.db.dialect == "sqlite" else None
        with self.db.transaction() as tx:
            if self.db.dialect == "postgres":
                tx.query("SELECT pg_advisory_xact_lock(?, hashtext(?))", (INDEX_LOCK_CLASS, thread_id))
                snapshot = self._snapshot(thread_id) if read else None
            yield tx, snapshot

    # -- decisions ---------------------------------------------------------------------------------------

    def decide(self, thread_id: str, interrupt_id: str, response: Any, actor: Actor) -> DecisionRecord:
        """Record the decision (exactly once per interrupt) and resume the graph with it."""
        row, pending = self._record(thread_id, interrupt_id, lambda request: response, actor)
        return _decision_record({**row, "applied_at": self._apply(row, pending)})

    def record_decision(self, thread_id: str, interrupt_id: str, response: Any, actor: Actor) -> DecisionRecord:
        """Validate and record a decision without resuming: fast, so a page can answer at once.

        Raises AlreadyDecided (someone was first), NotPending, NotAllowed or InvalidDecision; in every case
        nothing is saved.
        """
        row, _ = self._record(thread_id, interrupt_id, lambda request: response, actor)
        return _decision_record(row)

    def decide_many(
        self,
        items: Iterable[QueueItem],
        response_factory: Callable[[HITLRequest], Any],
        actor: Actor,
        *,
        honor_claims: bool = True,
    ) -> BulkResult:
        """Record one decision per item, each through `record_decision`'s checks and compare-and-set.

        A refused or stale item is reported rather than raised, so it does not stop the rest. Items another
        person has claimed are skipped unless `honor_claims` is False (expiry). Resume with `apply_decision`.
        """
        claimed = claims.active_claims(self.db) if honor_claims else {}
        decided: list[DecisionRecord] = []
        failed: list[tuple[QueueItem, str]] = []
        for item in items:
            try:
                claim = claimed.get((item.thread_id, item.interrupt_id))
                if claim is not None and claim.claimed_by != actor.name:
                    raise claims.Claimed(claim)
                row, _ = self._record(item.thread_id, item.interrupt_id, _for_requests(response_factory), actor)
                decided.append(_decision_record(row))
            except (ApprovalError, InvalidDecision) as error:
                failed.append((item, str(error)))
        return BulkResult(decided, failed)

    def _record(self, thread_id: str, interrupt_id: str, response_for: Callable[[HITLRequest | None], Any],
                actor: Actor) -> tuple[Row, PendingApproval]:
        """Check a decision against the pending interrupt and insert it with the compare-and-set.

        Returns the decision row and the approval it was checked against. Reasons for a refusal are looked up
        only on refusal, so the common path reads the checkpoint and nothing else.
        """
        pending = self.approval(thread_id, interrupt_id, viewer=actor)
        self.graph_for(pending.graph)  # an unregistered graph: refused before anything is saved
        decision = checked_decision(pending.review, response_for(pending.request))
        check_policy(pending.review, decision, actor)
        return self._insert_decision(pending, decision, actor), pending

    def _insert_decision(self, pending: PendingApproval, decision: CheckedDecision, actor: Actor) -> Row:
        review = pending.review
        row = {
            "decision_id": uuid.uuid4().hex,
            "thread_id": pending.thread_id,
            "interrupt_id": pending.interrupt_id,
            "decision": decision.name,
            "response": json.dumps(decision.resume),
            "tool": review.tool,
            "requested_by": review.requested_by,
            "requested_at": review.created_at,
            "decided_by": actor.name,
            "decided_at": utcnow(),
            "edit_diff": json.dumps(decision.edit_diff),
            "message": decision.message,
        }
        with self.db.transaction() as tx:
            inserted = tx.execute(
                f"INSERT INTO decisions ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
                " ON CONFLICT (thread_id, interrupt_id) DO NOTHING",
                list(row.values()),
            )
            if inserted:
                tx.execute(
                    "UPDATE pending SET status = 'decided' WHERE thread_id = ? AND interrupt_id = ?",
                    (pending.thread_id, pending.interrupt_id),
                )
                notifications.enqueue_decided(tx, row, review.summary())
        if not inserted:
            winner = self._decision(pending.thread_id, pending.interrupt_id)
            raise AlreadyDecided(winner.decided_by, winner.decided_at, winner.decision)
        return {**row, "applied_at": None}

    def apply_decision(self, decision_id: str) -> None:
        """Resume the graph with a recorded decision; safe to repeat (a crash between record and resume)."""
        rows = self.db.query("SELECT * FROM decisions WHERE decision_id = ?", (decision_id,))
        if not rows:
            raise ApprovalError(f"No decision {decision_id!r}.")
        if not rows[0]["applied_at"]:
            self._apply(rows[0])

    def _apply(self, row: Row, pending: PendingApproval | None = None) -> str:
        """Resume with the decision in `row`, then mark it applied; returns when it was applied.

        `pending` is the approval the decision was just checked against (saves reading the state again).
        """
        thread_id, decision_id, interrupt_id = row["thread_id"], row["decision_id"], row["interrupt_id"]
        output: dict[str, Any] | None = None
        with self._exclusive(thread_id, wait=True):
            if pending is None or pending.interrupt_id != interrupt_id:
                snapshot = self._snapshot(thread_id)
                pending = _open_interrupt(snapshot, interrupt_id)
                if pending is None and snapshot is not None and not snapshot.interrupts:
                    graph = self.graph_for(snapshot.graph)
                    config = self._config(thread_id, snapshot.graph, snapshot.requester)
                    if graph.get_state(config).next:
                        # killed mid-resume: the decision is in the checkpoint already; finish the steps cut off
                        output = graph.invoke(None, config, durability=DURABILITY)
            if pending is not None:
                config = self._config(thread_id, pending.graph, pending.review.requested_by)
                resume = Command(resume={interrupt_id: json.loads(row["response"])})
                output = self.graph_for(pending.graph).invoke(resume, config, durability=DURABILITY)
            # A run that ended without "__interrupt__" left nothing pending: no need to read it back.
            read = output is None or "__interrupt__" in output
            with self._index_writer(thread_id, read) as (tx, snapshot):  # one commit: decision, thread list, index
                now = utcnow()
                tx.execute("UPDATE decisions SET applied_at = ? WHERE decision_id = ?", (now, decision_id))
                tx.execute("UPDATE threads SET updated_at = ? WHERE thread_id = ?", (now, thread_id))
                _write_index(tx, thread_id, snapshot)
        return now

    def recover(self) -> int:
        """Apply decisions that were recorded but never applied (the process died in between)."""
        unapplied = self.db.query("SELECT decision_id FROM decisions WHERE applied_at IS NULL ORDER BY decided_at")
        for row in unapplied:
            self.apply_decision(row["decision_id"])
        return len(unapplied)

    def decision(self, thread_id: str, interrupt_id: str, *, viewer: Actor) -> DecisionRecord | None:
        """How the approval was decided, if it was; UnknownThread for a conversation `viewer` may not read."""
        return self._decision(self.require_thread(thread_id, viewer=viewer), interrupt_id)

    def _decision(self, thread_id: str, interrupt_id: str) -> DecisionRecord | None:
        rows = self.db.query("SELECT * FROM decisions WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))
        return _decision_record(rows[0]) if rows else None

    def decisions(self, limit: int = 1000, thread_id: str | None = None, *, viewer: Actor) -> list[DecisionRecord]:
        """Newest first: who decided what, when, and how the args were edited; a requester sees their own only."""
        clauses, params = [], []
        if thread_id:
            clauses.append("thread_id = ?")
            params.append(thread_id)
        if not may_see(viewer, None):
            clauses.append("requested_by = ?")
            params.append(viewer.name)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.query(f"SELECT * FROM decisions{where} ORDER BY decided_at DESC LIMIT ?", (*params, limit))
        return [_decision_record(row) for row in rows]

    # -- helpers -----------------------------------------------------------------------------------------

    def _snapshot(self, thread_id: str) -> ThreadSnapshot | None:
        return read_snapshot(self.store.checkpointer, thread_id)

    @staticmethod
    def _config(thread_id: str, graph: str, requester: str | None) -> dict:
        """Run metadata goes into every checkpoint: which graph the thread runs on, and who asked (as LangGraph's
        server records `graph_id`), so any process reading the checkpoint knows both."""
        metadata = {"graph_id": graph, **({"requester": requester} if requester else {})}
        return {"configurable": {"thread_id": thread_id}, "metadata": metadata}

    def _exclusive(self, thread_id: str, wait: bool = False) -> _ThreadLock:
        """One graph run per thread in this process: a second click or a rerun must not start a parallel run."""
        with self._locks_guard:
            lock = self._locks[thread_id]
        return _ThreadLock(lock, wait)


def _for_requests(response_factory: Callable[[HITLRequest], Any]) -> Callable[[HITLRequest | None], Any]:
    """Bulk decisions fit HITL requests only: a raw interrupt asks its own question and is answered on its own."""

    def response_for(request: HITLRequest | None) -> Any:
        if request is None:
            raise NotPending("This item asks a question, not for an approval; open it and answer it on its own.")
        return response_factory(request)

    return response_for


class _ThreadLock:
    def __init__(self, lock: threading.Lock, wait: bool):
        self._lock, self._wait = lock, wait

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=self._wait):
            raise ThreadBusy("The agent is still working on this conversation.")

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def may_see(viewer: Actor, owner: str | None) -> bool:
    """Reviewers (and the system) see every conversation; anyone else only their own (`owner` None: not theirs)."""
    return viewer.is_reviewer or viewer.role == "system" or viewer.name == owner


def _scoped(filters: QueueFilter, viewer: Actor) -> QueueFilter:
    return filters if may_see(viewer, None) else replace(filters, owner=viewer.name)


@dataclass(frozen=True)
class CheckedDecision:
    """A decision that fits its interrupt: what the graph is resumed with, and what the audit records."""

    name: str
    """approve | edit | reject | respond | mixed (several actions, different decisions) | answer (raw interrupt)"""
    types: frozenset[str]
    resume: Any
    edit_diff: list[dict]
    message: str


def checked_decision(review: ReviewRequest, raw: Any) -> CheckedDecision:
    """Validate `raw` for this interrupt (InvalidDecision with a readable reason otherwise)."""
    if review.request is None:
        try:
            resume = json.loads(json.dumps(raw))
        except (TypeError, ValueError) as error:
            raise InvalidDecision(f"The answer must be a JSON value ({error}).") from error
        check_answer(review, resume)
        return CheckedDecision("answer", frozenset({"answer"}), resume, [], "")
    response = parse_response(raw, review.request)
    resume = review.resume_value(response.model_dump(mode="json", exclude_none=True))
    if review.kind != "hitl":
        check_answer(review, resume)
    types = frozenset(d.type for d in response.decisions)
    return CheckedDecision(
        name=next(iter(types)) if len(types) == 1 else "mixed",
        types=types,
        resume=resume,
        edit_diff=edit_diff(review.request, response),
        message="\n".join(d.message for d in response.decisions if isinstance(d, Reject | Respond) and d.message),
    )


def check_policy(review: ReviewRequest, decision: CheckedDecision, actor: Actor) -> None:
    """Who may decide: the rules live here so no page (or script) can skip them."""
    if actor.role == "system":
        return
    own = actor.name == review.requested_by
    if review.policy == "reviewer":
        if not actor.is_reviewer:
            raise NotAllowed("Only a reviewer can decide this request.")
        if own and decision.types != {"reject"}:
            raise NotAllowed("You cannot approve your own request; another reviewer must.")
    elif not own and not actor.is_reviewer:
        raise NotAllowed(f"Only {review.requested_by} or a reviewer can decide this request.")


def edit_diff(request: HITLRequest, response: HITLResponse) -> list[dict]:
    """Per edited action, each changed argument as [before, after]."""
    diffs = []
    for action, decision in zip(request.action_requests, response.decisions):
        if isinstance(decision, Edit):
            after = decision.edited_action.args
            keys = sorted(set(action.args) | set(after))
            changes = {k: [action.args.get(k), after.get(k)] for k in keys if action.args.get(k) != after.get(k)}
            diffs.append({"tool": action.name, "changes": changes})
    return diffs


def _pending_in(snapshot: ThreadSnapshot, with_messages: bool) -> list[PendingApproval]:
    messages = snapshot.messages
    last = messages[-1] if messages else None
    payload = last.additional_kwargs.get("hitl") if isinstance(last, AIMessage) else None
    return [
        PendingApproval(
            thread_id=snapshot.thread_id,
            interrupt_id=interrupt.id,
            checkpoint_id=snapshot.checkpoint_id,
            review=review_request(interrupt, snapshot.requester, snapshot.created_at),
            graph=snapshot.graph,
            message_payload=payload,
            messages=messages if with_messages else [],
        )
        for interrupt in snapshot.interrupts
    ]


def _open_interrupt(snapshot: ThreadSnapshot | None, interrupt_id: str | None, with_messages: bool = False
                    ) -> PendingApproval | None:
    """The snapshot's open interrupt with this id (the first one for None), or None."""
    pending = _pending_in(snapshot, with_messages) if snapshot else []
    return next((p for p in pending if interrupt_id in (None, p.interrupt_id)), None)


def _add_thread_row(tx: Transaction, snapshot: ThreadSnapshot) -> None:
    """A thread another process started (or one the index lost) joins the thread list, with its graph."""
    tx.execute(
        "INSERT INTO threads (thread_id, title, requester, created_at, updated_at, graph) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (thread_id) DO NOTHING",
        (snapshot.thread_id, snapshot.title(), snapshot.requester or "unknown", snapshot.created_at,
         snapshot.created_at, snapshot.graph),
    )


def _write_index(tx: Transaction, thread_id: str, snapshot: ThreadSnapshot | None) -> None:
    """The checkpoint's open interrupts become pending rows; every other row of the thread (all, for None) is resolved."""
    items = _pending_in(snapshot, False) if snapshot else []
    current = [item.interrupt_id for item in items]
    marks = ", ".join("?" * len(current)) or "''"
    tx.execute(
        f"UPDATE pending SET status = 'resolved' WHERE thread_id = ? AND status <> 'resolved'"
        f" AND interrupt_id NOT IN ({marks})",
        (thread_id, *current),
    )
    for pending in items:
        review = pending.review
        item = QueueItem(thread_id, pending.interrupt_id, pending.checkpoint_id, review.tool, review.requested_by,
                         review.policy, review.summary(), review.created_at, pending.graph, review.kind)
        inserted = tx.execute(
            "INSERT INTO pending (thread_id, interrupt_id, checkpoint_id, tool, requester, policy, args_summary,"
            " created_at, status, graph, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING",
            (item.thread_id, item.interrupt_id, item.checkpoint_id, item.tool, item.requester, item.policy,
             item.args_summary, item.created_at, item.graph, item.kind),
        )
        if inserted:
            notifications.enqueue_pending(tx, item)


def _decision_record(row: Row) -> DecisionRecord:
    fields = {k: row[k] for k in DecisionRecord.__dataclass_fields__}
    return DecisionRecord(**{**fields, "edit_diff": json.loads(row["edit_diff"])})
