"""Whether a decision fits the interrupt it answers, and whether the person making it may: no I/O, just rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from approvals.core.actors import Actor
from approvals.core.errors import NotAllowed
from approvals.core.interrupts import ReviewRequest, check_answer
from graphs.hitl import Edit, HITLRequest, HITLResponse, InvalidDecision, Reject, Respond, parse_response


@dataclass(frozen=True)
class CheckedDecision:
    """A decision that fits its interrupt: what the graph is resumed with, and what the audit records."""

    name: str
    """approve | edit | reject | respond | mixed (several actions, different decisions) | answer (raw interrupt)"""
    types: frozenset[str]
    resume: Any
    edit_diff: list[dict]
    message: str


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
    )


def check_policy(review: ReviewRequest, decision: CheckedDecision, actor: Actor) -> None:
    """Who may decide: the rules live here so no page (or script) can skip them."""
    if actor.role == "system":
        return
    own = actor.name == review.requested_by
    if review.policy == "reviewer":
        if not actor.is_reviewer:
            raise NotAllowed("Only a reviewer can decide this request.")
        if own and decision.types != {"reject"}:
            raise NotAllowed("You cannot approve your own request; another reviewer must.")
    elif not own and not actor.is_reviewer:
        raise NotAllowed(f"Only {review.requested_by} or a reviewer can decide this request.")


def edit_diff(request: HITLRequest, response: HITLResponse) -> list[dict]:
    """Per edited action, each changed argument as [before, after]."""
    diffs = []
    for action, decision in zip(request.action_requests, response.decisions):
        if isinstance(decision, Edit):
            after = decision.edited_action.args
            keys = sorted(set(action.args) | set(after))
            changes = {k: [action.args.get(k), after.get(k)] for k in keys if action.args.get(k) != after.get(k)}
            diffs.append({"tool": action.name, "changes": changes})
    return diffs

