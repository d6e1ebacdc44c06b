"""The HITL request and decision shapes (field names as in LangChain's HumanInTheLoopMiddleware).

`StandardHITLRequest` is exactly what the middleware emits (description and args_schema optional, no requester or
policy); `HITLRequest`, what our own graph emits and what the service hands to pages, is a superset of it.

Every graph's requests follow this schema, so it lives in the core; the demo agent's tools are not imported here:
whoever checks an answer passes the pydantic argument models of the app's own tools (`ArgsModels`, which
`graphs.tools.ARGS_MODELS` supplies), so an edit to one of them keeps its coerced values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Policy = Literal["none", "self", "reviewer"]
"""What a call needs: no one, the requester themself, or a reviewer other than the requester. The approval
policy's rules (approvals.toml) say which; the graph shows it on the request and re-checks it before a tool runs."""

PolicyFor = Callable[[str, dict, str], Policy]
"""What one call (tool, args, requester) needs: "self" or "reviewer", from the approval policy's rules."""

ArgsModels = Mapping[str, type[BaseModel]]
"""The app's own tools' argument models by tool name: an edit of one of them in our own request is checked (and
coerced, "20" to 20.0) by its model instead of the request's JSON Schema."""

DecisionType = Literal["approve", "edit", "reject", "respond"]


class ActionRequest(BaseModel):
    name: str
    args: dict[str, Any]
    description: str = ""
    tool_call_id: str | None = None
    """Set by our graph; the middleware's batched request has none."""


class ReviewConfig(BaseModel):
    action_name: str
    allowed_decisions: list[DecisionType] = ["approve", "edit", "reject"]
    args_schema: dict[str, Any] | None = None
    """JSON Schema for edited args; optional in the standard."""


class StandardHITLRequest(BaseModel):
    """LangChain's HITLRequest as HumanInTheLoopMiddleware emits it: actions and review configs, nothing else."""

    action_requests: list[ActionRequest] = Field(min_length=1)
    review_configs: list[ReviewConfig]


class HITLRequest(StandardHITLRequest):
    """What a reviewer must answer; stored on the AIMessage and used as the interrupt value.

    For a standard request the service fills the extra fields: requester from the thread's metadata (else
    "unknown"), the checkpoint's time, and policy "reviewer".
    """

    requested_by: str
    created_at: str
    policy: Policy = "reviewer"
    """A display hint only: the service decides who may approve from the approval policy."""


class FilledHITLRequest(HITLRequest):
    """Another graph's standard request, with requester, time and policy filled in by the app. Its tools are that
    graph's, even when one shares a name with ours, so edits are checked against its `args_schema` only."""


class EditedAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    args: dict[str, Any]


