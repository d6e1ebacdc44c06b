"""Demo tools with pydantic args, and which of them stop for a person (who decides is approvals.toml's)."""

from __future__ import annotations

import hashlib

from langchain_core.tools import BaseTool, tool
from pydantic import BaseModel, Field

from approvals.core.hitl import ArgsModels, Policy


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
APPROVAL_TOOLS = frozenset({"issue_refund", "send_email", "delete_customer"})
"""The calls that change the world, so the graph stops for a decision; `lookup_order` is read-only and runs."""


def args_model(name: str) -> type[BaseModel]:
    """The pydantic model of one of our tools' arguments: each declares one (`args_schema=`); edits obey it."""
    schema = TOOLS_BY_NAME[name].args_schema
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"the tool {name!r} declares no pydantic model for its arguments")
    return schema


ARGS_MODELS: ArgsModels = {name: args_model(name) for name in TOOLS_BY_NAME}
"""Our tools' argument models, handed to the core's HITL schema wherever an answer to our request is checked."""


def args_json_schema(name: str) -> dict:
    """The JSON schema of a tool's arguments (what an edit must satisfy); {} for a tool this agent lacks."""
    return args_model(name).model_json_schema() if name in TOOLS_BY_NAME else {}


def strictest(policies: list[Policy]) -> Policy:
    """One request covers several calls; the strictest policy among them applies to all."""
    order: list[Policy] = ["none", "self", "reviewer"]
    return max(policies, key=order.index, default="none")
