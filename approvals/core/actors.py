"""Who is acting, and in which role: what the visibility and approval rules look at."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Role = Literal["requester", "reviewer", "system"]

@dataclass(frozen=True)
class Actor:
    name: str
    role: Role
    signed_in: bool = field(default=True, compare=False)
    """False for a browser's private guest, which has no account."""
    groups: frozenset[str] = field(default=frozenset(), compare=False)
    """The groups an approval policy rule may require (from the account, or the sign-in's ID-token claim)."""

    @property
    def is_reviewer(self) -> bool:
        return self.role == "reviewer"


EXPIRY = Actor("system (expired)", "system")


def policy_actor(rule: str) -> Actor:
    """Who a decision the policy made itself is recorded as: `policy:<rule name>`."""
    return Actor(f"policy:{rule}", "system")
