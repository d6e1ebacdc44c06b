"""The HITL request and decision shapes (field names as in LangChain's HumanInTheLoopMiddleware)."""

from __future__ import annotations

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


def response_model(request: HITLRequest) -> type[HITLResponse]:
    """The resume schema for one request: shape, decision count, allowed types, and edited args per tool schema.

    Given to `interrupt(..., response_schema=...)`, so LangGraph rejects a bad resume value before saving
    anything; a check made after `interrupt()` returns would persist the bad value and wedge the approval.
    """

    class RequestResponse(HITLResponse):
        @model_validator(mode="after")
        def _fits_request(self) -> RequestResponse:
            self.decisions = _checked_decisions(request, self.decisions)
            return self

    return RequestResponse


def _checked_decisions(request: HITLRequest, decisions: list[Decision]) -> list[Decision]:
    actions = request.action_requests
    if len(decisions) != len(actions):
        raise ValueError(f"expected {len(actions)} decision(s), got {len(decisions)}")
    checked: list[Decision] = []
    for action, config, decision in zip(actions, request.review_configs, decisions):
        if decision.type not in config.allowed_decisions:
            raise ValueError(f"{decision.type!r} is not allowed for {action.name}")
        checked.append(_checked_edit(action, decision) if isinstance(decision, Edit) else decision)
    return checked


def _checked_edit(action: ActionRequest, decision: Edit) -> Edit:
    """Validate edited args with the tool's own pydantic schema and keep the coerced values."""
    if decision.edited_action.name != action.name:
        raise ValueError(f"an edit must keep the tool {action.name!r}, not {decision.edited_action.name!r}")
    schema = TOOLS_BY_NAME[action.name].args_schema
    try:
        args = schema.model_validate(decision.edited_action.args).model_dump(mode="json")
    except ValidationError as error:
        raise ValueError(f"invalid args for {action.name}: {describe(error)}") from error
    return Edit(type="edit", edited_action=EditedAction(name=action.name, args=args))


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
