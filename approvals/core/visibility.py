"""Who may see what: the rules every read of the service applies, so no page or script can skip them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from approvals.core.actors import Actor


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



def may_see(viewer: Actor, owner: str | None) -> bool:
    """Reviewers (and the system) see every conversation; anyone else only their own (`owner` None: not theirs)."""
    return viewer.is_reviewer or viewer.role == "system" or viewer.name == owner


def scoped(filters: QueueFilter, viewer: Actor) -> QueueFilter:
    return filters if may_see(viewer, None) else replace(filters, owner=viewer.name)

