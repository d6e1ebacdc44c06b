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
        cursor = self._cursor(name)
        try:
            threads = remote.interrupted() if not cursor else remote.newer_than(cursor)
            listed = {t["thread_id"] for t in threads} if not cursor else None
            self._index_remote(remote, threads, listed)
            if cursor and remote.count() != self._indexed_threads(name):
                threads = remote.interrupted()
                self._index_remote(remote, threads, {t["thread_id"] for t in threads})
        except DeploymentUnavailable as error:
            self._record_poll(name, cursor, "down", str(error))
        else:
            self._record_poll(name, newest(threads, cursor), "ok", "")
        return remote.requests - before

    def deployment_health(self) -> list[DeploymentHealth]:
        """Each configured deployment and how its last poll went (by whichever replica polled it)."""
        rows = {r["name"]: r for r in self.db.query("SELECT name, status, error, checked_at FROM deployments")}
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
                open_rows = tx.query("SELECT DISTINCT thread_id FROM pending WHERE deployment = ?"
                                     " AND status <> 'resolved'", (remote.name,))
                for gone in {row["thread_id"] for row in open_rows} - listed:
                    write_index(tx, gone, None, policy)
        self.decide_by_policy(by_policy)

    def _indexed_threads(self, name: str) -> int:
        rows = self.db.query("SELECT COUNT(DISTINCT thread_id) AS n FROM pending WHERE deployment = ?"
                             " AND status <> 'resolved'", (name,))
        return int(rows[0]["n"])

    def _cursor(self, name: str) -> str:
        rows = self.db.query("SELECT cursor FROM deployments WHERE name = ?", (name,))
        return str(rows[0]["cursor"]) if rows else ""

    def _record_poll(self, name: str, cursor: str, status: str, error: str) -> None:
        self.db.execute(
            "INSERT INTO deployments (name, cursor, status, error, checked_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, status = excluded.status,"
            " error = excluded.error, checked_at = excluded.checked_at", (name, cursor, status, error[:1000], utcnow()))
