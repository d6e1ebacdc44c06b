"""The HITL request and decision shapes (field names as in LangChain's HumanInTheLoopMiddleware)."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from graphs.tools import TOOLS_BY_NAME, Policy

DecisionType = Literal["approve", "edit", "reject"]


class ActionRequest(BaseModel):
    name: str
    args: dict[str, Any]
    description: str
    tool_call_id: str


class ReviewConfig(BaseModel):
    action_name: str
    allowed_decisions: list[DecisionType] = ["approve", "edit", "reject"]
    args_schema: dict[str, Any]


class HITLRequest(BaseModel):
    """What a reviewer must answer; stored on the AIMessage and used as the interrupt value."""

    action_requests: list[ActionRequest]
    review_configs: list[ReviewConfig]
    requested_by: str
    created_at: str
    policy: Policy


class EditedAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    args: dict[str, Any]

    @field_validator("name")
    @classmethod
    def _known_tool(cls, name: str) -> str:
        if name not in TOOLS_BY_NAME:
            raise ValueError(f"unknown tool {name!r}")
        return name


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
    message: str = Field(min_length=1, max_length=4000)


Decision = Annotated[Approve | Edit | Reject, Field(discriminator="type")]


class HITLResponse(BaseModel):
    """The resume value: one decision per action request, in order."""

    model_config = ConfigDict(extra="forbid")
    decisions: list[Decision] = Field(min_length=1)


class InvalidDecision(ValueError):
    """A decision that does not fit its request; raised before anything is saved."""


# What a resume value is checked against: per action, its tool and the decisions it allows.
Shape = tuple[tuple[str, tuple[DecisionType, ...]], ...]


def response_model(request: HITLRequest) -> type[HITLResponse]:
    """The resume schema for one request: shape, decision count, allowed types, and edited args per tool schema.

    Given to `interrupt(..., response_schema=...)`, so LangGraph rejects a bad resume value before saving
    anything; a check made after `interrupt()` returns would persist the bad value and wedge the approval.
    """
    configs = zip(request.action_requests, request.review_configs, strict=True)
    return _response_model(tuple((action.name, tuple(config.allowed_decisions)) for action, config in configs))


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
    for (tool, allowed), decision in zip(shape, decisions, strict=True):
        if decision.type not in allowed:
            raise ValueError(f"{decision.type!r} is not allowed for {tool}")
        checked.append(_checked_edit(tool, decision) if isinstance(decision, Edit) else decision)
    return checked


def _checked_edit(tool: str, decision: Edit) -> Edit:
    """Validate edited args with the tool's own pydantic schema and keep the coerced values."""
    if decision.edited_action.name != tool:
        raise ValueError(f"an edit must keep the tool {tool!r}, not {decision.edited_action.name!r}")
    schema = TOOLS_BY_NAME[tool].args_schema
    try:
        args = schema.model_validate(decision.edited_action.args).model_dump(mode="json")
    except ValidationError as error:
        raise ValueError(f"invalid args for {tool}: {describe(error)}") from error
    return Edit(type="edit", edited_action=EditedAction(name=tool, args=args))


def describe(error: ValidationError) -> str:
    """One readable line per problem, for reviewers rather than developers."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" if e["loc"] else e["msg"].removeprefix("Value error, ")
        for e in error.errors()
    )


def parse_response(raw: Any, request: HITLRequest) -> HITLResponse:
    """Validate a raw resume value against `request`, raising InvalidDecision with a readable message."""
    try:
        return response_model(request).model_validate(raw.model_dump() if isinstance(raw, BaseModel) else raw)
    except ValidationError as error:
        raise InvalidDecision(describe(error)) from error
