"""Whether a decision fits the interrupt it answers, and whether the person making it may: no I/O, just rules."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from approvals.core.actors import Actor
from approvals.core.elicitation import answer_text, check_responses, decision_name
from approvals.core.errors import NotAllowed, NotInGroup
from approvals.core.hitl import (
    ArgsModels,
    Edit,
    HITLRequest,
    HITLResponse,
    InvalidDecision,
    Policy,
    Reject,
    Respond,
    check_json_schema,
    parse_response,
)
from approvals.core.policy import Policy as Rules
from approvals.core.policy import Verdict
from approvals.core.records import ReviewRequest

REFUSALS = frozenset({"reject", "decline", "cancel"})
"""Decisions that let nothing run: a requester may always withdraw so, and a denying rule allows only these."""


@dataclass(frozen=True)
class CheckedDecision:
    """A decision that fits its interrupt: what the graph is resumed with, and what the audit records."""

    name: str
    """approve | edit | reject | respond | mixed (several actions, different decisions) | answer (raw interrupt) |
    accept | decline | cancel (an MCP tool's questions; mixed when the answers differ)"""
    types: frozenset[str]
    resume: Any
    edit_diff: list[dict]
    message: str
    edited: tuple[tuple[str, dict], ...] = ()
    """Each edited action as (tool, args): what will run instead of what was proposed."""


def checked_decision(review: ReviewRequest, raw: Any, args_models: ArgsModels) -> CheckedDecision:
    """Validate `raw` for this interrupt (InvalidDecision with a readable reason otherwise); edits of our own
    tools by their pydantic models (`args_models`)."""
    if review.kind == "mcp_elicitation":
        resume = check_responses(review.elicitation, raw)
        actions = frozenset(answer["action"] for answer in resume["responses"].values())
        return CheckedDecision(decision_name(resume), actions, resume, [], answer_text(review.elicitation, resume))
    if review.request is None:
        try:
            resume = json.loads(json.dumps(raw))
        except (TypeError, ValueError) as error:
            raise InvalidDecision(f"The answer must be a JSON value ({error}).") from error
        check_answer(review, resume)
        return CheckedDecision("answer", frozenset({"answer"}), resume, [], "")
    response = parse_response(raw, review.request, args_models)
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


def check_policy(review: ReviewRequest, decision: CheckedDecision, actor: Actor, verdict: Verdict) -> Policy:
    """Whether `actor` may make `decision` under the policy's `verdict`, which judged the proposed call and what
    will run after any edit (the stricter wins). Returns the actor's clearance, which the graph re-checks."""
    granted = clearance(review, actor)
    if actor.role == "system":
        return granted
    own = actor.name == review.requested_by
    if verdict.requester_may_approve:
        if not own and not actor.is_reviewer:
            raise NotAllowed(f"Only {review.requested_by} or a reviewer can decide this request.")
        if not own and verdict.groups and not actor.groups & set(verdict.groups):
            raise NotInGroup(verdict.groups, verdict.rule)
        return granted
    if not actor.is_reviewer:
        raise NotAllowed("Only a reviewer can decide this request" + (" as edited." if decision.edited else "."))
    if own:
        if not decision.types <= REFUSALS:
            raise NotAllowed("You cannot approve your own request; another reviewer must.")
        return granted  # withdrawing one's own request is always allowed
    if verdict.groups and not actor.groups & set(verdict.groups):
        raise NotInGroup(verdict.groups, verdict.rule)
    if verdict.decide == "deny" and not decision.types <= REFUSALS:
        raise NotAllowed(f"The policy denies this request (rule {verdict.rule!r}); it can only be rejected.")
    return granted


def check_decider(requested_by: str, actor: Actor, verdict: Verdict) -> None:
    """Raise why `actor` cannot decide the item at all (NotAllowed, NotInGroup): a claim is only for those who can,
    so a requester looking at their own reviewer-only item holds nobody off."""
    if actor.role == "system" or (verdict.requester_may_approve and actor.name == requested_by):
        return
    if not actor.is_reviewer:
        raise NotAllowed("Only a reviewer can decide this request.")
    if actor.name == requested_by:
        raise NotAllowed("You cannot approve your own request; another reviewer must.")
    if verdict.groups and not actor.groups & set(verdict.groups):
        raise NotInGroup(verdict.groups, verdict.rule)


def clearance(review: ReviewRequest, actor: Actor) -> Policy:
    """The strictest policy `actor` satisfies for this request: "reviewer" for another reviewer, else "self"."""
    if actor.role == "system" or (actor.is_reviewer and actor.name != review.requested_by):
        return "reviewer"
    return "self"


def edited_actions(review: ReviewRequest, resume: Any) -> list[tuple[str, dict]]:
    """The (tool, args) a recorded resume value's edits run instead (an earlier approver's edit, read back)."""
    if review.kind in ("raw", "mcp_elicitation"):
        return []  # an answer (any JSON value, or an MCP form's content) edits no action
    decisions = [resume] if review.kind == "tool_approval" else (resume or {}).get("decisions", [])
    return [(d["edited_action"]["name"], d["edited_action"]["args"]) for d in decisions
            if isinstance(d, dict) and d.get("type") == "edit" and isinstance(d.get("edited_action"), dict)]


def review_verdict(policy: Rules, review: ReviewRequest, graph: str,
                   edited: Sequence[tuple[str, dict]] = ()) -> Verdict:
    """The policy's verdict on a request: its proposed actions and any edited ones, the strictest of them all."""
    return policy.verdict([*policy_actions(review), *edited], graph, review.requested_by)


def policy_actions(review: ReviewRequest) -> list[tuple[str, dict[str, Any]]]:
    """What the rules judge: each proposed call; for an MCP tool's questions the tool with each server message as
    `args.message` (and `args.mode`, `args.url`); a raw question its tool alone."""
    if review.request:
        return [(a.name, a.args) for a in review.request.action_requests]
    asked: list[tuple[str, dict[str, Any]]] = [(review.tool, {"message": r.message, "mode": r.mode, "url": r.url})
                                               for r in review.elicitation]
    return asked or [(review.tool, {})]


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


def check_answer(review: ReviewRequest, resume: Any) -> None:
    """Check a resume value against the interrupt's own response_schema (per-call and raw interrupts)."""
    if review.response_schema:
        try:
            check_json_schema(resume, review.response_schema, "The answer does not fit the interrupt's schema")
        except ValueError as error:
            raise InvalidDecision(str(error)) from error
