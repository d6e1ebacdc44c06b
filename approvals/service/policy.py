"""The policy in force: `approvals.toml` (or APPROVALS_CONFIG), re-read when it changes, the last good one kept.

A changed file is picked up on the first use after `CHECK_SECONDS` (a stat, no read, while it is unchanged), so
new approvals follow it within a few seconds on every replica. A file with errors is refused: the policy it
would replace stays in force and `error` holds its `FILE:LINE: reason` lines for reviewers to see. Without a
file: one reviewer, not the requester, for everything.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from approvals.core.hitl import Policy as Needs
from approvals.core.hitl import PolicyFor
from approvals.core.policy import NO_POLICY, Policy, Verdict
from approvals.core.policy_file import PolicyError, parse_policy
from approvals.core.records import BUILTIN_GRAPH
from approvals.store import queue_index
from approvals.store.database import Database

log = logging.getLogger(__name__)

DEFAULT_PATH = Path("approvals.toml")
CHECK_SECONDS = 1.0


def policy_path() -> Path:
    return Path(os.environ.get("APPROVALS_CONFIG") or DEFAULT_PATH)


def read_policy(path: Path) -> Policy:
    """The file's policy; PolicyError with `FILE:LINE: reason` lines, or OSError when it cannot be read."""
    return parse_policy(path.read_text(encoding="utf-8"), str(path))


class PolicySource:
    """The policy in force and, when the file on disk was refused, why."""

    def __init__(self, path: Path | None = None, check_seconds: float = CHECK_SECONDS):
        self.path = path if path is not None else policy_path()
        self.check_seconds = check_seconds
        self._policy, self._error = NO_POLICY, ""
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.reload()

    def current(self) -> Policy:
        """The policy to decide with now (re-read first if the file changed since the last look)."""
        if time.monotonic() - self._checked >= self.check_seconds:
            self.reload()
        return self._policy

    @property
    def error(self) -> str:
        """The refused file's problems, one `FILE:LINE: reason` per line; "" when the file on disk is in force."""
        self.current()
        return self._error

    def reload(self, force: bool = False) -> bool:
        """Look at the file now; True when a new policy came into force."""
        with self._lock:
            self._checked = time.monotonic()
            stamp = _stamp(self.path)
            if stamp == self._stamp and not force:
                return False
            self._stamp = stamp
            if stamp is None:
                changed, self._policy, self._error = self._policy is not NO_POLICY, NO_POLICY, ""
                return changed
            try:
                policy = read_policy(self.path)
            except (PolicyError, OSError, UnicodeDecodeError) as error:
                self._error = str(error)
                log.error("approval policy %s refused, the previous one stays in force:\n%s", self.path, error)
                return False
            changed, self._policy, self._error = policy.version != self._policy.version, policy, ""
            return changed


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except FileNotFoundError:
        return None
    return status.st_mtime_ns, status.st_size


def policy_for_rules(current: Callable[[], Policy]) -> PolicyFor:
    """What the built-in agent's graph asks (the request's hint, and its re-check before a tool runs): what a call
    needs, "self" or "reviewer", under the rules `current()` returns at that moment (so a reload applies at once)."""

    def policy_for(tool: str, args: dict, requester: str) -> Needs:
        verdict = current().match(tool, args, BUILTIN_GRAPH, requester)
        return "self" if verdict.requester_may_approve else "reviewer"

    return policy_for


def reevaluate(db: Database, policy: Policy) -> list[tuple[str, str, Verdict]]:
    """The pending queue under `policy` (after a reload): each item's rule, outcome and approvers updated from the
    call it asks for (kept on its index row), in one transaction. Returns the items the policy now decides itself.
    """
    changed, by_policy = [], []
    for row in queue_index.pending_verdicts(db):
        verdict = policy.verdict([(tool, args) for tool, args in json.loads(row["actions"])], row["graph"],
                                 row["requester"])
        if (verdict.display, verdict.rule, verdict.approvers) != (row["policy"], row["rule"], row["approvers"]):
            changed.append((verdict.display, verdict.rule, verdict.approvers, row["thread_id"], row["interrupt_id"]))
        if verdict.by_policy:
            by_policy.append((row["thread_id"], row["interrupt_id"], verdict))
    if changed:
        with db.transaction() as tx:
            queue_index.update_verdicts(tx, changed)
    return by_policy
