"""A small warehouse MCP server, written with the official `mcp` SDK, whose tools ask a person before they act.

- `purge_orders` asks for a confirmation form (MCP elicitation, form mode) and only purges when it is confirmed;
- `transfer_stock` asks two questions in one round: a manager's sign-off and the carrier;
- `connect_account` sends the person to a sign-in page (url mode) and connects when they say they are done.

The questions are resolvers (`Annotated[Model, Resolve(fn)]`, `fn` returning `Elicit(message, Model)`): on a
2026-07-28 connection the server answers the call with an `InputRequiredResult`, which `langchain.mcp` turns into
a LangGraph interrupt. What a tool did is a row in the `mcp_actions` table of the app's database, so anyone can
check that an answer reached the tool exactly as given, once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import (
    AcceptedElicitation,
    Context,
    Elicit,
    ElicitationResult,
    MCPServer,
    Resolve,
)
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ElicitRequest, ElicitRequestURLParams, InputRequiredResult
from pydantic import BaseModel, EmailStr, Field

from examples.app_database import app_database

SIGN_IN_URL = "https://accounts.example.com/oauth/authorize"
CANCELLED = "Cancelled by the reviewer: nothing was done."

server = MCPServer("warehouse")


# -- what the tools did --------------------------------------------------------------------------------------


async def record_action(tool: str, details: dict[str, Any]) -> None:
    """One row per action taken, with exactly what the person answered (on a worker thread: the database call
    blocks, and an async tool must not block its event loop)."""
    await asyncio.to_thread(_insert_action, tool, details)


def _insert_action(tool: str, details: dict[str, Any]) -> None:
    with app_database("CREATE TABLE IF NOT EXISTS mcp_actions (action_id TEXT PRIMARY KEY, tool TEXT NOT NULL,"
                      " details TEXT NOT NULL, done_at TEXT NOT NULL)") as (conn, p):
        conn.execute(f"INSERT INTO mcp_actions (action_id, tool, details, done_at) VALUES ({p}, {p}, {p}, {p})",
                     (uuid.uuid4().hex, tool, json.dumps(details, sort_keys=True), datetime.now(UTC).isoformat()))


def recorded_actions() -> list[tuple[str, dict[str, Any]]]:
    """(tool, details) of every action taken, oldest first."""
    with app_database("CREATE TABLE IF NOT EXISTS mcp_actions (action_id TEXT PRIMARY KEY, tool TEXT NOT NULL,"
                      " details TEXT NOT NULL, done_at TEXT NOT NULL)") as (conn, _):
        rows = conn.execute("SELECT tool, details FROM mcp_actions ORDER BY done_at").fetchall()
    return [(tool, json.loads(details)) for tool, details in rows]


# -- the questions -------------------------------------------------------------------------------------------


class PurgeConfirmation(BaseModel):
    """The form a reviewer fills before orders are deleted."""

    confirm: bool = Field(title="Confirm the purge", description="Nothing is deleted unless this is ticked.")
    reason: str = Field(title="Reason", description="Kept with the purge record.", min_length=3)
    keep_days: int = Field(30, title="Keep the last N days", ge=0, le=365)
    notify: EmailStr | None = Field(None, title="Notify", description="Who is told when it is done (optional).")


class ManagerSignOff(BaseModel):
    approved: bool = Field(title="Approved by the stock manager")
    max_units: int = Field(title="Most units to move", ge=1, le=500)


class CarrierChoice(BaseModel):
    carrier: Literal["road", "rail", "air"] = Field(
        "road", title="Carrier",
        json_schema_extra={"oneOf": [{"const": "road", "title": "Road (2 days)"},
                                     {"const": "rail", "title": "Rail (3 days)"},
                                     {"const": "air", "title": "Air (next day)"}]})


def ask_purge_confirmation(region: str) -> Elicit[PurgeConfirmation]:
    return Elicit(f"Delete every archived order in {region}? This cannot be undone.", PurgeConfirmation)


def ask_manager(sku: str, units: int, destination: str) -> Elicit[ManagerSignOff]:
    return Elicit(f"Move {units} units of {sku} to {destination}: does the stock manager approve?", ManagerSignOff)


def ask_carrier(destination: str) -> Elicit[CarrierChoice]:
    return Elicit(f"Which carrier takes the stock to {destination}?", CarrierChoice)


# -- the tools -----------------------------------------------------------------------------------------------


@server.tool()
async def purge_orders(
    region: str,
    answer: Annotated[ElicitationResult[PurgeConfirmation], Resolve(ask_purge_confirmation)],
) -> str:
    """Delete the archived orders of a region (asks a person to confirm first)."""
    if not isinstance(answer, AcceptedElicitation):
        if answer.action == "cancel":
            raise ToolError(CANCELLED)
        return f"Not purged: the reviewer declined to purge {region}."
    if not answer.data.confirm:
        return f"Not purged: the reviewer did not confirm the purge of {region}."
    await record_action("purge_orders", {"region": region, **answer.data.model_dump(mode="json")})
    return f"Purged the archived orders of {region}, keeping the last {answer.data.keep_days} days."


@server.tool()
async def transfer_stock(
    sku: str,
    units: int,
    destination: str,
    sign_off: Annotated[ManagerSignOff, Resolve(ask_manager)],
    carrier: Annotated[CarrierChoice, Resolve(ask_carrier)],
) -> str:
    """Move stock to another warehouse (asks the stock manager and for a carrier, in one round)."""
    if not sign_off.approved or units > sign_off.max_units:
        return f"Not moved: the stock manager did not approve {units} units of {sku}."
    await record_action("transfer_stock", {"sku": sku, "units": units, "destination": destination,
                                     **sign_off.model_dump(), **carrier.model_dump()})
    return f"Moving {units} units of {sku} to {destination} by {carrier.carrier}."


@server.tool()
async def connect_account(service: str, ctx: Context) -> str | InputRequiredResult:
    """Connect the warehouse to an outside account (a person signs in on the service's own page)."""
    answer = (ctx.input_responses or {}).get("sign_in")
    if answer is None:
        url = f"{SIGN_IN_URL}?service={service}"
        request = ElicitRequest(params=ElicitRequestURLParams(
            message=f"Sign in to {service} to let the warehouse use it, then come back and accept.",
            url=url, elicitation_id=uuid.uuid4().hex))
        return InputRequiredResult(input_requests={"sign_in": request})
    action = getattr(answer, "action", None)
    if action == "cancel":
        raise ToolError(CANCELLED)
    if action != "accept":
        return f"Not connected: the reviewer declined to sign in to {service}."
    await record_action("connect_account", {"service": service})
    return f"Connected {service}."
