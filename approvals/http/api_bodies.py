"""Request bodies the decision route takes besides `{"decisions": [...]}`, for the OpenAPI document.

The route hands any body to the decision command, which checks it against the item; these models only describe
the shapes, so other clients can be written from the document.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, Field

DIGEST_FORM = re.compile(r"^[0-9a-fA-F]{64}$")
"""A request digest as the API hands it out: anything else is a malformed body (422), not a changed request."""
DIGEST_FIELD = Field(None, pattern=DIGEST_FORM.pattern, description=(
    "The `request_digest` of the item as you read it. When sent, a decision on a request that changed since "
    "is refused with 409 `request_changed` and nothing is saved. Optional, so older clients keep working; "
    "the console always sends it."))


class ElicitationAccept(BaseModel):
    action: Literal["accept"]
    content: dict[str, str | int | float | bool | list[str] | None] | None = Field(None, description=(
        "A form request's answer, valid against its `requested_schema` (422 otherwise); a url request takes none."))


class ElicitationDecline(BaseModel):
    action: Literal["decline"] = Field(description="Refuse to answer; the tool call goes on without it.")


class ElicitationCancel(BaseModel):
    action: Literal["cancel"] = Field(description="Abandon the tool call (the agent may ask again).")


class ElicitationBody(BaseModel):
    """The answer to an "mcp_elicitation" item: an MCP tool's server asked (value.requests), a person answers."""

    responses: dict[str, Annotated[ElicitationAccept | ElicitationDecline | ElicitationCancel,
                                   Field(discriminator="action")]] = Field(description=(
        "One answer per request of the item, keyed by the request's `key`; every request answered, no other key."))
    request_digest: str | None = DIGEST_FIELD
