"""Who may see what: the rules every read of the service applies, so no page or script can skip them."""

from __future__ import annotations

from dataclasses import dataclass, replace

from approvals.core.actors import Actor

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
    """The queue's order by name: "age" (oldest first), "newest", "amount" or "tool"; a page or the URL picks one,
    never SQL."""

    def search_words(self) -> list[str]:
        """The words every match must contain, lower-cased."""
        return self.search.lower().split()

    def requester_part(self) -> str:
        """The part of a requester's name to look for, lower-cased ("" for none)."""
        return self.requester_like.strip().lower()


def may_see(viewer: Actor, owner: str | None) -> bool:
    """Reviewers (and the system) see every conversation; anyone else only their own (`owner` None: not theirs)."""
    return viewer.is_reviewer or viewer.role == "system" or viewer.name == owner


def scoped(filters: QueueFilter, viewer: Actor) -> QueueFilter:
    return filters if may_see(viewer, None) else replace(filters, owner=viewer.name)

