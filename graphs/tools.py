"""Demo tools with pydantic args, and the approval policy each one declares."""

from __future__ import annotations

import hashlib
from typing import Literal

from langchain_core.tools import BaseTool, tool
from pydantic import BaseModel, Field

Policy = Literal["none", "self", "reviewer"]
"""Who may approve: nobody needs to, the chat user themself, or a signed-in reviewer other than the requester."""

SELF_APPROVAL_LIMIT = 100.0
"""Refunds up to this amount may be approved by the person who asked for them."""


class RefundArgs(BaseModel):
    order_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$", description="Order number")
    amount: float = Field(gt=0, le=10_000, description="Amount to refund, in dollars")


class EmailArgs(BaseModel):
    to: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, description="Recipient address")
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000)


class CustomerArgs(BaseModel):
    customer_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$", description="Customer number")


class OrderArgs(BaseModel):
    order_id: str = Field(pattern=r"^[A-Za-z0-9-]{1,32}$", description="Order number")


def _reference(prefix: str, *parts: object) -> str:
    """A stable reference so the same call always reports the same id."""
    return prefix + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8].upper()


@tool(args_schema=RefundArgs)
def issue_refund(order_id: str, amount: float) -> str:
    """Refund money to the customer of an order."""
    return f"Refunded ${amount:.2f} on order {order_id} (refund {_reference('R-', order_id, amount)})."


@tool(args_schema=EmailArgs)
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email to a customer."""
    return f"Email sent to {to} with subject {subject!r} (message {_reference('M-', to, subject, body)})."


@tool(args_schema=CustomerArgs)
def delete_customer(customer_id: str) -> str:
    """Permanently delete a customer and their data."""
    return f"Customer {customer_id} deleted."


@tool(args_schema=OrderArgs)
def lookup_order(order_id: str) -> str:
    """Look up the status of an order (read-only)."""
    return f"Order {order_id}: shipped, arriving in 2 days."


TOOLS: list[BaseTool] = [issue_refund, send_email, delete_customer, lookup_order]
TOOLS_BY_NAME: dict[str, BaseTool] = {t.name: t for t in TOOLS}


def args_model(name: str) -> type[BaseModel]:
    """The pydantic model of one of our tools' arguments: each declares one (`args_schema=`); edits obey it."""
    schema = TOOLS_BY_NAME[name].args_schema
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"the tool {name!r} declares no pydantic model for its arguments")
    return schema


def args_json_schema(name: str) -> dict:
    """The JSON schema of a tool's arguments (what an edit must satisfy); {} for a tool this agent lacks."""
    return args_model(name).model_json_schema() if name in TOOLS_BY_NAME else {}


def approval_policy(name: str, args: dict) -> Policy:
    """The demo policy: small refunds are self-approved, anything else that changes the world needs a reviewer."""
    if name == "lookup_order":
        return "none"
    if name == "issue_refund" and _amount(args) <= SELF_APPROVAL_LIMIT:
        return "self"
    return "reviewer"


def _amount(args: dict) -> float:
    """The refund amount, or infinity when a model sent something unreadable (so a reviewer looks at it)."""
    try:
        return float(args["amount"])
    except (KeyError, TypeError, ValueError):
        return float("inf")


def strictest(policies: list[Policy]) -> Policy:
    """One request covers several calls; the strictest policy among them applies to all."""
    order: list[Policy] = ["none", "self", "reviewer"]
    return max(policies, key=order.index, default="none")
