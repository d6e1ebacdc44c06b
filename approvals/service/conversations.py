"""Conversations with the built-in agent: who may read and write one, and running the agent on a message."""

from __future__ import annotations

from langchain_core.messages import BaseMessage

from approvals.core.actors import Actor
from approvals.core.errors import ApprovalError, NotAllowed, NotPending, UnknownThread
from approvals.core.records import BUILTIN_GRAPH, ThreadSummary
from approvals.core.runs import Run
from approvals.core.visibility import may_see
from approvals.service.runs import RunService
from approvals.store.database import Transaction, utcnow
from approvals.store.threads import recent_threads, start_thread

MAX_MESSAGE_CHARS = 4000


class ConversationService(RunService):
    """A person's conversations: listing, reading and writing them."""

    def recent_threads(self, limit: int = 30, *, viewer: Actor) -> list[ThreadSummary]:
        """The viewer's own conversations with the built-in agent, most recent first (reviewers too see only their
        own here; other graphs' threads run in their own workers)."""
        return [
            ThreadSummary(r["thread_id"], r["title"], r["requester"], r["updated_at"], bool(r["awaiting"]))
            for r in recent_threads(self.db, viewer.name, BUILTIN_GRAPH, limit)
        ]

    def messages(self, thread_id: str, *, viewer: Actor) -> list[BaseMessage]:
        snapshot = self._snapshot(self.require_thread(thread_id, viewer=viewer))
        return snapshot.messages if snapshot else []

    def send_message(self, thread_id: str, text: str, actor: Actor) -> None:
        """Add the user's message and run the agent here until it answers or stops for an approval."""
        run = self.start_message(thread_id, text, actor)
        if (error := self.execute_run(run.run_id)) is not None:
            raise error

    def start_message(self, thread_id: str, text: str, actor: Actor) -> Run:
        """Check the message and record its run (queued); the runner carries it out, on this replica or another.

        The conversation exists from here on, so a reload on any replica finds it and shows the run working.
        """
        thread_id = self.check_thread_id(thread_id)
        text = text.strip()
        if not text or len(text) > MAX_MESSAGE_CHARS:
            raise ApprovalError(f"A message must have 1 to {MAX_MESSAGE_CHARS} characters.")
        if (owner := self._owner(thread_id)) is not None and owner != actor.name:
            if may_see(actor, owner):
                raise NotAllowed(f"This conversation is {owner}'s; only they can write in it.")
            raise UnknownThread(f"There is no conversation {thread_id!r}.")
        snapshot = self._snapshot(thread_id)
        if snapshot is not None and snapshot.graph != BUILTIN_GRAPH:
            raise NotAllowed(f"This conversation runs on the graph {snapshot.graph!r} in its own worker.")
        if snapshot is not None and snapshot.interrupts:
            raise NotPending("This conversation is waiting for an approval; decide it before writing more.")
        return self.begin_run(thread_id, "message", actor.name, input=text,
                              along=lambda tx: self._touch_thread(tx, thread_id, text, actor))

    @staticmethod
    def _touch_thread(tx: Transaction, thread_id: str, text: str, actor: Actor) -> None:
        start_thread(tx, thread_id, text[:80], actor.name, utcnow())
