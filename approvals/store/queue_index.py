"""The queue index: one `pending` row per open interrupt, written from checkpoints, read by every queue view.

The queue is read from here, never from the checkpoints, so the filters, the orders and the search live next to
the rows they read: a page names a sort and fills a `QueueFilter` (approvals/core/visibility.py), and only this
module turns them into SQL. Writers of one thread's rows serialize on `Lock.INDEX` (`index_writer`); the other
functions take the caller's `Queries`, so a write commits with whatever else the caller's transaction holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from approvals.core.records import QueueItem
from approvals.core.visibility import QueueFilter
from approvals.store.database import Database, Lock, Queries, Row, Transaction

T = TypeVar("T")

ORDERS: dict[str, str] = {
    "age": "created_at, thread_id",
    "newest": "created_at DESC, thread_id",
    "amount": "amount IS NULL, amount DESC, created_at, thread_id",
    "tool": "tool, created_at, thread_id",
}
"""Each of the queue's orders (`QueueFilter.sort`) as the index sorts it; an unknown name sorts by age."""

ITEM_COLUMNS = ("thread_id, interrupt_id, checkpoint_id, tool, requester, policy, args_summary, created_at, graph,"
                " kind, request_digest, args, rule, approvers, approved_by, deployment")


@contextmanager
def index_writer(db: Database, thread_id: str, read: Callable[[], T], *, synced: bool = True
                 ) -> Iterator[tuple[Transaction, T]]:
    """A transaction holding the thread's index lock, and what `read` returned (its checkpoint) to write from.

    PostgreSQL: several replicas may index one thread at once (discovery, a resume); `read` runs under the lock,
    so the writer that read the newer checkpoint writes last. SQLite: `read` runs before the write lock, because
    SqliteSaver holds its connection's lock while it waits for the write lock, and reading through it from
    inside our write transaction would deadlock until the busy timeout. A writer that still lands out of order
    is corrected by discovery, which every checkpoint write wakes. `synced`: as `Database.transaction`'s.
    """
    if db.dialect == "sqlite":
        found = read()
        with db.transaction(synced=synced) as tx:
            yield tx, found
        return
    with db.transaction(synced=synced) as tx:
        tx.lock(Lock.INDEX, thread_id)
        yield tx, read()


def _where(filters: QueueFilter) -> tuple[str, list[Any]]:
    clauses, params = ["status = 'pending'"], []
    if filters.owner is not None:
        clauses.append("requester = ?")
        params.append(filters.owner)
    for column, values in (("tool", filters.tools), ("policy", filters.policies), ("requester", filters.requesters)):
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if filters.created_before:
        clauses.append("created_at < ?")
        params.append(filters.created_before)
    for word in filters.search_words():
        clauses.append("search LIKE ? ESCAPE '\\'")
        params.append(f"%{_like_escaped(word)}%")
    if requester := filters.requester_part():
        clauses.append("LOWER(requester) LIKE ? ESCAPE '\\'")
        params.append(f"%{_like_escaped(requester)}%")
    if filters.claimed_by is not None:
        clauses.append("EXISTS (SELECT 1 FROM claims c WHERE c.thread_id = pending.thread_id"
                       " AND c.interrupt_id = pending.interrupt_id AND c.claimed_by = ? AND c.expires_at > ?)")
        params.extend([filters.claimed_by, filters.now])
    return " AND ".join(clauses), params


def _like_escaped(text: str) -> str:
    """A LIKE pattern that matches `text` literally: a typed % or _ is a character, not a wildcard."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- the queue's views --------------------------------------------------------------------------------------


def pending_page(q: Queries, filters: QueueFilter, limit: int, offset: int) -> list[QueueItem]:
    """One page of pending items matching `filters` (already scoped to the viewer), in the filter's order."""
    where, params = _where(filters)
    rows = q.query(f"SELECT {ITEM_COLUMNS} FROM pending WHERE {where}"
                   f" ORDER BY {ORDERS.get(filters.sort, ORDERS['age'])} LIMIT ? OFFSET ?", (*params, limit, offset))
    return [QueueItem(**row) for row in rows]


