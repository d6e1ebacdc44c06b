"""Who may see what: the rules every read of the service applies, so no page or script can skip them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from approvals.core.actors import Actor

SORTS: dict[str, str] = {
    "age": "created_at, thread_id",
    "newest": "created_at DESC, thread_id",
    "amount": "amount IS NULL, amount DESC, created_at, thread_id",
    "tool": "tool, created_at, thread_id",
}
"""The queue's orders (oldest first by default), by name: a page or the URL picks one, never writes SQL."""
MAX_OFFSET = 1_000_000
MAX_AGE_MINUTES = 10 * 366 * 24 * 60
"""Ten years: any older cutoff is a mistake, and a far larger one overflows the date arithmetic. The API and the
console's URL refuse the same values."""


@dataclass(frozen=True)
class QueueFilter:
    tools: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    requesters: tuple[str, ...] = ()
    created_before: str | None = None
    """Only items created before this ISO time (i.e. older than some age)."""
    owner: str | None = None
    """Only this requester's items: set by the service for viewers who are not reviewers, never by a page."""
    search: str = ""
    """Every word must appear in the item's tool, arguments, requester or conversation title (any case)."""
    requester_like: str = ""
    """Part of the requester's name (any case): `car` finds carol."""
    claimed_by: str | None = None
    """Only items this person holds a live claim on (the "mine" view); `now` says what live means."""
    now: str = ""
    sort: str = "age"

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
        for word in self.search.lower().split():
            clauses.append("search LIKE ? ESCAPE '\\'")
            params.append(f"%{_like_escaped(word)}%")
        if self.requester_like.strip():
            clauses.append("LOWER(requester) LIKE ? ESCAPE '\\'")
            params.append(f"%{_like_escaped(self.requester_like.strip().lower())}%")
        if self.claimed_by is not None:
            clauses.append("EXISTS (SELECT 1 FROM claims c WHERE c.thread_id = pending.thread_id"
                           " AND c.interrupt_id = pending.interrupt_id AND c.claimed_by = ? AND c.expires_at > ?)")
            params.extend([self.claimed_by, self.now])
        return " AND ".join(clauses), params

    def order_by(self) -> str:
        return SORTS.get(self.sort, SORTS["age"])


def _like_escaped(text: str) -> str:
    """A LIKE pattern that matches `text` literally: a typed % or _ is a character, not a wildcard."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def may_see(viewer: Actor, owner: str | None) -> bool:
    """Reviewers (and the system) see every conversation; anyone else only their own (`owner` None: not theirs)."""
    return viewer.is_reviewer or viewer.role == "system" or viewer.name == owner


def scoped(filters: QueueFilter, viewer: Actor) -> QueueFilter:
    return filters if may_see(viewer, None) else replace(filters, owner=viewer.name)

