"""SLA and expiry: when a pending approval is flagged as late, and (optionally) when nobody may decide it anymore.

Expiry is a decision like any other: a reject by `EXPIRY` ("system (expired)") through the service's
compare-and-set, so a reviewer who clicks at the same moment either wins or sees who was first, and the
agent gets the reason as the reject message.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from approvals.core.actors import EXPIRY
from approvals.core.records import BulkResult, age_seconds
from approvals.core.visibility import QueueFilter
from approvals.service.facade import ApprovalService
from approvals.store.database import iso
from graphs.hitl import HITLRequest

DEFAULT_SLA_MINUTES = 30.0
EXPIRE_BATCH = 500


def sla_minutes() -> float:
    """Age after which the queue highlights an item (env APPROVAL_SLA_MINUTES, default 30)."""
    return float(os.environ.get("APPROVAL_SLA_MINUTES") or DEFAULT_SLA_MINUTES)


def ttl_minutes() -> float | None:
    """Age after which an item is auto-rejected (env APPROVAL_TTL_MINUTES); None (unset) turns expiry off."""
    raw = os.environ.get("APPROVAL_TTL_MINUTES")
    return float(raw) if raw else None


def past_sla(created_at: str, sla: float, now: datetime | None = None) -> bool:
    return age_seconds(created_at, now) > sla * 60


def expiry_message(ttl: float) -> str:
    """The reject message the agent (and through it the requester) sees."""
    return f"Expired: no reviewer decided within {ttl:g} minutes. Ask again if this is still needed."


def expire_overdue(service: ApprovalService, ttl: float | None, now: datetime | None = None) -> BulkResult:
    """Reject, as EXPIRY, every item pending for longer than `ttl` minutes (None: do nothing).

    Claims do not hold expiry off. Returns the recorded decisions; the caller resumes them (`apply_decision`).
    """
    if ttl is None:
        return BulkResult([], [])
    cutoff = iso((now or datetime.now(UTC)) - timedelta(minutes=ttl))
    overdue = service.list_pending(QueueFilter(created_before=cutoff), limit=EXPIRE_BATCH, viewer=EXPIRY)
    message = expiry_message(ttl)

    def reject(request: HITLRequest) -> dict:
        return {"decisions": [{"type": "reject", "message": message} for _ in request.action_requests]}

    return service.decide_many(overdue, reject, EXPIRY, honor_claims=False)