def count_pending(q: Queries, filters: QueueFilter) -> int:
    where, params = _where(filters)
    return int(q.query(f"SELECT COUNT(*) AS n FROM pending WHERE {where}", params)[0]["n"])


def pending_tools(q: Queries, filters: QueueFilter) -> list[str]:
    """The distinct tools of the pending items matching `filters`, alphabetically."""
    where, params = _where(filters)
    return [row["tool"] for row in q.query(f"SELECT DISTINCT tool FROM pending WHERE {where} ORDER BY tool", params)]


def request_digest(q: Queries, thread_id: str, interrupt_id: str) -> str | None:
    """The digest of the item's request while it is pending, else None."""
    rows = q.query("SELECT request_digest FROM pending WHERE thread_id = ? AND interrupt_id = ? AND status = 'pending'",
                   (thread_id, interrupt_id))
    return rows[0]["request_digest"] if rows else None


def indexed_deployment(q: Queries, thread_id: str) -> str:
    """The deployment a thread was indexed from ("" for none)."""
    rows = q.query("SELECT deployment FROM pending WHERE thread_id = ? AND deployment <> '' LIMIT 1", (thread_id,))
    return str(rows[0]["deployment"]) if rows else ""


def shown_args(q: Queries, thread_id: str, interrupt_id: str) -> str | None:
    """The item's arguments as JSON, as the queue showed them (None when the item was never indexed)."""
    rows = q.query("SELECT args FROM pending WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))
    return rows[0]["args"] or "{}" if rows else None


def proposed_args(q: Queries, thread_ids: list[str]) -> list[Row]:
    """thread_id, interrupt_id and args of every indexed item of these threads (the caller keeps the list short)."""
    return q.query(f"SELECT thread_id, interrupt_id, args FROM pending WHERE thread_id IN"
                   f" ({', '.join('?' * len(thread_ids))})", thread_ids)


def notice_row(q: Queries, thread_id: str, interrupt_id: str) -> Row | None:
    """What a notification needs of the item: its status, rule, approvers and approvals so far."""
    rows = q.query("SELECT status, requester, rule, approvers, approved_by, created_at, tool, request_digest"
                   " FROM pending WHERE thread_id = ? AND interrupt_id = ?", (thread_id, interrupt_id))
    return rows[0] if rows else None


def pending_for_others(q: Queries, name: str) -> list[Row]:
    """The pending items `name` did not request, with their rule and approvals (what may wait for them)."""
    return q.query("SELECT thread_id, interrupt_id, rule, approved_by, created_at FROM pending"
                   " WHERE status = 'pending' AND requester <> ?", (name,))


# -- keeping the index true ---------------------------------------------------------------------------------


def resolve_others(tx: Queries, thread_id: str, keep: list[str]) -> None:
    """Every open row of the thread but those of the `keep` interrupts is resolved."""
    marks = ", ".join("?" * len(keep)) or "''"
    tx.execute(f"UPDATE pending SET status = 'resolved' WHERE thread_id = ? AND status <> 'resolved'"
               f" AND interrupt_id NOT IN ({marks})", (thread_id, *keep))


def insert_pending(tx: Queries, item: QueueItem, args: str, amount: float | None, search: str, actions: str,
                   assistant_id: str) -> bool:
    """The item's row, pending; False when the interrupt was indexed already (its row is left as it is)."""
    return bool(tx.execute(
        "INSERT INTO pending (thread_id, interrupt_id, checkpoint_id, tool, requester, policy, args_summary,"
        " created_at, status, graph, kind, request_digest, args, amount, search, actions, rule, approvers,"
        " deployment, assistant_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (item.thread_id, item.interrupt_id, item.checkpoint_id, item.tool, item.requester, item.policy,
         item.args_summary, item.created_at, item.graph, item.kind, item.request_digest, args, amount, search,
         actions, item.rule, item.approvers, item.deployment, assistant_id),
    ))


