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

    @property
    def is_reviewer(self) -> bool:
        return self.role == "reviewer"


EXPIRY = Actor("system (expired)", "system")