class Approve(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["approve"]


class Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["edit"]
    edited_action: EditedAction


class Reject(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["reject"]
    message: str | None = Field(None, min_length=1, max_length=4000)
    """Optional, as in the standard; when given it must say something."""


WITHDRAWN = "The requester ({requester}) withdrew this request"


def withdrawal_message(requester: str, tool: str) -> str:
    """What the agent is told when the requester takes their request back: a reject no reviewer made, so the
    agent (and the scripted model's summary) must not say a reviewer rejected it."""
    return f"{WITHDRAWN.format(requester=requester)}; {tool} did not run."


def is_withdrawal(message: str) -> bool:
    prefix, _, rest = WITHDRAWN.partition("{requester}")
    return message.startswith(prefix) and rest in message


class Respond(BaseModel):
    """Answer on the tool's behalf: the tool does not run, the message is its result."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["respond"]
    message: str = Field(min_length=1, max_length=4000)


Decision = Annotated[Approve | Edit | Reject | Respond, Field(discriminator="type")]


class HITLResponse(BaseModel):
    """The resume value: one decision per action request, in order."""

    model_config = ConfigDict(extra="forbid")
    decisions: list[Decision] = Field(min_length=1)


class InvalidDecision(ValueError):
    """A decision that does not fit its request; raised before anything is saved."""


# What a resume value is checked against: per action, its tool, the decisions it allows, and how edited args are
# checked: our tool's pydantic model, a JSON Schema as canonical JSON text, or None (any object).
ArgsCheck = type[BaseModel] | str | None
Shape = tuple[tuple[str, tuple[DecisionType, ...], ArgsCheck], ...]


def response_model(request: StandardHITLRequest, args_models: ArgsModels) -> type[HITLResponse]:
    """The resume schema for one request: shape, decision count, allowed types, and edited args per tool schema.

    Given to `interrupt(..., response_schema=...)`, so LangGraph rejects a bad resume value before saving
    anything; a check made after `interrupt()` returns would persist the bad value and wedge the approval.
    Our own tools (`args_models`, in our own request) keep their pydantic check (it coerces, e.g. "20" to 20.0);
    any other tool's edited args are checked against the request's `args_schema` when it has one.
    """
    configs = zip(request.action_requests, request.review_configs, strict=True)
    own = isinstance(request, HITLRequest) and not isinstance(request, FilledHITLRequest)
    return _response_model(tuple(
        (action.name, tuple(config.allowed_decisions), _args_check(action.name, config.args_schema, own, args_models))
        for action, config in configs
    ))


def _args_check(tool: str, args_schema: dict | None, own: bool, args_models: ArgsModels) -> ArgsCheck:
    if own and tool in args_models:
        return args_models[tool]
    return json.dumps(args_schema, sort_keys=True) if args_schema else None


@lru_cache(maxsize=256)
def _response_model(shape: Shape) -> type[HITLResponse]:
    """Cached per shape: building a pydantic model takes milliseconds, and every decision needs it twice."""

    class RequestResponse(HITLResponse):
        @model_validator(mode="after")
        def _fits_request(self) -> RequestResponse:
            self.decisions = _checked_decisions(shape, self.decisions)
            return self

    return RequestResponse


def _checked_decisions(shape: Shape, decisions: list[Decision]) -> list[Decision]:
    if len(decisions) != len(shape):
        raise ValueError(f"expected {len(shape)} decision(s), got {len(decisions)}")
    checked: list[Decision] = []
    for (tool, allowed, args_check), decision in zip(shape, decisions, strict=True):
        if decision.type not in allowed:
            raise ValueError(f"{decision.type!r} is not allowed for {tool}")
        checked.append(_checked_edit(tool, args_check, decision) if isinstance(decision, Edit) else decision)
    return checked


def _checked_edit(tool: str, args_check: ArgsCheck, decision: Edit) -> Edit:
    """Validate edited args (our tool's pydantic schema, else the request's JSON Schema); keep coerced values."""
    if decision.edited_action.name != tool:
        raise ValueError(f"an edit must keep the tool {tool!r}, not {decision.edited_action.name!r}")
    args = decision.edited_action.args
    if isinstance(args_check, type):
        try:
            args = args_check.model_validate(args).model_dump(mode="json")
        except ValidationError as error:
            raise ValueError(f"invalid args for {tool}: {describe(error)}") from error
    elif args_check is not None:
        check_json_schema(args, json.loads(args_check), f"invalid args for {tool}")
    return Edit(type="edit", edited_action=EditedAction(name=tool, args=args))


def check_json_schema(value: Any, schema: dict, context: str) -> None:
    """Raise ValueError naming every place `value` breaks `schema` (a schema that is itself broken, too)."""
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ValueError(f"{context}: the request's schema is not valid JSON Schema ({error.message})") from error
    problems = sorted(validator_class(schema).iter_errors(value), key=lambda e: list(e.absolute_path))
    if problems:
        raise ValueError(f"{context}: " + "; ".join(
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}" if e.absolute_path else e.message for e in problems
        ))


def describe(error: ValidationError) -> str:
    """One readable line per problem, for reviewers rather than developers."""
    lines = []
    for e in error.errors():
        message = e["msg"].removeprefix("Value error, ")
        lines.append(f"{'.'.join(map(str, e['loc']))}: {message}" if e["loc"] else message)
    return "; ".join(lines)


def parse_response(raw: Any, request: StandardHITLRequest, args_models: ArgsModels) -> HITLResponse:
    """Validate a raw resume value against `request` (our tools' edits by `args_models`), raising InvalidDecision
    with a readable message."""
    try:
        value = raw.model_dump() if isinstance(raw, BaseModel) else raw
        return response_model(request, args_models).model_validate(value)
    except ValidationError as error:
        raise InvalidDecision(describe(error)) from error
