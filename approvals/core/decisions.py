"""Whether a decision fits the interrupt it answers, and whether the person making it may: no I/O, just rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from approvals.core.actors import Actor
from approvals.core.errors import NotAllowed
from approvals.core.interrupts import check_answer
from approvals.core.records import ReviewRequest
from graphs.hitl import Edit, HITLRequest, HITLResponse, InvalidDecision, Reject, Respond, parse_response
from graphs.tools import Policy, approval_policy, strictest

PolicyFor = Callable[[str, dict], Policy]
"""The policy one tool call needs for these arguments. Today the demo policy; a rule engine plugs in here."""


@dataclass(frozen=True)
class CheckedDecision:
    """A decision that fits its interrupt: what the graph is resumed with, and what the audit records."""

    name: str
    """approve | edit | reject | respond | mixed (several actions, different decisions) | answer (raw interrupt)"""
    types: frozenset[str]
    resume: Any
    edit_diff: list[dict]
    message: str
    edited: tuple[tuple[str, dict], ...] = ()
    """Each edited action as (tool, args): what will run instead of what was proposed."""


def checked_decision(review: ReviewRequest, raw: Any) -> CheckedDecision:
    """Validate `raw` for this interrupt (InvalidDecision with a readable reason otherwise)."""
    if review.request is None:
        try:
            resume = json.loads(json.dumps(raw))
        except (TypeError, ValueError) as error:
            raise InvalidDecision(f"The answer must be a JSON value ({error}).") from error
        check_answer(review, resume)
        return CheckedDecision("answer", frozenset({"answer"}), resume, [], "")
    response = parse_response(raw, review.request)
    resume = review.resume_value(response.model_dump(mode="json", exclude_none=True))
    if review.kind != "hitl":
        check_answer(review, resume)
    types = frozenset(d.type for d in response.decisions)
    return CheckedDecision(
        name=next(iter(types)) if len(types) == 1 else "mixed",
        types=types,
        resume=resume,
        edit_diff=edit_diff(review.request, response),
        message="\n".join(d.message for d in response.decisions if isinstance(d, Reject | Respond) and d.message),
        edited=tuple((d.edited_action.name, d.edited_action.args) for d in response.decisions if isinstance(d, Edit)),
    )


def required_policy(review: ReviewRequest, decision: CheckedDecision,
                    policy_for: PolicyFor = approval_policy) -> Policy:
    """What deciding this takes: the stricter of the proposed call's policy and the policy of what will run.

    An edit changes what runs, so it is judged again: a $25 self-approvable refund edited to $10000 needs a
    reviewer, exactly as if the agent had proposed $10000.
    """
    proposed: Policy = "reviewer" if review.policy not in ("none", "self") else review.policy  # type: ignore[assignment]
    return strictest([proposed, *(policy_for(tool, args) for tool, args in decision.edited)])


def clearance(review: ReviewRequest, actor: Actor) -> Policy:
    """The strictest policy `actor` satisfies for this request: "reviewer" for another reviewer, else "self"."""
    if actor.role == "system" or (actor.is_reviewer and actor.name != review.requested_by):
        return "reviewer"
    return "self"


def check_policy(review: ReviewRequest, decision: CheckedDecision, actor: Actor,
                 policy_for: PolicyFor = approval_policy) -> Policy:
    """Who may decide: the rules live here so no page (or script) can skip them. Returns the actor's clearance.

    The policy is the one the decision needs (`required_policy`), so an edit cannot lower what it takes.
    """
    granted = clearance(review, actor)
    if actor.role == "system":
        return granted
    own = actor.name == review.requested_by
    if required_policy(review, decision, policy_for) == "reviewer":
        if not actor.is_reviewer:
            raise NotAllowed("Only a reviewer can decide this request" + (" as edited." if decision.edited else "."))
        if own and decision.types != {"reject"}:
            raise NotAllowed("You cannot approve your own request; another reviewer must.")
    elif not own and not actor.is_reviewer:
        raise NotAllowed(f"Only {review.requested_by} or a reviewer can decide this request.")
    return granted


def edit_diff(request: HITLRequest, response: HITLResponse) -> list[dict]:
    """Per edited action, each changed argument as [before, after]."""
    diffs = []
    for action, decision in zip(request.action_requests, response.decisions, strict=True):
        if isinstance(decision, Edit):
            after = decision.edited_action.args
            keys = sorted(set(action.args) | set(after))
            changes = {k: [action.args.get(k), after.get(k)] for k in keys if action.args.get(k) != after.get(k)}
            diffs.append({"tool": action.name, "changes": changes})
    return diffs

