"""Agent Server deployments in the index: polling each one (the scheduler's "deployments" job, one replica at a
time), and their health for the console.

A poll reads the interrupted threads newer than the deployment's cursor and indexes them exactly like local
threads (same pending rows, webhooks, policy, claims, visibility), then compares the server's count of
interrupted threads with the index: equal means nothing left or arrived unseen (a quiet poll is those two
requests); different means a thread was resumed elsewhere, so the whole list is read once and the threads no
longer in it leave the queue. The `deployments` row holds the cursor and the last outcome, which every replica's
console shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from approvals.service.decisions import DecisionService
from approvals.service.index import add_thread_row, write_index
from approvals.sources.deployments import DeploymentUnavailable, Remote, newest
from approvals.store.database import utcnow
from approvals.store.deployment_cursors import cursor, poll_outcomes, record_poll
from approvals.store.queue_index import count_open_deployment_threads, open_deployment_threads


@dataclass(frozen=True)
class DeploymentHealth:
    """How the last poll of a deployment went, as the console names it."""

    name: str
    url: str
    status: str
    """"ok", "down" (unreachable, refused the key, an error answer) or "unknown" (not polled yet)."""
    error: str
    checked_at: str


class DeploymentService(DecisionService):
    """Polling the configured deployments into the pending index (the policy decides what it decides itself)."""

    def poll_deployments(self) -> None:
        """Poll every deployment once (a down one is recorded as such and holds up nothing but its own poll)."""
        for name in self.remotes:
            self.poll_deployment(name)

    def poll_deployment(self, name: str) -> int:
        """One poll of `name`; returns how many requests it made. A failure is recorded for the console, not raised."""
        remote = self.remotes[name]
        before = remote.requests
        since = cursor(self.db, name)
        try:
            threads = remote.interrupted() if not since else remote.newer_than(since)
            listed = {t["thread_id"] for t in threads} if not since else None
            self._index_remote(remote, threads, listed)
            if since and remote.count() != count_open_deployment_threads(self.db, name):
                threads = remote.interrupted()
                self._index_remote(remote, threads, {t["thread_id"] for t in threads})
        except DeploymentUnavailable as error:
            record_poll(self.db, name, since, "down", str(error), utcnow())
        else:
            record_poll(self.db, name, newest(threads, since), "ok", "", utcnow())
        return remote.requests - before

    def deployment_health(self) -> list[DeploymentHealth]:
        """Each configured deployment and how its last poll went (by whichever replica polled it)."""
        rows = poll_outcomes(self.db)
        return [DeploymentHealth(name, remote.deployment.url, (row := rows.get(name, {})).get("status", "unknown"),
                                 row.get("error", ""), row.get("checked_at", ""))
                for name, remote in self.remotes.items()]

    def _index_remote(self, remote: Remote, threads: list[dict], listed: set[str] | None) -> None:
        """Index the threads (no request: the poll's rows carry their interrupts); with `listed`, every indexed
        thread of the deployment not in it has left (resumed elsewhere) and is resolved."""
        policy, by_policy = self.policy.current(), []
        with self.db.transaction() as tx:
            for thread in threads:
                snapshot = remote.snapshot(str(thread["thread_id"]), thread)
                add_thread_row(tx, snapshot)
                by_policy += write_index(tx, snapshot.thread_id, snapshot, policy)
            if listed is not None:
                for gone in open_deployment_threads(tx, remote.name) - listed:
                    write_index(tx, gone, None, policy)
        self.decide_by_policy(by_policy)
