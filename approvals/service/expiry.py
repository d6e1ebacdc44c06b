"""SLA, escalation and expiry: when a pending approval is flagged as late, reminded, reassigned, and decided.

Each item follows its policy rule's escalation (`remind_after_minutes`, `reassign_after_minutes` +
`reassign_to`, `expire_after_minutes` + `expire_decide`); APPROVAL_TTL_MINUTES is the expiry of items whose rule
sets none. Expiry is a decision like any other, through the service's compare-and-set, so a reviewer who clicks
at the same moment either wins or sees who was first: by `policy:<rule>` for a rule's expiry, by `EXPIRY`
("system (expired)") for the default one, and the agent gets the reason as the reject message.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from approvals.core.actors import EXPIRY, Actor, policy_actor
from approvals.core.hitl import HITLRequest
from approvals.core.policy import Policy, Rule
from approvals.core.records import BulkResult, QueueItem, age_seconds
from approvals.core.visibility import QueueFilter
from approvals.service import escalation
from approvals.service.facade import ApprovalService
from approvals.store.database import iso

DEFAULT_SLA_MINUTES = 30.0
EXPIRE_BATCH = 500


def sla_minutes() -> float:
    """Age after which the queue highlights an item (env APPROVAL_SLA_MINUTES, default 30)."""
    return float(os.environ.get("APPROVAL_SLA_MINUTES") or DEFAULT_SLA_MINUTES)


def ttl_minutes() -> float | None:
    """Default age after which an item is auto-rejected (env APPROVAL_TTL_MINUTES); None (unset): no default."""
    raw = os.environ.get("APPROVAL_TTL_MINUTES")
    return float(raw) if raw else None


def past_sla(created_at: str, sla: float, now: datetime | None = None) -> bool:
    return age_seconds(created_at, now) > sla * 60


def expiry_message(ttl: float) -> str:
    """The reject message the agent (and through it the requester) sees."""
    return f"Expired: no reviewer decided within {ttl:g} minutes. Ask again if this is still needed."


Expiry = tuple[Actor, str, str]
"""Who expires an item, with which decision ("reject" | "approve"), and the reject message."""


def expire_overdue(service: ApprovalService, ttl: float | None, now: datetime | None = None) -> BulkResult:
    """Run every due escalation step, then decide every item past its expiry (the rule's, else `ttl` minutes).

    Claims do not hold expiry off (it is decided by the system). Returns the recorded decisions, each with its run
    queued (the runner delivers them).
    """
    now = now or datetime.now(UTC)
    service.follow_policy()  # a changed policy file: the queue re-evaluated first
    policy = service.policy.current()
    soonest = _soonest(policy, ttl)
    if soonest is None:
        return BulkResult([], [])
    cutoff = iso(now - timedelta(minutes=soonest))
    overdue = service.list_pending(QueueFilter(created_before=cutoff), limit=EXPIRE_BATCH, viewer=EXPIRY)
    rules = {rule.name: rule for rule in policy.rules}
    expiring: defaultdict[Expiry, list[QueueItem]] = defaultdict(list)
    with service.db.transaction() as tx:
        for item in overdue:
            rule = rules.get(item.rule)
            if rule is not None:
                for step, detail in escalation.due_steps(rule, item, now):
                    escalation.record_step(tx, item, step, rule, detail, now)
            if (how := _expiry(rule, ttl, item, now)) is not None:
                expiring[how].append(item)
    decided, failed = [], []
    for (actor, decide, message), items in expiring.items():
        result = service.decide_many(items, _response(decide, message), actor)
        decided += result.decided
        failed += result.failed
    return BulkResult(decided, failed)


def _soonest(policy: Policy, ttl: float | None) -> float | None:
    """The shortest age at which anything happens: only items older than that are looked at."""
    plans = [r.escalation for r in policy.rules]
    ages = [m for p in plans for m in (p.remind_after, p.reassign_after, p.expire_after) if m is not None]
    return min([*ages, *([ttl] if ttl is not None else [])], default=None)


def _expiry(rule: Rule | None, ttl: float | None, item: QueueItem, now: datetime) -> Expiry | None:
    minutes = age_seconds(item.created_at, now) / 60
    after = rule.escalation.expire_after if rule is not None else None
    if rule is not None and after is not None:
        if minutes < after:
            return None
        message = rule.escalation.expire_message or expiry_message(after)
        return policy_actor(rule.name), rule.escalation.expire_decide, message
    if ttl is None or minutes < ttl:
        return None
    return EXPIRY, "reject", expiry_message(ttl)


def _response(decide: str, message: str) -> Callable[[HITLRequest], dict]:
    def respond(request: HITLRequest) -> dict:
        decision = {"type": "approve"} if decide == "approve" else {"type": "reject", "message": message}
        return {"decisions": [decision for _ in request.action_requests]}

    return respond
