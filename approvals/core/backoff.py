"""How long to wait before trying again after a failure: the one backoff of every retry in the app."""

from __future__ import annotations

import random


def backoff_seconds(attempts: int, first: float, cap: float, jitter: float = 0.0) -> float:
    """`first`, then doubling per failed attempt, capped at `cap`; `jitter` (0..1) takes up to that share off at
    random, so replicas that failed together do not retry in lockstep."""
    delay = min(cap, first * 2 ** max(0, attempts - 1))
    return delay * random.uniform(1.0 - jitter, 1.0) if jitter else delay