def open_local_threads(q: Queries) -> set[str]:
    """Threads with an unresolved row that are not a deployment's (those are kept true by their polling)."""
    return {row["thread_id"] for row in q.query(
        "SELECT DISTINCT thread_id FROM pending WHERE status <> 'resolved' AND deployment = ''")}


def resolve_thread(q: Queries, thread_id: str) -> None:
    q.execute("UPDATE pending SET status = 'resolved' WHERE thread_id = ?", (thread_id,))


def pending_verdicts(q: Queries) -> list[Row]:
    """Each pending item's calls (`actions`, JSON) with the verdict it was indexed under: what a new policy
    re-evaluates."""
    return q.query("SELECT thread_id, interrupt_id, graph, requester, actions, policy, rule, approvers FROM pending"
                   " WHERE status = 'pending' AND actions <> '[]'")


def update_verdicts(tx: Transaction, changed: list[tuple[str, str, int, str, str]]) -> None:
    """New (policy, rule, approvers, thread_id, interrupt_id) for items still pending."""
    tx.executemany("UPDATE pending SET policy = ?, rule = ?, approvers = ? WHERE thread_id = ?"
                   " AND interrupt_id = ? AND status = 'pending'", changed)


def mark_decided(q: Queries, thread_id: str, interrupt_id: str) -> None:
    """The item has its decision (delivered or not yet): it leaves the queue."""
    q.execute("UPDATE pending SET status = 'decided' WHERE thread_id = ? AND interrupt_id = ?",
              (thread_id, interrupt_id))


def record_approvers(q: Queries, thread_id: str, interrupt_id: str, approved_by: str, approvers: int) -> None:
    """Who approved a multi-approver item so far (comma-separated) and how many approvals it needs."""
    q.execute("UPDATE pending SET approved_by = ?, approvers = ? WHERE thread_id = ? AND interrupt_id = ?",
              (approved_by, approvers, thread_id, interrupt_id))


def open_item(q: Queries, thread_id: str, interrupt_id: str) -> Row | None:
    """The still pending item's requester, tool, graph and actions (JSON), or None."""
    rows = q.query("SELECT requester, tool, graph, actions FROM pending WHERE thread_id = ?"
                   " AND interrupt_id = ? AND status = 'pending'", (thread_id, interrupt_id))
    return rows[0] if rows else None


def args_summary(q: Queries, thread_id: str, interrupt_id: str) -> str:
    """What the item asked, as the queue summarised it ("" when it has no row)."""
    rows = q.query("SELECT args_summary FROM pending WHERE thread_id = ? AND interrupt_id = ?",
                   (thread_id, interrupt_id))
    return rows[0]["args_summary"] if rows else ""


def open_deployment_threads(q: Queries, deployment: str) -> set[str]:
    """The deployment's threads with an item not yet resolved."""
    rows = q.query("SELECT DISTINCT thread_id FROM pending WHERE deployment = ?"
                   " AND status <> 'resolved'", (deployment,))
    return {row["thread_id"] for row in rows}


def count_open_deployment_threads(q: Queries, deployment: str) -> int:
    rows = q.query("SELECT COUNT(DISTINCT thread_id) AS n FROM pending WHERE deployment = ?"
                   " AND status <> 'resolved'", (deployment,))
    return int(rows[0]["n"])


def recent_requests(q: Queries, limit: int) -> list[Row]:
    """The newest `limit` items that asked for tool calls, with the outcome recorded for each (policy replay)."""
    return q.query(
        "SELECT thread_id, interrupt_id, graph, requester, policy, rule, approvers, actions FROM pending"
        " WHERE actions <> '[]' ORDER BY created_at DESC LIMIT ?", (limit,))
